"""The whole job: photo -> reconstruction -> checked mesh -> colours -> placed on a printer -> files.

Each stage is a call into its package; this module only wires them together,
reports progress and times the stages. The CLI and the web job runner call
:func:`make_model` and :func:`write_outputs`.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from fabricate import __version__
from fabricate.color import colour_surface
from fabricate.color.lab import parse_hex_colours, to_hex
from fabricate.color.palette import FilamentAssignment, assign_filaments
from fabricate.errors import InputError, MeshError
from fabricate.export import write_glb, write_mesh, write_stl
from fabricate.atomic import atomic_path, write_bytes_atomic
from fabricate.image import extract_foreground, load_photo
from fabricate.mesh import ColouredMesh, ValidationReport, repair_mesh, simplify_mesh, validate_mesh
from fabricate.mesh.topology import face_components
from fabricate.mesh.validate import signed_volume
from fabricate.export.slicer_parts import SlicerParts, parse_slicers
from fabricate.printing import FitReport, fit_to_build_volume, get_printer, inside_build_volume
from fabricate.printing.analysis import PrintAnalysis, analyse_print
from fabricate.printing.settings import Filament, PrintSettings, build_settings
from fabricate.progress import Progress, ProgressCallback
from fabricate.reconstruct import get_reconstructor

#: Parts smaller than this share of the main body's volume are dropped as debris.
MIN_PART_SHARE = 0.01


@dataclass
class MakeOptions:
    """Everything a maker can choose for one job (CLI flags and web form fields)."""

    printer: str
    height_mm: Optional[float] = None
    resolution: int = 256
    model: str = "classical"
    back: str = "mirror"
    back_ratio: float = 0.5
    depth_scale: float = 1.0
    relief: float = 1.0
    orientation: str = "photo"
    base_cut: float = 0.03
    max_triangles: int = 200_000
    title: Optional[str] = None
    # Slicing (None = the preset's value).
    preset: str = "standard"
    layer_height: Optional[float] = None
    wall_loops: Optional[int] = None
    top_layers: Optional[int] = None
    bottom_layers: Optional[int] = None
    infill_density: Optional[float] = None
    infill_pattern: Optional[str] = None
    supports: Optional[str] = None
    support_threshold_deg: Optional[float] = None
    support_buildplate_only: Optional[bool] = None
    brim_width_mm: Optional[float] = None
    # Filaments: None = 4 on multi-material printers, 1 otherwise.
    colors: Optional[int] = None
    palette: Optional[str] = None
    material: str = "PLA"
    slicer: str = "all"

    def to_dict(self) -> dict:
        return asdict(self)

    def print_settings(self, printer) -> PrintSettings:
        """Validated slicing settings, with placeholder filaments until colours are known."""
        count = self.filament_count(printer)
        return build_settings(
            printer, self.preset, filaments=[Filament("#FFFFFF", self.material)] * count,
            layer_height=self.layer_height, wall_loops=self.wall_loops, top_layers=self.top_layers,
            bottom_layers=self.bottom_layers, infill_density=self.infill_density,
            infill_pattern=self.infill_pattern, supports=self.supports,
            support_threshold_deg=self.support_threshold_deg, support_buildplate_only=self.support_buildplate_only,
            brim_width_mm=self.brim_width_mm)

    def validate(self):
        """Check every choice before any work; returns (printer, settings, palette, reconstructor).

        Raises
        ------
        InputError
            Naming the first bad choice.
        """
        from fabricate.printing.fit import ORIENTATIONS
        from fabricate.reconstruct import RESOLUTIONS

        printer = get_printer(self.printer)
        settings = self.print_settings(printer)
        palette = self.palette_colours()
        parse_slicers(self.slicer)
        if self.resolution not in RESOLUTIONS:
            raise InputError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {self.resolution}")
        if self.orientation not in ORIENTATIONS:
            raise InputError(f"unknown orientation {self.orientation!r}; choose one of {', '.join(ORIENTATIONS)}")
        if self.height_mm is not None and not self.height_mm > 0:
            raise InputError(f"height must be a positive number of millimetres, got {self.height_mm}")
        if self.max_triangles < 1000:
            raise InputError(f"the triangle budget must be at least 1000, got {self.max_triangles}")
        model_options = {}
        if self.model == "classical":
            model_options = dict(back=self.back, back_ratio=self.back_ratio, depth_scale=self.depth_scale,
                                 relief=self.relief)
        return printer, settings, palette, get_reconstructor(self.model, **model_options)

    def palette_colours(self):
        if not self.palette:
            return None
        try:
            return parse_hex_colours(self.palette)
        except ValueError as exc:
            raise InputError(f"palette: {exc}") from None

    def filament_count(self, printer) -> int:
        if self.colors is not None:
            return int(self.colors)
        palette = self.palette_colours()
        if palette is not None:
            return len(palette)
        return 4 if printer.filament_slots > 1 else 1


@dataclass
class MakeResult:
    """A finished job: the placed mesh and what was measured on the way."""

    mesh: ColouredMesh
    validation: ValidationReport
    fit: FitReport
    options: MakeOptions
    source_name: str
    mask_source: str
    repairs: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    settings: Optional[PrintSettings] = None
    filaments: Optional[FilamentAssignment] = None
    analysis: Optional[PrintAnalysis] = None
    printer: object = None
    slice_report: object = None

    @property
    def title(self) -> str:
        return self.options.title or os.path.splitext(self.source_name)[0].replace("_", " ")

    def report(self) -> dict:
        """JSON-ready summary (written next to the 3MF)."""
        return {
            "fabricate_version": __version__,
            "source_photo": self.source_name,
            "mask_source": self.mask_source,
            "options": self.options.to_dict(),
            "fit": self.fit.to_dict(),
            "validation": self.validation.to_dict(),
            "repairs": self.repairs,
            "colours": int(len(np.unique(self.mesh.face_colours, axis=0))) if self.mesh.face_colours is not None else 0,
            "filaments": self.filaments.summary() if self.filaments is not None else [],
            "print_settings": self.settings.to_dict() if self.settings is not None else None,
            "analysis": self.analysis.to_dict() if self.analysis is not None else None,
            "slicing": self.slice_report.to_dict() if self.slice_report is not None else None,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def slicer_parts(self) -> Optional[SlicerParts]:
        if self.filaments is None or self.settings is None:
            return None
        return SlicerParts(self.filaments.face_filament, self.settings, self.printer,
                           parse_slicers(self.options.slicer))


def _drop_debris(mesh: ColouredMesh, actions: list) -> ColouredMesh:
    labels = face_components(mesh.faces, len(mesh.vertices))
    count = labels.max() + 1
    if count == 1:
        return mesh
    volumes = np.array([signed_volume(mesh.vertices, mesh.faces[labels == k]) for k in range(count)])
    keep = volumes >= MIN_PART_SHARE * volumes.max()
    if keep.all():
        return mesh
    actions.append(f"removed {int((~keep).sum())} loose fragments under {MIN_PART_SHARE:.0%} of the volume")
    return mesh.with_faces(mesh.faces[keep[labels]])


@dataclass
class Surface:
    """The first three stages' output: the checked surface in the model's voxel frame."""

    photo: object
    foreground: object
    reconstruction: object
    mesh: ColouredMesh
    repairs: list
    seconds: dict


def reconstruct_surface(photo, options: MakeOptions, reconstructor, report: Progress,
                        photo_name: Optional[str] = None) -> Surface:
    """Photo -> foreground -> sparse SDF -> closed, repaired, simplified surface (voxel coordinates).

    Shared by :func:`make_model` and the evaluation, so both judge the same surface.
    """
    seconds = {}
    start = time.perf_counter()
    with report.stage("image") as stage:
        loaded = load_photo(photo, name=photo_name)
        stage.report(0.3)
        foreground = extract_foreground(loaded)
    seconds["image"] = time.perf_counter() - start

    start = time.perf_counter()
    with report.stage("reconstruct") as stage:
        reconstruction = reconstructor.reconstruct(foreground, options.resolution, lambda f: stage.report(0.7 * f))
        vertices, faces = reconstruction.volume.extract_surface(lambda f: stage.report(0.7 + 0.3 * f))
    seconds["reconstruct"] = time.perf_counter() - start
    if len(faces) == 0:
        raise MeshError("reconstruction produced no surface")

    start = time.perf_counter()
    repairs = []
    with report.stage("mesh") as stage:
        mesh = ColouredMesh(vertices, faces, metadata={"source": loaded.name})
        mesh = _drop_debris(mesh, repairs)
        stage.report(0.2)
        check = validate_mesh(mesh, check_self_intersections=False)
        if not check.ok:
            mesh, actions = repair_mesh(mesh)
            repairs += actions
        stage.report(0.5)
        mesh = simplify_mesh(mesh, options.max_triangles)
    seconds["mesh"] = time.perf_counter() - start
    return Surface(loaded, foreground, reconstruction, mesh, repairs, seconds)


def make_model(photo, options: MakeOptions, progress: Optional[ProgressCallback] = None,
               photo_name: Optional[str] = None) -> MakeResult:
    """Run every stage from a photo to a placed, validated, coloured mesh.

    Parameters
    ----------
    photo
        Path or bytes of a JPEG, PNG or WebP.
    options
        The job's choices.
    progress
        Called as ``progress(stage, fraction)``.
    photo_name
        Name to record when ``photo`` is bytes.

    Returns
    -------
    MakeResult

    Raises
    ------
    InputError
        Bad photo or options (exit code 2 / HTTP 4xx).
    MeshError
        The model could not be made printable.
    """
    report = Progress(progress)
    printer, settings, palette, reconstructor = options.validate()  # fail on bad choices before any work

    surface = reconstruct_surface(photo, options, reconstructor, report, photo_name)
    loaded, foreground, reconstruction, mesh = surface.photo, surface.foreground, surface.reconstruction, surface.mesh
    repairs, seconds = surface.repairs, surface.seconds

    start = time.perf_counter()
    with report.stage("color"):
        mesh = colour_surface(mesh, reconstruction.vertex_colours)
    seconds["color"] = time.perf_counter() - start

    start = time.perf_counter()
    with report.stage("printing") as stage:
        placed, fit = fit_to_build_volume(mesh, printer, options.height_mm, options.orientation, options.base_cut,
                                          settings.support_threshold_deg)
        stage.report(0.2)
        # The placed mesh is proved printable before anything is attached to its triangles.
        checked = time.perf_counter()
        validation = validate_mesh(placed)
        if not validation.ok:
            placed, actions = repair_mesh(placed)
            repairs += actions
            validation = validate_mesh(placed)
        if not validation.ok:
            raise MeshError("the model is not printable: " + "; ".join(validation.problems))
        if not inside_build_volume(placed, printer):
            raise MeshError(f"internal placement error: the model leaves the {printer.name}'s build volume")
        seconds["validate"] = time.perf_counter() - checked
        stage.report(0.6)
        # Filaments are assigned on the final mesh: the flat-base cut and repairs change triangles.
        filaments = assign_filaments(placed, len(settings.filaments), palette)
        settings.filaments = [Filament(to_hex(c), options.material) for c in filaments.palette]
        if filaments.count > 1:
            placed = placed.copy(face_colours=filaments.palette[filaments.face_filament])
        stage.report(0.8)
        analysis = analyse_print(placed, mesh, printer.nozzle_diameter_mm, settings.support_threshold_deg,
                                 settings.layer_height)
    seconds["printing"] = time.perf_counter() - start - seconds["validate"]
    return MakeResult(mesh=placed, validation=validation, fit=fit, options=options, source_name=loaded.name,
                      mask_source=foreground.source, repairs=repairs, seconds=seconds, settings=settings,
                      filaments=filaments, analysis=analysis, printer=printer)


def write_outputs(result: MakeResult, path, also: tuple = (), report_json: bool = True,
                  progress: Optional[ProgressCallback] = None, slice_gcode: bool = False) -> list:
    """Write the model to ``path`` (.3mf, .stl or .glb), extra formats beside it, and a report.

    Every file is written under a temporary name and renamed when complete. With
    ``slice_gcode`` and PrusaSlicer installed, the 3MF is sliced to ``NAME.gcode`` and
    the estimates go into the report (``result.slice_report``).

    Returns
    -------
    list of str
        Paths written.
    """
    report = Progress(progress)
    written = []
    start = time.perf_counter()
    base = os.path.splitext(os.fspath(path))[0]
    with report.stage("export") as stage:
        write_mesh(path, result.mesh, title=result.title, source=result.source_name,
                   slicer_parts=result.slicer_parts())
        written.append(os.fspath(path))
        for extension in also:
            extra = f"{base}.{extension.lstrip('.')}"
            if os.path.abspath(extra) == os.path.abspath(path):
                continue
            (write_stl if extra.endswith(".stl") else write_glb)(extra, result.mesh)
            written.append(extra)
        stage.report(0.8)
        result.seconds["write"] = time.perf_counter() - start
        if slice_gcode and os.fspath(path).lower().endswith(".3mf"):
            from fabricate.export.slice import find_prusaslicer, slice_3mf

            if find_prusaslicer() is not None:
                with atomic_path(base + ".gcode") as temporary:
                    result.slice_report = slice_3mf(path, temporary)
                result.slice_report.gcode = base + ".gcode"
                written.append(base + ".gcode")
        if report_json:
            write_bytes_atomic(base + ".report.json", json.dumps(result.report(), indent=2).encode())
            written.append(base + ".report.json")
    return written
