"""The edit operations: a fixed vocabulary of typed changes to a placed, coloured solid.

Each operation is declared once in :data:`OPERATIONS` with its parameters (type, range,
choices, default, unit); the parser's output, a language model's tool calls and a stored
history are all checked against those declarations by :func:`checked_operation` before
anything runs, and the JSON schema the language model sees is generated from them. No
text is ever executed: an operation is a name from this table plus checked numbers and words.

Every function takes the mesh in millimetres and returns a new one. Shapes change through
manifold3d booleans and plane cuts (their output is a manifold) or through linear maps of
the vertices (a manifold stays one); the caller then validates, places and colours the
result exactly as ``make`` does (fabricate/edit/api.py).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from fabricate.color.lab import parse_hex_colours, srgb_to_lab
from fabricate.errors import BadOption, MeshError
from fabricate.export.plate import nearest_face_colours, nearest_triangle_colours
from fabricate.manifold import as_manifold
from fabricate.mesh.coloured_mesh import ColouredMesh, distinct_colours
from fabricate.schema import OptionField, Spec, check_value

#: The axes in a maker's words: width is left-right (x), depth front-back (y), height up (z).
AXES = {"width": 0, "depth": 1, "height": 2}
#: Segments of every round cutter and plinth: a 96-gon's inscribed radius is within 0.06 % of
#: the circle's, so a 10 mm hole is round to 0.006 mm.
CIRCLE_SEGMENTS = 96
#: A plinth reaches this far up into the model so the union is one solid, not two touching ones.
PLINTH_OVERLAP_MM = 0.2
#: Longest edge of an added solid's triangles (plinths, hole cutters): a few long triangles spanning
#: the model make the self-intersection check that follows (validate_mesh) compare each of them
#: with every triangle of the model (a box plinth on 194k triangles: 100 s instead of 4).
LONGEST_ADDED_EDGE_MM = 4.0
#: Material kept above a hole at the top (a keyring loop must not tear out).
HOLE_TOP_WALL_MM = 2.0
#: Places tried, one radius lower each, for a hole near the top.
HOLE_TOP_TRIES = 8
#: "a keyring hole" without a size: fits a split ring's wire and a lanyard.
KEYRING_HOLE_MM = 4.0
#: Taubin smoothing (Taubin 1995): a shrinking step then an inflating one per pass, so the
#: surface loses its bumps and not its size; the pass band these give is the usual one.
TAUBIN_SHRINK, TAUBIN_INFLATE = 0.5, -0.53
#: Vertices this close to the lowest point are the bed contact; smoothing leaves them where they are.
BASE_CONTACT_MM = 0.01
#: Text: any printable characters (none of the control ones), one line.
TEXT_PATTERN = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,40}$")
#: Colours the source of a recolour may name: "all", a filament number (1 = the largest
#: area, as `make` numbers them) or a colour, matched to the model's nearest in CIELAB.
COLOUR_SOURCE = re.compile(r"^(all|[1-9][0-9]?|#[0-9A-Fa-f]{6})$")
HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")

REQUIRED = object()


@dataclass(frozen=True)
class Parameter:
    """One parameter of an operation: what it is, its type and what values it takes."""

    name: str
    kind: type
    help: str
    default: object = REQUIRED
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: Optional[tuple] = None
    pattern: Optional[re.Pattern] = None
    unit: str = ""

    def check(self, operation: str, value):
        """The value converted to the declared type, or BadOption saying what is wrong.

        Types, ranges and choices are checked as every job option is (fabricate.schema);
        the pattern of a colour or colour source is this table's own.
        """
        spec = Spec(self.help, choices=self.choices, unit=self.unit or None, minimum=self.minimum,
                    maximum=self.maximum)
        try:
            value = check_value(OptionField(self.name, self.kind, None, False, spec), value)
        except BadOption as exc:
            raise BadOption(f"{operation}: {exc}") from None
        if self.pattern is not None and not self.pattern.match(value):
            raise BadOption(f"{operation}: {self.name} {value!r} is not {self.help.lower()}")
        return value

    def json_schema(self) -> dict:
        schema = {"type": {str: "string", int: "integer", float: "number"}[self.kind],
                  "description": self.help + (f" ({self.unit})" if self.unit else "")}
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.pattern is not None:
            schema["pattern"] = self.pattern.pattern
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True)
class OperationSpec:
    """An operation: its name, what it does, its parameters and the function doing it."""

    name: str
    help: str
    example: str
    parameters: tuple
    apply: Callable
    describe: Callable

    def json_schema(self) -> dict:
        """The operation as an OpenAI-style tool (function name, description, parameters)."""
        return {"type": "function", "function": {
            "name": self.name, "description": f"{self.help} Example: \"{self.example}\".",
            "parameters": {"type": "object", "additionalProperties": False,
                           "properties": {p.name: p.json_schema() for p in self.parameters},
                           "required": [p.name for p in self.parameters if p.default is REQUIRED]}}}


@dataclass
class Operation:
    """One checked edit: an operation's name and its parameters (every one present, typed)."""

    name: str
    parameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"operation": self.name, "parameters": dict(self.parameters)}

    def describe(self) -> str:
        return OPERATIONS[self.name].describe(self.parameters)

    def apply(self, mesh: ColouredMesh) -> ColouredMesh:
        return OPERATIONS[self.name].apply(mesh, **self.parameters)


