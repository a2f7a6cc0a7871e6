"""Check that a mesh is a printable solid and describe it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.manifold import as_manifold
from fabricate.mesh.self_intersections import find_self_intersections
from fabricate.mesh.topology import (face_components, non_manifold_vertices, undirected_edge_counts,
                                     unmatched_directed_edges)


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

    Parameters
    ----------
    mesh
        Vertices in millimetres.
    check_self_intersections
        The most expensive check (about 3 s per 200k triangles); on by default.

    Returns
    -------
    ValidationReport
    """
    v, f = mesh.vertices, mesh.faces
    n = len(v)
    problems, warnings = [], []
    if len(f) == 0:
        return ValidationReport(n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, None, [0, 0, 0], [0, 0, 0], "Empty",
                                ["the mesh has no triangles"], [])
    _, counts, _ = undirected_edge_counts(f, n)
    boundary = int((counts == 1).sum())
    fins = int((counts > 2).sum())
    misoriented = int(unmatched_directed_edges(f, n).sum())
    sorted_faces = np.sort(f, axis=1)
    keys = (sorted_faces[:, 0] * n + sorted_faces[:, 1]) * n + sorted_faces[:, 2]
    duplicates = int(len(keys) - len(np.unique(keys)))
    tri = v[f]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    double_area = np.linalg.norm(cross, axis=1)
    scale = float(np.max(np.ptp(v, axis=0))) or 1.0
    repeated = (sorted_faces[:, 0] == sorted_faces[:, 1]) | (sorted_faces[:, 1] == sorted_faces[:, 2])
    degenerate = int(repeated.sum())
    slivers = int(((double_area <= 1e-12 * scale * scale) & ~repeated).sum())
    pinches = len(non_manifold_vertices(f, n)) if fins == 0 else 0
    labels = face_components(f, n)
    components = int(labels.max() + 1)
    used = np.unique(f)
    edges = len(counts)
    genus = None
    if boundary == 0 and fins == 0:
        euler = len(used) - edges + len(f)
        genus = int((2 * components - euler) // 2)
    volume = signed_volume(v, f)
    area = float(double_area.sum() / 2)
    intersections = len(find_self_intersections(v, f)) if check_self_intersections else 0
    status, _ = manifold3d_check(v, f)
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
    if slivers:
        # Zero-area slivers keep the surface closed; slicers and manifold3d accept them.
        warnings.append(f"{slivers} zero-area sliver triangles")
    if intersections:
        problems.append(f"{intersections} pairs of self-intersecting triangles")
    if volume <= 0:
        problems.append(f"volume is {volume:.3g} mm3: the mesh is inside out or flat")
    if status != "NoError":
        problems.append(f"manifold3d rejects the mesh: {status}")
    if components > 1:
        warnings.append(f"{components} separate parts")
    lo, hi = v[used].min(axis=0), v[used].max(axis=0)
    return ValidationReport(
        vertices=int(len(used)), faces=int(len(f)), boundary_edges=boundary, non_manifold_edges=fins,
        non_manifold_vertices=pinches, misoriented_edges=misoriented, duplicate_faces=duplicates,
        degenerate_faces=degenerate, self_intersections=intersections, components=components,
        volume_mm3=round(volume, 4), area_mm2=round(area, 4), genus=genus,
        bbox_min_mm=[round(float(x), 4) for x in lo], bbox_max_mm=[round(float(x), 4) for x in hi],
        manifold3d_status=status, problems=problems, warnings=warnings)
