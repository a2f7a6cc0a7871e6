"""Orient, scale and place a model on a printer's bed."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional

import numpy as np

from fabricate.errors import InputError, TooSmall
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.validate import BED_TOLERANCE_MM
from fabricate.printing.plane_cut import VertexOrigin, cut_below
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.stable_pose import rotation_to_floor, stable_poses

ORIENTATIONS = ("photo", "stable", "least-support")
#: The flat-base cut takes at most this share of the model's height.
MAX_BASE_CUT = 0.3
#: A side thinner than this many nozzle widths cannot be laid down as two walls: the smallest model.
MIN_SIDE_NOZZLE_WIDTHS = 2.0


@dataclass
class FitReport:
    """How the model was placed, for the summary and the report JSON."""

    printer: str
    orientation: str
    scale_mm_per_unit: float
    rotation_z_deg: float
    size_mm: list
    usable_mm: list
    base_cut_mm: float
    #: Where the flat-base cut put each placed vertex on the surface it was given (None: no cut).
    vertex_origin: Optional[VertexOrigin] = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "vertex_origin"}


def cut_flat_base(mesh: ColouredMesh, height: float) -> ColouredMesh:
    """Cut the model with the plane ``z = min z + height`` so it stands on a flat face.

    :func:`fabricate.printing.plane_cut.cut_below` performs the cut (its output is closed where
    its input is); vertex colours are interpolated along the cut edges and the cap takes the
    colours of the cut edges. A mesh the plane cannot cut cleanly (open, non-manifold) is left whole.
    """
    return cut_flat_base_with_origin(mesh, height)[0]


def cut_flat_base_with_origin(mesh: ColouredMesh, height: float):
    """:func:`cut_flat_base`, and the cut mesh's :class:`VertexOrigin` (None where nothing was cut)."""
    if height <= 0:
        return mesh, None
    cut = cut_below(mesh.vertices, mesh.faces, float(mesh.vertices[:, 2].min()) + height)
    if cut is None:
        return mesh, None
    colours = mesh.vertex_colours if mesh.vertex_colours is not None else np.full((len(mesh.vertices), 3), 200)
    return _with_carried_colours(mesh.copy(vertices=cut.vertices, faces=cut.faces), cut.origin, colours), cut.origin


def _with_carried_colours(cut: ColouredMesh, origin: VertexOrigin, colours: np.ndarray) -> ColouredMesh:
    """``cut`` with the uncut mesh's vertex ``colours`` carried along its edges, faces their means."""
    return cut.copy(vertex_colours=origin.carry_colours(colours), face_colours=None).with_face_colours_from_vertices()


def _rotation(deg_z: float) -> np.ndarray:
    t = np.radians(deg_z)
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1.0]])


def _max_scale(mesh: ColouredMesh, printer: PrinterProfile) -> float:
    usable = printer.usable_size_mm
    extents = np.maximum(mesh.extents, 1e-9)
    if printer.bed_shape == "circular":
        centre = (mesh.bounds[0, :2] + mesh.bounds[1, :2]) / 2
        radius = float(np.max(np.linalg.norm(mesh.vertices[:, :2] - centre, axis=1))) or 1e-9
        return min(usable[0] / 2 / radius, usable[2] / extents[2])
    return float(np.min(usable / extents))