def checked_operation(name, parameters: dict) -> Operation:
    """An :class:`Operation` from an untrusted name and parameters (parser, language model, stored history).

    Raises BadOption for an unknown operation, an unknown or missing parameter, or a value
    of the wrong type or out of range.
    """
    spec = OPERATIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise BadOption(f"unknown edit operation {name!r}; the operations are {', '.join(OPERATIONS)}")
    if not isinstance(parameters, dict):
        raise BadOption(f"{name}: parameters must be an object, got {parameters!r}")
    known = {p.name for p in spec.parameters}
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise BadOption(f"{name} has no parameter {', '.join(unknown)}; it takes {', '.join(sorted(known)) or 'none'}")
    values = {}
    for p in spec.parameters:
        if p.name in parameters:
            values[p.name] = p.check(name, parameters[p.name])
        elif p.default is REQUIRED:
            raise BadOption(f"{name} needs {p.name} ({p.help.lower()})")
        else:
            values[p.name] = p.default
    return Operation(name, values)


def capabilities() -> str:
    """What the edits can do, one example each (the answer to anything not understood)."""
    return "; ".join(f"{spec.help.rstrip('.').lower()} (\"{spec.example}\")" for spec in OPERATIONS.values())


# --- shared geometry ----------------------------------------------------------------------

def _solid(mesh: ColouredMesh):
    """The model as a manifold3d solid whose triangles it tracks through every boolean (its own
    id, and each triangle's index as its face id: see :func:`_mesh_of`)."""
    solid = as_manifold(mesh.vertices, mesh.faces, track_faces=True)
    if solid.status().name != "NoError":
        raise MeshError(f"the model is not a valid solid for editing ({solid.status().name}); "
                        "run `fabricate check --repair` first")
    return solid


#: A new wall's triangle (a hole's, a cut's) takes the colour of a model triangle at most this
#: share farther than the nearest: deep inside the model the exact search was the slow part of an
#: edit (0.36 s per 3,000 triangles of a hole's wall; 0.12 s at 0.5, 99.4 % the same colours).
NEW_WALL_SEARCH_EPS = 0.5


def _mesh_of(solid, coloured_like: ColouredMesh, model=None) -> ColouredMesh:
    """A manifold3d result as a mesh, each triangle coloured as the nearest triangle of the model
    before the change (kept triangles keep their colour exactly; cut walls and caps take their
    neighbours').

    ``model`` is the solid :func:`_solid` made of the model before the change: its triangles
    that survive, split ones too, are then recognised by manifold3d's ids and keep their exact
    colour without a search (``coloured_like``'s first triangles must be the model's), and only
    the triangles the edit added look for a near one.
    """
    if solid.is_empty():
        raise BadOption("the edit would leave nothing of the model")
    out = solid.to_mesh()
    vertices = np.array(out.vert_properties, np.float64)[:, :3]
    faces = np.array(out.tri_verts, np.int64)
    mesh = ColouredMesh(vertices, faces, metadata=dict(coloured_like.metadata))
    if model is None or coloured_like.face_colours is None or not len(faces):
        return nearest_face_colours(coloured_like, mesh)
    kept = np.zeros(len(faces), bool)
    starts = np.asarray(out.run_index, np.int64) // 3  # run_index counts triangle corners
    # manifold3d's id of the model (original_id() answers -1 for a solid not made as_original)
    model_id = int(np.asarray(model.to_mesh().run_original_id)[0])
    for run, original in enumerate(np.asarray(out.run_original_id)):
        if original == model_id:
            kept[starts[run]:starts[run + 1]] = True
    colours = np.empty((len(faces), coloured_like.face_colours.shape[1]), coloured_like.face_colours.dtype)
    colours[kept] = coloured_like.face_colours[np.asarray(out.face_id, np.int64)[kept]]
    if not kept.all():
        colours[~kept] = nearest_triangle_colours(coloured_like, vertices[faces[~kept]].mean(axis=1),
                                                  eps=NEW_WALL_SEARCH_EPS)
    return mesh.copy(face_colours=colours)


