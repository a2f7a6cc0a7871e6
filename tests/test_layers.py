"""No module imports from a stage above its own: data flows one way through the pipeline."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "fabricate"
#: Each top-level module or package of fabricate and its level; a module may import its own level or below.
LEVELS = {
    # The bottom: shared by every stage, importing none of them.
    "__init__": 0, "errors": 0, "schema": 0, "atomic": 0, "progress": 0, "render": 0, "sampling": 0, "manifold": 0,
    "devices": 0, "rays": 0, "compiled": 0,
    # The stages, in the order data flows.
    "image": 1, "reconstruct": 2, "mesh": 3, "color": 4, "printing": 5, "export": 6, "hub": 7,
    # What drives the stages.
    "options": 8, "pipeline": 9, "edit": 9, "evaluate": 10, "jobs": 10, "cli": 11,
}


def unit_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_units(tree: ast.AST) -> set:
    """Every fabricate unit imported anywhere in the module, function-level imports included."""
    units = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "fabricate"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "fabricate" and len(parts) > 1 and parts[1] in LEVELS:
                units.add(parts[1])
    return units


def test_every_unit_has_a_level():
    units = {unit_of(p) for p in PACKAGE.rglob("*.py")}
    assert units <= set(LEVELS), units - set(LEVELS)


def test_no_module_imports_from_a_stage_above_it():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = unit_of(path)
        for unit in imported_units(ast.parse(path.read_text())):
            if LEVELS[unit] > LEVELS[own]:
                upward.append(f"{path.relative_to(PACKAGE)} imports fabricate.{unit}")
    assert not upward, "\n".join(upward)
