"""Check that a mesh is a printable solid and describe it."""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.manifold import as_manifold
from fabricate.mesh.self_intersections import find_self_intersections


@dataclass
class ValidationReport:
    """What a slicer needs to know about a mesh, in millimetres.

    ``problems`` lists every defect that makes the mesh unprintable; an empty list
    means closed, 2-manifold, consistently outward-oriented, free of
    self-intersections, with positive volume, and accepted by manifold3d.
    """

    vertices: int
    faces: int
    boundary_edges: int
    non_manifold_edges: int
    non_manifold_vertices: int
    misoriented_edges: int
    duplicate_faces: int
    degenerate_faces: int
    self_intersections: int
    components: int
    volume_mm3: float
    area_mm2: float
    genus: Optional[int]
    bbox_min_mm: list
    bbox_max_mm: list
    manifold3d_status: str
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def size_mm(self) -> list:
        return [round(b - a, 2) for a, b in zip(self.bbox_min_mm, self.bbox_max_mm)]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["size_mm"] = self.size_mm
        return data

    def summary_lines(self) -> list:
        """Plain-language lines for the CLI and the web page."""
        tick = lambda good: "yes" if good else "NO"
        x, y, z = self.size_mm
        lines = [
            f"size: {x:.1f} x {y:.1f} x {z:.1f} mm, volume {self.volume_mm3 / 1000:.2f} cm3, "
            f"area {self.area_mm2 / 100:.1f} cm2",
            f"triangles: {self.faces}, vertices: {self.vertices}, parts: {self.components}, genus: {self.genus}",
            f"watertight: {tick(self.boundary_edges == 0)}; manifold: "
            f"{tick(self.non_manifold_edges == 0 and self.non_manifold_vertices == 0)}; "
            f"outward-oriented: {tick(self.misoriented_edges == 0 and self.volume_mm3 > 0)}; "
            f"self-intersection-free: {tick(self.self_intersections == 0)}; manifold3d: {self.manifold3d_status}",
        ]
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


def manifold3d_check(vertices: np.ndarray, faces: np.ndarray):
    """Status name and volume from manifold3d, a library that did not build the mesh."""
    if len(faces) == 0:
        return "Empty", 0.0
    solid = as_manifold(vertices, faces)
    return solid.status().name, float(solid.volume())


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    tri = vertices[faces]
    return float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0)


def validate_mesh(mesh: ColouredMesh, check_self_intersections: bool = True) -> ValidationReport:
    """Measure every property a printable solid must have.

    Edge counts, twins, parts and pinches come from the mesh's one sorted edge list
    (``mesh.topology``, kept with the mesh for the stages after this one). The report is
    kept with the mesh too: asking again about the same arrays (the mesh or a copy that
    keeps its vertices and faces) returns it without measuring twice.

    Parameters
    ----------
    mesh
        Vertices in millimetres.
    check_self_intersections
        The most expensive check (about 0.5 s per 200k triangles); on by default.

    Returns
    -------
    ValidationReport
    """
    v, f = mesh.vertices, mesh.faces
    asked = bool(check_self_intersections)
    cached = mesh.__dict__.get("_validation")
    if cached is not None and cached[0] is v and cached[1] is f and cached[2] == asked:
        return copy.deepcopy(cached[3])
    report = _measure(mesh, asked)
    mesh.__dict__["_validation"] = (v, f, asked, copy.deepcopy(report))
    return report


def _repeated_corner(f: np.ndarray) -> np.ndarray:
    return (f[:, 0] == f[:, 1]) | (f[:, 1] == f[:, 2]) | (f[:, 2] == f[:, 0])