def _linear(mesh: ColouredMesh, matrix: np.ndarray) -> ColouredMesh:
    """The mesh under a linear map; a map that mirrors reverses the triangles so they still face out."""
    faces = mesh.faces if np.linalg.det(matrix) > 0 else mesh.faces[:, ::-1].copy()
    return mesh.copy(vertices=mesh.vertices @ np.asarray(matrix, np.float64).T, faces=faces, vertex_colours=None)


def area_ordered_colours(mesh: ColouredMesh):
    """The model's distinct colours, largest area first (filament 1, 2, ... as `make` numbers them),
    each triangle's index into them, and each colour's area."""
    tri = mesh.vertices[mesh.faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
    colours, inverse = distinct_colours(mesh.face_colours)
    areas = np.bincount(inverse, area, minlength=len(colours))
    order = np.argsort(-areas, kind="stable")
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return colours[order], rank[inverse], areas[order]


def _faces_of(mesh: ColouredMesh, source: str) -> np.ndarray:
    """Which triangles a colour source names (see :data:`COLOUR_SOURCE`)."""
    if mesh.face_colours is None or source == "all":
        return np.ones(len(mesh.faces), bool)
    colours, index, _ = area_ordered_colours(mesh)
    if source.startswith("#"):
        wanted = srgb_to_lab(parse_hex_colours(source))[0]
        chosen = int(np.argmin(((srgb_to_lab(colours) - wanted) ** 2).sum(axis=1)))
    else:
        chosen = int(source) - 1
        if chosen >= len(colours):
            raise BadOption(f"the model has {len(colours)} colours; there is no filament {source}")
    return index == chosen


def _cylinder(length: float, diameter: float, axis: int, centre) -> object:
    """A manifold3d cylinder of ``length`` along ``axis`` centred on ``centre``."""
    import manifold3d

    radius = diameter / 2
    cylinder = manifold3d.Manifold.cylinder(length, radius, radius, CIRCLE_SEGMENTS).translate([0, 0, -length / 2])
    turn = {0: [0, 90, 0], 1: [90, 0, 0], 2: [0, 0, 0]}[axis]
    return cylinder.rotate(turn).translate(list(map(float, centre))).refine_to_length(LONGEST_ADDED_EDGE_MM)


# --- the operations -----------------------------------------------------------------------

def scale(mesh: ColouredMesh, factor: float) -> ColouredMesh:
    return _linear(mesh, np.eye(3) * factor)


def resize(mesh: ColouredMesh, dimension: str, size_mm: float) -> ColouredMesh:
    """Scale evenly so the model's ``dimension`` becomes ``size_mm`` (proportions kept)."""
    return scale(mesh, size_mm / float(mesh.extents[AXES[dimension]]))


def stretch(mesh: ColouredMesh, dimension: str, factor: float = 1.0, by_mm: float = 0.0) -> ColouredMesh:
    """Change one dimension only: times ``factor``, plus ``by_mm`` (proportions change)."""
    axis = AXES[dimension]
    size = float(mesh.extents[axis])
    wanted = size * factor + by_mm
    if wanted <= 0:
        raise BadOption(f"the {dimension} would be {wanted:.1f} mm; it is {size:.1f} mm now")
    matrix = np.eye(3)
    matrix[axis, axis] = wanted / size
    return _linear(mesh, matrix)


def flatten_base(mesh: ColouredMesh, cut_mm: float) -> ColouredMesh:
    """Cut ``cut_mm`` off the bottom with a plane, so the model stands on the flat section."""
    from fabricate.printing.fit import cut_flat_base

    if cut_mm >= float(mesh.extents[2]):
        raise BadOption(f"cannot cut {cut_mm:g} mm off a model {float(mesh.extents[2]):.1f} mm tall")
    # The cut is the same as make's flat base; it keeps vertex colours only, so the model's
    # triangle colours are put back from the uncut model.
    return nearest_face_colours(mesh, cut_flat_base(mesh.copy(vertex_colours=None), cut_mm))


def plinth(mesh: ColouredMesh, shape: str = "disc", height_mm: float = 3.0, margin_mm: float = 3.0,
           colour: str = "") -> ColouredMesh:
    """Stand the model on a disc or box ``height_mm`` thick reaching ``margin_mm`` beyond its footprint."""
    import manifold3d

    lo, hi = mesh.bounds
    centre = (lo[:2] + hi[:2]) / 2
    top = float(lo[2]) + PLINTH_OVERLAP_MM
    thickness = height_mm + PLINTH_OVERLAP_MM
    if shape == "disc":
        radius = float(np.max(np.linalg.norm(mesh.vertices[:, :2] - centre, axis=1))) + margin_mm
        base = manifold3d.Manifold.cylinder(thickness, radius, radius, CIRCLE_SEGMENTS * 2)
        base = base.translate([float(centre[0]), float(centre[1]), top - thickness])
    else:
        size = (hi[:2] - lo[:2]) + 2 * margin_mm
        base = manifold3d.Manifold.cube([float(size[0]), float(size[1]), thickness])
        base = base.translate([float(lo[0]) - margin_mm, float(lo[1]) - margin_mm, top - thickness])
    base = base.refine_to_length(LONGEST_ADDED_EDGE_MM)
    # The plinth's own triangles take one colour: the asked one, else the model's main colour, so
    # the plinth prints in one filament.
    coloured_like = mesh
    if mesh.face_colours is not None:
        fill = parse_hex_colours(colour)[0] if colour else area_ordered_colours(mesh)[0][0]
        # The result's colours are looked up in the model plus the plinth in its colour: every
        # result triangle then lies next to one (looking up triangles far from all of the model's,
        # as the plinth's are, took half of this edit on 194k triangles).
        own = base.to_mesh()
        own_faces = np.array(own.tri_verts, np.int64) + len(mesh.vertices)
        coloured_like = ColouredMesh(
            np.vstack([mesh.vertices, np.array(own.vert_properties, np.float64)[:, :3]]),
            np.vstack([mesh.faces, own_faces]), None,
            np.vstack([mesh.face_colours, np.tile(fill.astype(mesh.face_colours.dtype), (len(own_faces), 1))]),
            dict(mesh.metadata))
    model = _solid(mesh)
    joined = _mesh_of(model + base, coloured_like, model)
    # Those all below the model's old bottom take the plinth's colour whatever lay nearest.
    below = joined.vertices[joined.faces].mean(axis=1)[:, 2] < float(lo[2]) - 1e-6
    if joined.face_colours is not None:
        colours = joined.face_colours.copy()
        colours[below] = fill
        joined = joined.copy(face_colours=colours)
    return joined


def recolour(mesh: ColouredMesh, source: str, colour: str) -> ColouredMesh:
    """Give the triangles of one colour (or all of them) another colour."""
    colours = (mesh.face_colours if mesh.face_colours is not None
               else np.full((len(mesh.faces), 3), 200, np.uint8)).copy()
    colours[_faces_of(mesh, source)] = parse_hex_colours(colour)[0]
    return mesh.copy(face_colours=colours)


def merge_colours(mesh: ColouredMesh, source: str, into: str) -> ColouredMesh:
    """The triangles of colour ``source`` take colour ``into`` (one filament fewer)."""
    if mesh.face_colours is None:
        raise BadOption("the model has no colours to merge")
    target = _faces_of(mesh, into)
    if not target.any():
        raise BadOption(f"the model has no colour {into}")
    chosen = mesh.face_colours[np.argmax(target)]
    colours = mesh.face_colours.copy()
    colours[_faces_of(mesh, source)] = chosen
    return mesh.copy(face_colours=colours)


def mirror(mesh: ColouredMesh, dimension: str = "width") -> ColouredMesh:
    matrix = np.eye(3)
    matrix[AXES[dimension], AXES[dimension]] = -1
    return _linear(mesh, matrix)


def rotate(mesh: ColouredMesh, degrees: float, dimension: str = "height") -> ColouredMesh:
    """Turn about an axis: "height" turns it on the bed, "width" tips it forward, "depth" sideways."""
    from scipy.spatial.transform import Rotation

    axis = np.zeros(3)
    axis[AXES[dimension]] = 1.0
    return _linear(mesh, Rotation.from_rotvec(np.radians(degrees) * axis).as_matrix())


def lay_flat(mesh: ColouredMesh) -> ColouredMesh:
    """Rest the model on its most stable face (the pose `make --orientation stable` picks)."""
    from fabricate.printing.stable_pose import rotation_to_floor, stable_poses

    normals, _ = stable_poses(mesh.vertices, mesh.faces)
    return _linear(mesh, rotation_to_floor(normals[0]))


def hole(mesh: ColouredMesh, diameter_mm: float, dimension: str = "depth", position: str = "top") -> ColouredMesh:
    """Drill a round hole right through along ``dimension``: near the top (a keyring loop) or at the centre.

    A hole goes through when the solid gains a handle (its genus rises); near the top it is
    tried below the highest point, then lower, one radius at a time, until it does.
    """
    axis = AXES[dimension]
    if position == "top" and axis == 2:
        raise BadOption("a hole from the top down goes through the centre; say \"a vertical hole through the centre\"")
    if diameter_mm >= float(np.min(np.delete(mesh.extents, axis))):
        raise BadOption(f"a {diameter_mm:g} mm hole is wider than the model across it")
    solid = _solid(mesh)
    lo, hi = mesh.bounds
    centre = (lo + hi) / 2
    places = [centre]
    if position == "top":
        across = 1 - axis  # the horizontal axis across the hole
        highest = mesh.vertices[np.argmax(mesh.vertices[:, 2])]
        places = []
        for x in dict.fromkeys([float(highest[across]), float(centre[across])]):
            for step in range(HOLE_TOP_TRIES):
                place = centre.copy()
                place[across] = x
                place[2] = float(hi[2]) - diameter_mm / 2 - HOLE_TOP_WALL_MM - step * diameter_mm / 2
                places.append(place)
    for place in places:
        drilled = solid - _cylinder(float(mesh.extents[axis]) + 20.0, diameter_mm, axis, place)
        if drilled.genus() > solid.genus():
            return _mesh_of(drilled, mesh, solid)
    raise BadOption(f"a {diameter_mm:g} mm hole along the {dimension} at the {position} would not go through "
                    "the model; try another place or size")


def simplify(mesh: ColouredMesh, triangles: int) -> ColouredMesh:
    """Fewer triangles (quadric decimation kept closed, as make's triangle budget)."""
    from fabricate.mesh.simplify import simplify_mesh

    if triangles >= len(mesh.faces):
        raise BadOption(f"the model has {len(mesh.faces)} triangles already, not more than {triangles}")
    return nearest_face_colours(mesh, simplify_mesh(mesh.copy(vertex_colours=None), triangles))


def smooth(mesh: ColouredMesh, passes: int) -> ColouredMesh:
    """Smooth the surface by ``passes`` Taubin passes; then scale back to the volume it had.

    The bed contact stays put (its vertices do not move, and the volume is restored by scaling
    about the base), so a flat bottom stays flat and at the same height.
    """
    from scipy import sparse

    vertices = np.asarray(mesh.vertices, np.float64).copy()
    edges = np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]])
    n = len(vertices)
    adjacency = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    average = sparse.diags(1.0 / np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1)) @ adjacency
    bottom = float(vertices[:, 2].min())
    moving = (vertices[:, 2] > bottom + BASE_CONTACT_MM)[:, None]
    volume_before = _volume(vertices, mesh.faces)
    for _ in range(passes):
        for weight in (TAUBIN_SHRINK, TAUBIN_INFLATE):
            vertices += weight * (average @ vertices - vertices) * moving
    factor = (volume_before / _volume(vertices, mesh.faces)) ** (1 / 3)
    centre = np.array([*vertices[:, :2].mean(axis=0), bottom])
    vertices = centre + (vertices - centre) * factor
    return mesh.copy(vertices=vertices, vertex_colours=None)


