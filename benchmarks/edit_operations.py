"""Time of each edit operation on a 200k-triangle made model (issue 18's target: 3 s each).

Each row is one instruction through :func:`fabricate.edit.edit_model`: parsing, the
operation, validation (repair if needed), placement, filaments and settings; the write
(with its history part) is timed separately. Prints a Markdown table.

    python benchmarks/edit_operations.py [--sample hamburger] [--triangles 200000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabricate.edit import edit_model, load_model, write_model  # noqa: E402
from fabricate.errors import FabricateError  # noqa: E402
from fabricate.mesh import validate_mesh  # noqa: E402
from fabricate.pipeline import MakeOptions, make_model, write_outputs  # noqa: E402

PRINTER = "bambu-a1"
INSTRUCTIONS = [
    "scale to 80%", "make it 20% taller", "make it 50 mm tall", "flatten the base by 2 mm", "add a 3 mm round plinth",
    "add a box plinth", "make filament 2 red", "merge filament 3 into filament 1", "mirror it", "rotate it 30 degrees",
    "lay it flat", "add a 5 mm keyring hole", "add a vertical hole of 6 mm", "simplify to 50000 triangles",
    "smooth it", "thicken walls to at least 2 mm", "hollow it with 2 mm walls", 'emboss "FAB" on the back',
    'engrave "FAB" on the base',
]
#: Issue 18's targets, seconds per edit: hollowing has its own.
TARGET_S = {"hollow it with 2 mm walls": 15.0}
DEFAULT_TARGET_S = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", default="hamburger")
    parser.add_argument("--triangles", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        made = Path(folder) / "made.3mf"
        result = make_model(str(ROOT / "samples" / f"{args.sample}.png"),
                            MakeOptions(printer=PRINTER, resolution=512, max_triangles=args.triangles, height_mm=60))
        write_outputs(result, made, report_json=False)
        model = load_model(made, PRINTER)
        print(f"{args.sample}: {len(model.mesh.faces):,} triangles\n")
        # The baseline, measured in the same run: validate_mesh alone on the unedited model (every
        # edit runs it once, twice when it repairs), so each row shows how much of it is validation.
        start = time.perf_counter()
        validate_mesh(model.mesh)
        baseline = time.perf_counter() - start
        print(f"validate_mesh alone on the unedited model: {baseline:.2f} s (cores shared with other work)\n")
        print("| instruction | edit s | edit / validate_mesh alone | write s | triangles after | target s | met |")
        print("|---|---|---|---|---|---|---|")
        for text in INSTRUCTIONS:
            try:
                start = time.perf_counter()
                edited = edit_model(model, text)
                middle = time.perf_counter()
            except FabricateError as exc:
                print(f"| {text} | refused: {exc} | | | | | |")
                continue
            write_model(edited, Path(folder) / "edited.3mf")
            end = time.perf_counter()
            target = TARGET_S.get(text, DEFAULT_TARGET_S)
            print(f"| {text} | {middle - start:.2f} | {(middle - start) / baseline:.1f} | {end - middle:.2f} | "
                  f"{len(edited.model.mesh.faces):,} | {target:g} | {'yes' if middle - start <= target else 'no'} |")


if __name__ == "__main__":
    main()