def _problems(boundary, fins, pinches, misoriented, duplicates, degenerate, intersections, volume, status) -> list:
    """Every defect that makes a mesh unprintable, in words (the one place they are worded)."""
    problems = []
    if boundary:
        problems.append(f"{boundary} open (boundary) edges: the surface has holes")
    if fins:
        problems.append(f"{fins} non-manifold edges shared by more than two triangles")
    if pinches:
        problems.append(f"{pinches} non-manifold (pinched) vertices")
    if misoriented:
        problems.append(f"{misoriented} directed edges without exactly one opposite twin: "
                        "flipped or inconsistently wound triangles")
    if duplicates:
        problems.append(f"{duplicates} duplicate triangles")
    if degenerate:
        problems.append(f"{degenerate} degenerate triangles (a corner used twice)")
    if intersections:
        problems.append(f"{intersections} pairs of self-intersecting triangles")
    if volume <= 0:
        problems.append(f"volume is {volume:.3g} mm3: the mesh is inside out or flat")
    if status != "NoError":
        problems.append(f"manifold3d rejects the mesh: {status}")
    return problems


def _measure(mesh: ColouredMesh, check_self_intersections: bool) -> ValidationReport:
    v, f = mesh.vertices, mesh.faces
    n = len(v)
    warnings = []
    if len(f) == 0:
        return ValidationReport(n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, None, [0, 0, 0], [0, 0, 0], "Empty",
                                ["the mesh has no triangles"], [])
    topology = mesh.topology
    boundary = topology.boundary_edges
    fins = topology.non_manifold_edges
    misoriented = int(topology.unmatched_directed_edges.sum())
    duplicates = topology.duplicate_faces
    _, areas = mesh.face_geometry
    double_area = 2.0 * areas
    scale = float(np.max(np.ptp(v, axis=0))) or 1.0
    repeated = _repeated_corner(f)
    degenerate = int(repeated.sum())
    slivers = int(((double_area <= 1e-12 * scale * scale) & ~repeated).sum())
    pinches = len(topology.non_manifold_vertices()) if fins == 0 else 0
    labels = topology.face_components
    components = int(labels.max() + 1)
    used = topology.used_vertices
    edges = len(topology.counts)
    genus = None
    if boundary == 0 and fins == 0:
        euler = len(used) - edges + len(f)
        genus = int((2 * components - euler) // 2)
    volume = signed_volume(v, f)
    area = float(areas.sum())
    intersections = len(find_self_intersections(v, f)) if check_self_intersections else 0
    status = manifold3d_check(v, f)[0]
    problems = _problems(boundary, fins, pinches, misoriented, duplicates, degenerate, intersections, volume, status)
    if slivers:
        # Zero-area slivers keep the surface closed; slicers and manifold3d accept them.
        warnings.append(f"{slivers} zero-area sliver triangles")
    if components > 1:
        warnings.append(f"{components} separate parts")
    lo, hi = v[used].min(axis=0), v[used].max(axis=0)
    return ValidationReport(
        vertices=int(len(used)), faces=int(len(f)), boundary_edges=boundary, non_manifold_edges=fins,
        non_manifold_vertices=pinches, misoriented_edges=misoriented, duplicate_faces=duplicates,
        degenerate_faces=degenerate, self_intersections=intersections, components=components,
        volume_mm3=float(volume), area_mm2=round(area, 4), genus=genus,
        bbox_min_mm=[round(float(x), 4) for x in lo], bbox_max_mm=[round(float(x), 4) for x in hi],
        manifold3d_status=status, problems=problems, warnings=warnings)


# --- a plate of several objects -------------------------------------------------------------
#: Objects closer than this (mm) are looked at for touching: slicers print them fused.
TOUCH_TOLERANCE_MM = 1e-3
#: How far (mm) an object may sit off the bed before it is said to sink into it or float above it.
BED_TOLERANCE_MM = 0.01


def invalid_numbers(vertices: np.ndarray, faces: np.ndarray) -> Optional[str]:
    """What makes a mesh's numbers unusable, or None: non-finite coordinates, indices outside the vertices.

    Such a mesh is bad input, not a defect to repair (the winding-number re-mesh crashes on NaN).
    """
    vertices, faces = np.asarray(vertices), np.asarray(faces)
    finite = np.isfinite(vertices).all(axis=1) if vertices.size else np.ones(len(vertices), bool)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        count = int((~finite).sum())
        return (f"{count} {'vertex has' if count == 1 else 'vertices have'} non-finite coordinates (vertex {bad} is "
                f"{', '.join(f'{c:g}' for c in vertices[bad])})")
    if len(faces) and (faces.min() < 0 or faces.max() >= len(vertices)):
        rows = np.flatnonzero((faces < 0).any(axis=1) | (faces >= len(vertices)).any(axis=1))
        index = faces[rows[0]][(faces[rows[0]] < 0) | (faces[rows[0]] >= len(vertices))][0]
        return (f"{len(rows)} {'triangle refers' if len(rows) == 1 else 'triangles refer'} to vertices that do not "
                f"exist (triangle {int(rows[0])} uses vertex {int(index)}; there are {len(vertices)} vertices)")
    return None


def judged(part) -> bool:
    """Whether a plate part (``mesh``, ``not_checked``) is judged as a solid: it has a mesh and no reason not to."""
    return part.not_checked is None and part.mesh is not None


@dataclass
class PartReport:
    """One part of a printed object: its report, or why it is not judged."""

    name: str
    report: Optional[ValidationReport]
    not_checked: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.report is None or self.report.ok

    def to_dict(self) -> dict:
        data = {"name": self.name, "checked": self.report is not None, "not_checked": self.not_checked}
        if self.report is not None:
            data.update(self.report.to_dict())
        return data


PRINTABLE, NOT_PRINTABLE, NOT_CHECKED = "printable", "NOT printable", "not checked"


@dataclass
class ObjectReport:
    """One printed object (a build item): each part judged on its own."""

    name: str
    parts: list
    notes: list = field(default_factory=list)

    @property
    def status(self) -> str:
        """printable, NOT printable, or not checked (only parts that are not judged, such as a beam lattice)."""
        judged = [part for part in self.parts if part.report is not None]
        if not self.parts or any(not part.ok for part in judged):
            return NOT_PRINTABLE
        return PRINTABLE if judged else NOT_CHECKED

    @property
    def ok(self) -> bool:
        return self.status != NOT_PRINTABLE

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "ok": self.ok,
                "parts": [part.to_dict() for part in self.parts], "notes": list(self.notes)}