def _volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    tri = vertices[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6)


def hollow(mesh: ColouredMesh, wall_mm: float, drain_mm: float, drains: int) -> ColouredMesh:
    from fabricate.edit.volume import hollow as run

    return run(mesh, wall_mm, drain_mm, drains)


def thicken(mesh: ColouredMesh, min_wall_mm: float) -> ColouredMesh:
    from fabricate.edit.volume import thicken as run

    return run(mesh, min_wall_mm)


def text(mesh: ColouredMesh, text: str, mode: str, side: str, size_mm: float, depth_mm: float) -> ColouredMesh:
    from fabricate.edit.text import place_text

    return place_text(mesh, text, side, mode, size_mm, depth_mm)


# --- the table ----------------------------------------------------------------------------

def _dimension(default="height", help_text="Which dimension: width (left-right), depth (front-back) or height"):
    return Parameter("dimension", str, help_text, default, choices=tuple(AXES))


_COLOUR_SOURCE_HELP = "Which triangles: all, a filament number (1 = largest area) or a colour #RRGGBB to match"

OPERATIONS = {spec.name: spec for spec in [
    OperationSpec("scale", "Scale the whole model evenly.", "make it 20% bigger",
                  (Parameter("factor", float, "Scale factor (1.2 = 20 % larger)", minimum=0.01, maximum=100.0),),
                  scale, lambda p: f"scale x{p['factor']:.3g}"),
    OperationSpec("resize", "Scale evenly to a given height, width or depth.", "make it 120 mm tall",
                  (_dimension(), Parameter("size_mm", float, "Wanted size", minimum=0.1, maximum=2000.0, unit="mm")),
                  resize, lambda p: f"{p['dimension']} to {p['size_mm']:g} mm (proportions kept)"),
    OperationSpec("stretch", "Change one dimension only (taller, wider, slimmer).", "make it 20% taller",
                  (_dimension(), Parameter("factor", float, "Factor on that dimension", 1.0, 0.05, 20.0),
                   Parameter("by_mm", float, "Millimetres added (negative: removed)", 0.0, -2000.0, 2000.0, unit="mm")),
                  stretch, lambda p: f"{p['dimension']} x{p['factor']:.3g}" +
                  (f" {p['by_mm']:+g} mm" if p["by_mm"] else "")),
    OperationSpec("flatten_base", "Cut the bottom flat.", "flatten the base by 2 mm",
                  (Parameter("cut_mm", float, "Height cut off the bottom", 1.0, 0.01, 500.0, unit="mm"),),
                  flatten_base, lambda p: f"flat base: {p['cut_mm']:g} mm cut off the bottom"),
    OperationSpec("plinth", "Stand the model on a plinth.", "add a 4 mm round plinth",
                  (Parameter("shape", str, "Plinth shape", "disc", choices=("disc", "box")),
                   Parameter("height_mm", float, "Plinth thickness", 3.0, 0.2, 100.0, unit="mm"),
                   Parameter("margin_mm", float, "How far it reaches beyond the model", 3.0, 0.0, 100.0, unit="mm"),
                   Parameter("colour", str, "Plinth colour #RRGGBB, or empty for the main colour", "",
                             pattern=re.compile(r"^(|#[0-9A-Fa-f]{6})$"))),
                  plinth, lambda p: f"{p['shape']} plinth {p['height_mm']:g} mm thick, {p['margin_mm']:g} mm margin" +
                  (f", {p['colour']}" if p["colour"] else "")),
    OperationSpec("recolour", "Change a colour (one filament, the parts of one colour, or all).",
                  "make the red parts blue",
                  (Parameter("source", str, _COLOUR_SOURCE_HELP, pattern=COLOUR_SOURCE),
                   Parameter("colour", str, "New colour #RRGGBB", pattern=HEX_COLOUR)),
                  recolour, lambda p: f"colour {p['source'] if p['source'] == 'all' else _source_words(p['source'])} "
                  f"-> {p['colour'].upper()}"),
    OperationSpec("merge_colours", "Merge two colours into one.", "merge the red and the brown",
                  (Parameter("source", str, _COLOUR_SOURCE_HELP, pattern=COLOUR_SOURCE),
                   Parameter("into", str, _COLOUR_SOURCE_HELP, pattern=COLOUR_SOURCE)),
                  merge_colours, lambda p: f"merge {_source_words(p['source'])} into {_source_words(p['into'])}"),
    OperationSpec("mirror", "Mirror the model.", "mirror it left to right",
                  (_dimension("width", "Mirror across: width (left-right), depth (front-back) or height"),),
                  mirror, lambda p: f"mirror {p['dimension']}"),
    OperationSpec("rotate", "Rotate the model.", "rotate it 90 degrees",
                  (Parameter("degrees", float, "Angle", minimum=-360.0, maximum=360.0, unit="degrees"),
                   _dimension("height", "About which axis: height (on the bed), width or depth")),
                  rotate, lambda p: f"rotate {p['degrees']:g} degrees about the {p['dimension']} axis"),
    OperationSpec("lay_flat", "Lay the model on its most stable face.", "lay it flat", (),
                  lay_flat, lambda p: "lay flat on the most stable face"),
    OperationSpec("hole", "Drill a hole right through (a keyring loop near the top).", "add a 5 mm keyring hole",
                  (Parameter("diameter_mm", float, "Hole diameter", KEYRING_HOLE_MM, 0.5, 100.0, unit="mm"),
                   _dimension("depth", "Along which dimension the hole runs: depth (front to back), width or height"),
                   Parameter("position", str, "Where: top (a loop near the top) or centre", "top",
                             choices=("top", "centre"))),
                  hole, lambda p: f"{p['diameter_mm']:g} mm hole through the {p['position']} along the {p['dimension']}"),
    OperationSpec("smooth", "Smooth the surface (keeps the volume and the flat base).", "smooth it a bit",
                  (Parameter("passes", int, "Smoothing passes (5 = a bit, 25 = much)", 10, 1, 200),),
                  smooth, lambda p: f"smooth ({p['passes']} passes, volume kept)"),
    OperationSpec("thicken", "Thicken walls thinner than a minimum.", "thicken walls to at least 2 mm",
                  (Parameter("min_wall_mm", float, "Thinnest wall wanted", 2.0, 0.4, 20.0, unit="mm"),),
                  thicken, lambda p: f"walls thickened to at least {p['min_wall_mm']:g} mm"),
    OperationSpec("hollow", "Hollow it out, with drain holes through the base.", "hollow it with 2 mm walls",
                  (Parameter("wall_mm", float, "Wall thickness kept", 2.0, 0.8, 50.0, unit="mm"),
                   Parameter("drain_mm", float, "Drain hole diameter", 4.0, 1.0, 30.0, unit="mm"),
                   Parameter("drains", int, "Number of drain holes", 2, 1, 2)),
                  hollow, lambda p: f"hollow, {p['wall_mm']:g} mm walls, {p['drains']} drain hole"
                  f"{'s' if p['drains'] > 1 else ''} of {p['drain_mm']:g} mm in the base"),
    OperationSpec("text", "Emboss or engrave text on the base or the back.", 'engrave "ANNA" on the base',
                  (Parameter("text", str, "The text (one line, up to 40 characters)", pattern=TEXT_PATTERN),
                   Parameter("mode", str, "Raised (emboss) or cut in (engrave)", "emboss", choices=("emboss", "engrave")),
                   Parameter("side", str, "Where: the base (read from below) or the back", "back",
                             choices=("back", "base")),
                   Parameter("size_mm", float, "Letter (capital) height, 0 = fit the side", 0.0, 0.0, 200.0, unit="mm"),
                   Parameter("depth_mm", float, "How far the letters stand out or cut in", 1.0, 0.2, 20.0, unit="mm")),
                  text, lambda p: f"{p['mode']} \"{p['text']}\" on the {p['side']}, " +
                  (f"{p['size_mm']:g} mm letters, " if p["size_mm"] else "") + f"{p['depth_mm']:g} mm deep"),
    OperationSpec("simplify", "Reduce the number of triangles.", "simplify to 50000 triangles",
                  (Parameter("triangles", int, "Most triangles", minimum=1000, maximum=5_000_000),),
                  simplify, lambda p: f"simplify to {p['triangles']:,} triangles"),
]}


def _source_words(source: str) -> str:
    return "all" if source == "all" else (source.upper() if source.startswith("#") else f"filament {source}")