def fit_to_build_volume(mesh: ColouredMesh, printer: PrinterProfile, height_mm: Optional[float] = None,
                        orientation: str = "photo", base_cut: float = 0.03, support_threshold_deg: float = 45.0):
    """Rest the model on the bed, scale it to millimetres and centre it.

    Parameters
    ----------
    mesh
        Closed mesh in any unit, z up as photographed.
    printer
        Target printer.
    height_mm
        Wanted height; ``None`` gives the largest size that fits inside the margins.
    orientation
        "photo": stand as photographed (the photo's bottom on the bed);
        "stable": rest on the most stable face of the convex hull;
        "least-support": among those poses, the one needing the least support
        (at ``support_threshold_deg``) that keeps the photo's front visible.
    base_cut
        Share of the height cut off the bottom so the model stands on a flat face
        (0 disables it).

    Returns
    -------
    placed : ColouredMesh
        In printer coordinates (mm), resting on z = 0, centred on the bed.
    report : FitReport

    Raises
    ------
    InputError
        The requested height does not fit the printer.
    """
    if orientation not in ORIENTATIONS:
        raise InputError(f"unknown orientation {orientation!r}; choose one of {', '.join(ORIENTATIONS)}")
    if not 0.0 <= base_cut <= MAX_BASE_CUT:
        raise InputError(f"base cut must be between 0 and {MAX_BASE_CUT:g} of the height, got {base_cut}")
    if height_mm is not None and not height_mm > 0:
        raise InputError(f"height must be a positive number of millimetres, got {height_mm}")
    if orientation == "stable":
        normals, _ = stable_poses(mesh.vertices, mesh.faces)
        mesh = mesh.transformed(_homogeneous(rotation_to_floor(normals[0])))
    elif orientation == "least-support":
        from fabricate.printing.analysis import least_support_rotation

        mesh = mesh.transformed(_homogeneous(least_support_rotation(mesh, support_threshold_deg)))
    cut_units = base_cut * float(mesh.extents[2])
    mesh, origin = cut_flat_base_with_origin(mesh, cut_units)
    # Try the model turned a quarter about z too, and keep the turn that fits larger.
    turned = _max_scale(mesh.transformed(_homogeneous(_rotation(90.0))), printer)
    best = 90.0 if turned > _max_scale(mesh, printer) * 1.001 else 0.0
    mesh = mesh.transformed(_homogeneous(_rotation(best)))
    limit = _max_scale(mesh, printer)
    usable = printer.usable_size_mm
    if height_mm is None:
        scale = limit
    else:
        scale = height_mm / float(mesh.extents[2])
        if scale > limit * (1 + 1e-9):
            size = mesh.extents * scale
            raise InputError(
                f"at {height_mm:g} mm tall the model would be {size[0]:.0f} x {size[1]:.0f} x {size[2]:.0f} mm, "
                f"larger than the {printer.name}'s usable {usable[0]:.0f} x {usable[1]:.0f} x {usable[2]:.0f} mm; "
                f"the largest height that fits is {float(mesh.extents[2]) * limit:.0f} mm")
    thinnest = MIN_SIDE_NOZZLE_WIDTHS * printer.nozzle_diameter_mm
    smallest_scale = thinnest / float(mesh.extents.min())
    if scale < smallest_scale:
        size = mesh.extents * scale
        raise TooSmall(
            f"at {float(mesh.extents[2]) * scale:.3g} mm tall the model would be {size[0]:.2g} x {size[1]:.2g} x "
            f"{size[2]:.2g} mm, thinner than the {thinnest:g} mm ({MIN_SIDE_NOZZLE_WIDTHS:g} x the "
            f"{printer.nozzle_diameter_mm:g} mm nozzle) a side needs; the smallest height is "
            f"{float(mesh.extents[2]) * smallest_scale:.1f} mm")
    placed = mesh.transformed(_homogeneous(np.eye(3) * scale))
    lo, hi = placed.bounds
    shift = np.zeros(3)
    shift[:2] = printer.bed_centre_mm - (lo[:2] + hi[:2]) / 2
    shift[2] = -lo[2]
    placed = placed.copy(vertices=placed.vertices + shift)
    report = FitReport(printer=printer.id, orientation=orientation, scale_mm_per_unit=float(scale),
                       rotation_z_deg=best, size_mm=[round(float(x), 2) for x in placed.extents],
                       usable_mm=[round(float(x), 2) for x in usable], base_cut_mm=round(cut_units * scale, 2),
                       vertex_origin=origin)
    return placed, report


def with_colours_of(placed: ColouredMesh, report: FitReport, coloured: ColouredMesh) -> ColouredMesh:
    """``placed`` (:func:`fit_to_build_volume`'s, of ``coloured``'s shape without its colours)
    with ``coloured``'s colours, exactly as placing ``coloured`` itself would have carried them."""
    if report.vertex_origin is None:  # no cut: the vertices and faces are the ones coloured
        return placed.copy(vertex_colours=coloured.vertex_colours, face_colours=coloured.face_colours)
    if coloured.vertex_colours is None:
        raise ValueError("a cut carries vertex colours: the coloured mesh has none")
    return _with_carried_colours(placed, report.vertex_origin, coloured.vertex_colours)


@dataclass(frozen=True)
class BuildVolume:
    """A printer's build volume as the mesh stage's plate check takes it (see validate_plate)."""

    printer: PrinterProfile
    tolerance: float = BED_TOLERANCE_MM

    @property
    def name(self) -> str:
        return self.printer.id

    def problem(self, mesh: ColouredMesh):
        """Why ``mesh`` does not fit (outside the volume or below the bed), or None."""
        if inside_build_volume(mesh, self.printer, self.tolerance):
            return None
        x0, y0 = self.printer.bed_origin_mm
        sx, sy, sz = self.printer.build_volume_mm
        return (f"outside the {self.printer.id} build volume (x {x0:g} to {x0 + sx:g}, y {y0:g} to {y0 + sy:g}, "
                f"z 0 to {sz:g} mm)")


def inside_build_volume(mesh: ColouredMesh, printer: PrinterProfile, tolerance: float = 1e-3) -> bool:
    """Whether every vertex lies within the printer's build volume."""
    v = mesh.vertices
    x0, y0 = printer.bed_origin_mm
    sx, sy, sz = printer.build_volume_mm
    if v[:, 2].min() < -tolerance or v[:, 2].max() > sz + tolerance:
        return False
    if printer.bed_shape == "circular":
        centre = printer.bed_centre_mm
        return bool(np.max(np.linalg.norm(v[:, :2] - centre, axis=1)) <= sx / 2 + tolerance)
    return bool(v[:, 0].min() >= x0 - tolerance and v[:, 0].max() <= x0 + sx + tolerance
                and v[:, 1].min() >= y0 - tolerance and v[:, 1].max() <= y0 + sy + tolerance)


def _homogeneous(rotation: np.ndarray) -> np.ndarray:
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    return matrix