@dataclass
class PlateReport:
    """Every printed object of a file judged on its own, then the plate as a whole.

    ``problems`` are the plate's own defects (with a printer: an object outside its build
    volume or off its bed); ``warnings`` what may need a look (without a printer: an object
    below or above the bed); ``notes`` what is no defect (objects that touch, departures
    from the file format that change nothing printed).
    """

    objects: list
    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    printer: Optional[str] = None

    @property
    def status(self) -> str:
        if self.problems or not self.objects or any(obj.status == NOT_PRINTABLE for obj in self.objects):
            return NOT_PRINTABLE
        return PRINTABLE if any(obj.status == PRINTABLE for obj in self.objects) else NOT_CHECKED

    @property
    def ok(self) -> bool:
        return self.status != NOT_PRINTABLE

    @property
    def single(self) -> Optional[ValidationReport]:
        """The one report of a plate of one object of one judged part (a plain mesh file)."""
        if len(self.objects) == 1 and len(self.objects[0].parts) == 1:
            return self.objects[0].parts[0].report
        return None

    def to_dict(self) -> dict:
        return {"status": self.status, "ok": self.ok, "printer": self.printer,
                "objects": [obj.to_dict() for obj in self.objects], "problems": list(self.problems),
                "warnings": list(self.warnings), "notes": list(self.notes)}

    def summary_lines(self) -> list:
        """Plain-language lines: each object's, then the plate's."""
        lines = []
        if self.single is not None:
            lines += self.single.summary_lines() + [f"note: {note}" for note in self.objects[0].notes]
        else:
            for obj in self.objects:
                lines.append(f'object "{obj.name}": {obj.status}')
                for part in obj.parts:
                    verdict = part.not_checked if part.report is None else PRINTABLE if part.ok else NOT_PRINTABLE
                    indent = "    " if len(obj.parts) > 1 else "  "
                    if len(obj.parts) > 1:
                        lines.append(f'  part "{part.name}": {verdict}')
                    elif part.report is None:
                        lines.append(f"  {verdict}")
                    if part.report is not None:
                        lines += [indent + line for line in part.report.summary_lines()]
                if not obj.parts:
                    lines.append("  problem: the object holds no mesh")
                lines += [f"  note: {note}" for note in obj.notes]
        if not self.objects:
            lines.append("problem: the file places no object on the build plate")
        if self.printer:
            lines.append(f"plate: {'fits' if not self.problems else 'does NOT fit'} the {self.printer}")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"warning: {w}" for w in self.warnings]
        lines += [f"note: {n}" for n in self.notes]
        return lines


