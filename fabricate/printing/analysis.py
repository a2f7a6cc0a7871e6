"""What a slicer will struggle with: overhangs, thin walls, floating parts, and the best pose."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.rays import RayScene
from fabricate.printing.stable_pose import rotation_to_floor, stable_poses

#: Overhang thresholds reported, in degrees above the horizontal.
THRESHOLDS = (30.0, 45.0, 60.0)
#: A face touching the bed (within this many mm of z = 0) needs no support.
BED_TOLERANCE = 0.05


def face_normals_areas(vertices: np.ndarray, faces: np.ndarray):
    """Unit normals and areas of bare arrays (a mesh keeps its own: ``ColouredMesh.face_geometry``)."""
    return ColouredMesh(vertices, faces).face_geometry


def overhang_mask(normal_z: np.ndarray, lowest_z: np.ndarray, threshold_deg: float, bed_z: float) -> np.ndarray:
    """Downward faces (unit normals' z) flatter than ``threshold_deg`` above the horizontal, not on the bed."""
    downward = normal_z < 0
    slope = np.degrees(np.arccos(np.clip(-normal_z, -1, 1)))  # 0 = ceiling, 90 = wall
    return downward & (slope < threshold_deg) & (lowest_z > bed_z + BED_TOLERANCE)


def overhang_area(mesh: ColouredMesh, threshold_deg: float) -> float:
    """Area (mm²) that needs support at this threshold, with the mesh as placed."""
    normals, area = mesh.face_geometry
    lowest = mesh.vertices[:, 2][mesh.faces].min(axis=1)
    return float(area[overhang_mask(normals[:, 2], lowest, threshold_deg, mesh.vertices[:, 2].min())].sum())


@dataclass
class PoseOption:
    """One way to rest the model on the bed."""

    name: str
    rotation: list
    support_area_mm2: float
    front_visible: bool
    stability: float


def candidate_poses(mesh: ColouredMesh, threshold_deg: float, max_poses: int = 6) -> list:
    """The photo's own pose and the most likely stable poses, with their support area.

    The photo's front faces -Y before placing; a pose keeps it visible when the front
    does not point more than 30 degrees down.
    """
    normals, area = mesh.face_geometry
    options = []
    downs, probabilities = stable_poses(mesh.vertices, mesh.faces)
    poses = [("photo", np.eye(3), None)] + [(f"stable {i + 1}", rotation_to_floor(d), p)
                                            for i, (d, p) in enumerate(zip(downs[:max_poses], probabilities))]
    for name, rotation, probability in poses:
        # Support depends on heights and the normals' z only: the rotation's last row.
        z = mesh.vertices @ rotation[2]
        lowest = z[mesh.faces].min(axis=1)
        supported = float(area[overhang_mask(normals @ rotation[2], lowest, threshold_deg, z.min())].sum())
        front = rotation @ np.array([0.0, -1.0, 0.0])
        options.append(PoseOption(name, rotation.round(6).tolist(), round(supported, 2), bool(front[2] > -0.5),
                                  round(float(probability), 4) if probability is not None else 0.0))
    return options


def least_support_rotation(mesh: ColouredMesh, threshold_deg: float) -> np.ndarray:
    """Rotation of the pose with the least supported area that keeps the front visible."""
    options = [o for o in candidate_poses(mesh, threshold_deg) if o.front_visible]
    return np.array(min(options, key=_pose_preference).rotation)


def _pose_preference(option: PoseOption):
    # Least support first; on a tie keep the photo's pose, then the more stable one.
    return (round(option.support_area_mm2, 1), option.name != "photo", -option.stability)


def thin_wall_regions(mesh: ColouredMesh, min_thickness: float, max_regions: int = 10):
    """Local wall thickness by casting a ray inward from every face; regions thinner than ``min_thickness``.

    Returns
    -------
    thin_share : float
        Share of the surface area that is too thin.
    regions : list of dict
        Largest first: centre (mm), area (mm²), thinnest wall (mm), triangles.
    """
    normals, area = mesh.face_geometry
    centres = mesh.vertices[mesh.faces].mean(axis=1)
    origins = centres - normals * 1e-4
    # Only walls thinner than asked matter: rays stop there (most end at once, inside thick parts).
    hit, distance = RayScene(mesh.vertices, mesh.faces).first_hits(origins, -normals, max_distance=min_thickness)
    thickness = np.full(len(mesh.faces), np.inf)
    # Only a roughly opposite face bounds a wall; a ray grazing a neighbour across a
    # sharp edge (e.g. into the flat base) measures nothing.
    rays = np.flatnonzero(hit >= 0)
    opposite = rays[np.einsum("ij,ij->i", normals[hit[rays]], normals[rays]) < -0.5]
    thickness[opposite] = distance[opposite]
    thin = thickness < min_thickness
    total = float(area.sum()) or 1.0
    if not thin.any():
        return 0.0, []
    # Group thin faces into connected regions to report where they are.
    pairs = mesh.topology.adjacent_faces
    both = thin[pairs[:, 0]] & thin[pairs[:, 1]]
    m = len(mesh.faces)
    graph = sparse.csr_matrix((np.ones(int(both.sum())), (pairs[both, 0], pairs[both, 1])), shape=(m, m))
    _, label = connected_components(graph, directed=False)
    regions = []
    for region in np.unique(label[thin]):
        members = np.flatnonzero(thin & (label == region))
        weight = area[members]
        regions.append({"centre_mm": [round(float(c), 1) for c in np.average(centres[members], axis=0,
                                                                              weights=weight + 1e-12)],
                        "area_mm2": round(float(weight.sum()), 2),
                        "thinnest_mm": round(float(thickness[members].min()), 3),
                        "triangles": int(len(members))})
    regions.sort(key=lambda r: -r["area_mm2"])
    return float(area[thin].sum()) / total, regions[:max_regions]


def floating_parts(mesh: ColouredMesh, layer_height: float) -> list:
    """Separate parts that do not reach the bed (they would print in mid-air)."""
    labels = mesh.topology.face_components
    bed = mesh.vertices[:, 2].min()
    parts = []
    for label in np.unique(labels):
        v = mesh.vertices[np.unique(mesh.faces[labels == label])]
        if v[:, 2].min() > bed + layer_height:
            parts.append({"lowest_z_mm": round(float(v[:, 2].min()), 2),
                          "centre_mm": [round(float(c), 1) for c in v.mean(axis=0)]})
    return parts


@dataclass
class PrintAnalysis:
    """The report's printability section."""

    support_threshold_deg: float
    overhang_area_mm2: dict
    surface_area_mm2: float
    poses: list
    recommended_pose: str
    min_wall_mm: float
    thin_wall_share: float
    thin_walls: list = field(default_factory=list)
    floating_parts: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def summary_lines(self) -> list:
        at = self.overhang_area_mm2.get(f"{self.support_threshold_deg:g}", 0.0)
        lines = [f"overhangs needing support (below {self.support_threshold_deg:g} deg): {at / 100:.1f} cm2 of "
                 f"{self.surface_area_mm2 / 100:.1f} cm2; least-support pose with the front visible: "
                 f"{self.recommended_pose}"]
        if self.thin_walls:
            where = "; ".join(f"{r['thinnest_mm']:.2f} mm near ({', '.join(f'{c:.0f}' for c in r['centre_mm'])})"
                              for r in self.thin_walls[:3])
            lines.append(f"thin walls under {self.min_wall_mm:g} mm: {self.thin_wall_share:.1%} of the surface; {where}")
        else:
            lines.append(f"thin walls under {self.min_wall_mm:g} mm: none")
        if self.floating_parts:
            lines.append(f"floating parts (not touching the bed): {len(self.floating_parts)}")
        return lines


def analyse_print(placed: ColouredMesh, unplaced: ColouredMesh, nozzle_mm: float, threshold_deg: float,
                  layer_height: float) -> PrintAnalysis:
    """Overhangs at several thresholds, candidate poses, thin walls and floating parts.

    Parameters
    ----------
    placed
        The mesh on the bed (mm).
    unplaced
        The same model before orientation (photo front facing -Y), for the pose comparison.
    """
    return with_poses(placed_findings(placed, nozzle_mm, threshold_deg, layer_height),
                      pose_options(placed, unplaced, threshold_deg))


@dataclass
class PlacedFindings:
    """What :func:`analyse_print` measures on the placed triangles alone (the rest is the poses)."""

    support_threshold_deg: float
    overhang_area_mm2: dict
    surface_area_mm2: float
    min_wall_mm: float
    thin_wall_share: float
    thin_walls: list
    floating_parts: list


def placed_findings(placed: ColouredMesh, nozzle_mm: float, threshold_deg: float,
                    layer_height: float) -> PlacedFindings:
    """Overhangs at several thresholds, thin walls and floating parts of the mesh on the bed (mm)."""
    thresholds = sorted(set(THRESHOLDS) | {float(threshold_deg)})
    overhangs = {f"{t:g}": round(overhang_area(placed, t), 2) for t in thresholds}
    share, regions = thin_wall_regions(placed, 2 * nozzle_mm)
    _, area = placed.face_geometry
    return PlacedFindings(support_threshold_deg=float(threshold_deg), overhang_area_mm2=overhangs,
                          surface_area_mm2=round(float(area.sum()), 2), min_wall_mm=2 * nozzle_mm,
                          thin_wall_share=round(share, 4), thin_walls=regions,
                          floating_parts=floating_parts(placed, layer_height))


def pose_options(placed: ColouredMesh, unplaced: ColouredMesh, threshold_deg: float) -> list:
    """:func:`candidate_poses` of the model before orientation, at the placed model's size."""
    scale = float(placed.extents[2] / max(unplaced.extents[2], 1e-12))
    return candidate_poses(unplaced.copy(vertices=unplaced.vertices * scale), threshold_deg)


def with_poses(findings: PlacedFindings, poses: list) -> PrintAnalysis:
    """The report's printability section: the placed mesh's findings and the poses compared."""
    visible = [p for p in poses if p.front_visible] or poses
    best = min(visible, key=_pose_preference)
    return PrintAnalysis(**vars(findings), poses=[asdict(p) for p in poses], recommended_pose=best.name)