def validate_plate(objects, build_volume=None, notes=(), check_self_intersections: bool = True) -> PlateReport:
    """Judge each printed object on its own, then the plate.

    Parameters
    ----------
    objects
        The plate's printed objects: each with ``name`` and ``parts``, each part with
        ``name``, ``mesh`` (plate coordinates, mm, or None) and ``not_checked`` (why it is
        not judged, or None) -- a :class:`fabricate.export.plate.PlateObject`.
    build_volume : optional
        The printer's build volume as the printing stage describes it
        (:class:`fabricate.printing.fit.BuildVolume`: ``name`` and ``problem(mesh)``, the
        reason a mesh does not fit, or None); with it every object must lie inside and on
        the bed. (The mesh stage cannot know printers: the caller hands the test down.)
    notes
        Notes the reader made (departures from the file format), passed through.

    Returns
    -------
    PlateReport
    """
    reports = []
    for obj in objects:
        parts = [PartReport(part.name, validate_mesh(part.mesh, check_self_intersections) if judged(part) else None,
                            part.not_checked or (None if part.mesh is not None else "it holds no mesh"))
                 for part in obj.parts]
        object_notes = [f'parts "{a.name}" and "{b.name}" {how}: the printer unites them'
                        for a, b, how in _touching([part for part in obj.parts if judged(part)])]
        reports.append(ObjectReport(obj.name, parts, object_notes))
    report = PlateReport(reports, printer=getattr(build_volume, "name", None))
    solids = [(obj, [part.mesh for part in obj.parts if judged(part)]) for obj in objects]
    solids = [(obj, meshes) for obj, meshes in solids if meshes]
    merged = {id(obj): _merged(meshes) for obj, meshes in solids}
    for a, b, how in _touching([_Named(obj.name, merged[id(obj)]) for obj, _ in solids]):
        report.notes.append(f'objects "{a.name}" and "{b.name}" {how}: a slicer prints them as one piece')
    _check_layout([_Named(obj.name, merged[id(obj)]) for obj, _ in solids], build_volume, report)
    report.notes += list(notes)
    return report


@dataclass
class _Named:
    name: str
    mesh: ColouredMesh


def _merged(meshes: list) -> ColouredMesh:
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    return ColouredMesh(np.concatenate([m.vertices for m in meshes]),
                        np.concatenate([m.faces + o for m, o in zip(meshes, offsets)]))


def _check_layout(items: list, build_volume, report: PlateReport) -> None:
    """Objects outside the printer's build volume or sunk below the bed, and a plate that does not reach the bed.

    With a printer the plate is judged as laid out, so what does not fit is a problem;
    without one fabricate cannot know the bed, and what a slicer moves by itself (it drops
    objects onto the bed) is a warning.
    """
    lowest = None
    for item in items:
        used = item.mesh.vertices[np.unique(item.mesh.faces)] if len(item.mesh.faces) else None
        if used is None:
            continue
        lo, hi = used.min(axis=0), used.max(axis=0)
        if lowest is None or lo[2] < lowest[1]:
            lowest = (item.name, float(lo[2]))
        if build_volume is not None:
            problem = build_volume.problem(item.mesh)
            if problem:
                report.problems.append(f'"{item.name}" (x {lo[0]:.1f} to {hi[0]:.1f}, y {lo[1]:.1f} to {hi[1]:.1f}, '
                                       f'z {lo[2]:.1f} to {hi[2]:.1f} mm) is {problem}')
        elif lo[2] < -BED_TOLERANCE_MM:
            report.warnings.append(f'"{item.name}" reaches {-lo[2]:.2f} mm below the bed (z = 0); '
                                   "a slicer lifts it onto the bed")
    if lowest is not None and lowest[1] > BED_TOLERANCE_MM:
        report.warnings.append(f'nothing rests on the bed: the lowest object, "{lowest[0]}", is {lowest[1]:.2f} mm '
                               "above it; a slicer drops objects onto the bed")


def _touching(items: list) -> list:
    """(a, b, how) for each pair of items (``name``, ``mesh``) whose surfaces cross, or one inside the other."""
    found = []
    boxes = [(item.mesh.vertices.min(axis=0), item.mesh.vertices.max(axis=0)) if len(item.mesh.vertices) else None
             for item in items]
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            if boxes[i] is None or boxes[j] is None:
                continue
            (alo, ahi), (blo, bhi) = boxes[i], boxes[j]
            if np.any(alo > bhi + TOUCH_TOLERANCE_MM) or np.any(blo > ahi + TOUCH_TOLERANCE_MM):
                continue
            how = _contact(items[i].mesh, items[j].mesh)
            if how:
                found.append((items[i], items[j], how))
    return found


def _contact(a: ColouredMesh, b: ColouredMesh) -> Optional[str]:
    """How two meshes with overlapping boxes meet: "overlap (...)", "touch", or None.

    Surfaces that cross are found triangle by triangle; faces that only lie on each other
    (two boxes side by side or sharing a face) cross nowhere, so each mesh's vertices are
    also placed against the other: on its surface, or inside it by the winding number.
    """
    import igl

    vertices = np.concatenate([a.vertices, b.vertices])
    faces = np.concatenate([a.faces, b.faces + len(a.vertices)])
    pairs = find_self_intersections(vertices, faces)
    crossing = int(((pairs[:, 0] < len(a.faces)) != (pairs[:, 1] < len(a.faces))).sum()) if len(pairs) else 0
    inside = on = 0
    for inner, outer in ((a, b), (b, a)):
        if not len(inner.vertices) or not len(outer.faces):
            continue
        points = np.ascontiguousarray(inner.vertices, np.float64)
        outer_v, outer_f = np.ascontiguousarray(outer.vertices, np.float64), np.ascontiguousarray(outer.faces, np.int64)
        near = igl.point_mesh_squared_distance(points, outer_v, outer_f)[0] <= TOUCH_TOLERANCE_MM ** 2
        winding = np.abs(igl.fast_winding_number(outer_v, outer_f, points))
        on += int(near.sum())
        inside += int(((winding > 0.5) & ~near).sum())
    shared = _shared_volume(a, b)
    if (shared or 0.0) > OVERLAP_MIN_MM3 or (shared is None and (crossing or inside)):
        return f"overlap by {shared:.3g} mm3" if shared else f"overlap ({crossing} crossing triangle pairs)"
    return "touch" if on or crossing or inside else None


#: Less shared volume than this is two surfaces lying on each other, not an overlap.
OVERLAP_MIN_MM3 = 1e-3


def _shared_volume(a: ColouredMesh, b: ColouredMesh) -> Optional[float]:
    """The volume two closed meshes share (manifold3d's intersection), or None when either is not a closed manifold."""
    solids = [as_manifold(m.vertices, m.faces) for m in (a, b)]
    if any(solid.status().name != "NoError" for solid in solids):
        return None
    return float((solids[0] ^ solids[1]).volume())
