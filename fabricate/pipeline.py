"""The whole job: photos -> reconstruction -> checked mesh -> colours -> placed on a printer -> files.

Each stage is a call into its package; this module only wires them together,
reports progress and times the stages. The CLI and the web job runner call
:func:`make_model` and :func:`write_outputs`. The options live in
:mod:`fabricate.options` (re-exported here).
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np
from threadpoolctl import threadpool_limits

from fabricate import __version__
from fabricate.color.views import ColourComparison, colour_comparison, colour_from_views, single_photo_view
from fabricate.color.lab import to_hex
from fabricate.color.palette import FilamentAssignment, assign_filaments
from fabricate.errors import BadOption, MeshError
from fabricate.export.formats import output_file, output_files, write_model_output
from fabricate.atomic import atomic_path, write_bytes_atomic
from fabricate.mesh import ColouredMesh, ValidationReport, distinct_colours, repair_mesh, validate_mesh
from fabricate.mesh.surface import reconstruct_surface
from fabricate.export.slicer_parts import SlicerParts, parse_slicers
from fabricate.options import MakeOptions
from fabricate.printing import FitReport, fit_to_build_volume, inside_build_volume, with_colours_of
from fabricate.printing.analysis import PrintAnalysis, placed_findings, pose_options, with_poses
from fabricate.printing.estimate import PrintEstimate, estimate_from_slice, estimate_print
from fabricate.printing.settings import Filament, PrintSettings
from fabricate.progress import Progress, ProgressCallback

__all__ = ["MakeOptions", "MakeResult", "make_model", "write_outputs", "output_paths", "check_outputs"]

#: Threads OpenBLAS may use while a model is made (numpy's and scipy's copies alike).
BLAS_THREADS = 1


@dataclass
class MakeResult:
    """A finished job: the placed mesh and what was measured on the way."""

    mesh: ColouredMesh
    validation: ValidationReport
    fit: FitReport
    options: MakeOptions
    source_names: list
    mask_sources: list
    repairs: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    settings: Optional[PrintSettings] = None
    filaments: Optional[FilamentAssignment] = None
    analysis: Optional[PrintAnalysis] = None
    printer: object = None
    slice_report: object = None
    view_fits: Optional[list] = None
    #: What happened to the photos on the way in (e.g. a large JPEG decoded reduced).
    photo_notes: list = field(default_factory=list)
    #: With delighting: the surface before placement in the photo's colours and in the delit ones (the page shows both).
    colour_comparison: Optional[ColourComparison] = None

    @property
    def source_name(self) -> str:
        """The first (front) photo's name."""
        return self.source_names[0]

    @property
    def mask_source(self) -> str:
        return ", ".join(dict.fromkeys(self.mask_sources))

    @property
    def title(self) -> str:
        return self.options.title or os.path.splitext(self.source_name)[0].replace("_", " ")

    def report(self) -> dict:
        """JSON-ready summary (written next to the 3MF)."""
        return {
            "fabricate_version": __version__,
            "source_photo": self.source_name,
            "source_photos": self.source_names,
            "mask_source": self.mask_source,
            "photo_notes": self.photo_notes,
            "options": self.options.to_dict(),
            "views": self.view_fits,
            "fit": self.fit.to_dict(),
            "validation": self.validation.to_dict(),
            "repairs": self.repairs,
            "colours": (int(len(distinct_colours(self.mesh.face_colours)[0]))
                        if self.mesh.face_colours is not None else 0),
            "filaments": self.filaments.summary() if self.filaments is not None else [],
            "print_settings": self.settings.to_dict() if self.settings is not None else None,
            "analysis": self.analysis.to_dict() if self.analysis is not None else None,
            "slicing": self.slice_report.to_dict() if self.slice_report is not None else None,
            "print_estimate": self.print_estimate().to_dict() if self.settings is not None else None,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def print_estimate(self, price_per_kg: Optional[float] = None) -> PrintEstimate:
        """Filament and time: the slicer's figures when it ran (``--slice``), else the stated estimate."""
        if self.slice_report is not None:
            return estimate_from_slice(self.slice_report, price_per_kg)
        face_filament = self.filaments.face_filament if self.filaments is not None else None
        return estimate_print(self.mesh, self.settings, self.printer.nozzle_diameter_mm, face_filament, price_per_kg)

    def slicer_parts(self) -> Optional[SlicerParts]:
        if self.filaments is None or self.settings is None:
            return None
        return SlicerParts(self.filaments.face_filament, self.settings, self.printer,
                           parse_slicers(self.options.slicer))


def make_model(photos: Union[Sequence, str, bytes, os.PathLike], options: MakeOptions,
               progress: Optional[ProgressCallback] = None,
               photo_names: Optional[Sequence[str]] = None) -> MakeResult:
    """Run every stage from one or several photos of an object to a placed, validated, coloured mesh.

    Parameters
    ----------
    photos
        A path or bytes of a JPEG, PNG or WebP, or a list of them (photos of one
        object from around it; ``options.views`` says from where).
    options
        The job's choices.
    progress
        Called as ``progress(stage, fraction)``.
    photo_names
        Names to record for photos given as bytes.

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
    # BLAS on one thread: our matrix products are small (n x 3, n x 9), where OpenBLAS's second
    # thread only spins, taking the core the proof's thread needs (robot at 256: 0.4 s less CPU).
    with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
        return _make_model(photos, options, progress, photo_names)


def _make_model(photos, options: MakeOptions, progress: Optional[ProgressCallback],
                photo_names: Optional[Sequence[str]]) -> MakeResult:
    if isinstance(photos, (str, bytes, os.PathLike)):
        photos = [photos]
    photos = list(photos)
    report = Progress(progress)
    plan = options.validate(len(photos))  # fail on bad choices before any work
    printer, settings, palette = plan.printer, plan.settings, plan.palette

    surface = reconstruct_surface(photos, plan.reconstructor, plan.azimuths, options.resolution,
                                  options.max_triangles, report, photo_names)
    mesh, reconstruction, repairs, seconds = surface.mesh, surface.reconstruction, surface.repairs, surface.seconds

    def filaments_of(on: ColouredMesh):
        # On the final mesh: the flat-base cut and repairs change triangles.
        return assign_filaments(on, len(settings.filaments), palette, auto=options.auto_colours)

    def timed(work, *args):
        begun = time.perf_counter()
        return work(*args), time.perf_counter() - begun

    def proof_and_findings(on: ColouredMesh):
        """(validation, its seconds, the placed mesh's findings); the findings are None where they
        failed on a mesh that fails the proof: the proof's answer decides."""
        on.topology, on.face_geometry  # computed once here, shared by both
        validation, validation_seconds = timed(validate_mesh, on)
        try:
            findings = placed_findings(on, printer.nozzle_diameter_mm, settings.support_threshold_deg,
                                       settings.layer_height)
        except Exception:
            if validation.ok:
                raise
            findings = None
        return validation, validation_seconds, findings

    # A second thread places the shape on the bed, proves it and measures it there, while this one
    # colours the surface, then compares the poses and assigns the filaments: the placement, the
    # proof and the placed findings need only the triangles (numpy, Embree, SuperLU and our compiled
    # loops release the GIL; manifold3d holds it). The colours then go onto the placed triangles as
    # the flat-base cut would have carried them. Robot at 256 on 2 cores, each thread about 1.1 s.
    shape = mesh.copy(vertex_colours=None, face_colours=None)
    with ThreadPoolExecutor(1, thread_name_prefix="printing") as pool:
        placing = pool.submit(timed, fit_to_build_volume, shape, printer, options.height_mm, options.orientation,
                              options.base_cut, settings.support_threshold_deg)
        checked = pool.submit(lambda: proof_and_findings(placing.result()[0][0]))
        start = time.perf_counter()
        with report.stage("color"):
            # One photo or several, the same rule: each point from the photos that see it, the rest filled around.
            views = reconstruction.view_projections or [single_photo_view(reconstruction)]
            comparison = colour_comparison(mesh, views) if options.delight == "auto" else None
            coloured = comparison.delit if comparison is not None else colour_from_views(mesh, views)
        seconds["color"] = time.perf_counter() - start
        start = time.perf_counter()
        with report.stage("printing") as stage:
            (placed, fit), seconds["printing"] = placing.result()
            placed = with_colours_of(placed, fit, coloured)
            poses = pose_options(placed, shape, settings.support_threshold_deg)
            stage.report(0.3)
            validation, seconds["validate"], findings = checked.result()
            if validation.ok:
                filaments = filaments_of(placed)
            else:
                # A mesh that needs repair gets all again: the proof and the findings beside the filaments.
                placed, actions = repair_mesh(placed)
                repairs += actions
                checked = pool.submit(proof_and_findings, placed)
                try:
                    filaments = filaments_of(placed)
                except Exception:
                    filaments = None  # the proof's answer decides, as above
                validation, again, findings = checked.result()
                seconds["validate"] += again
                if not validation.ok:
                    raise MeshError("the model is not printable: " + "; ".join(validation.problems))
                if filaments is None:
                    filaments = filaments_of(placed)  # raises what it raised, on a mesh now proved
            analysis = with_poses(findings, poses)
            if not inside_build_volume(placed, printer):
                raise MeshError(f"internal placement error: the model leaves the {printer.name}'s build volume")
            stage.report(0.8)
            settings.filaments = [Filament(to_hex(c), options.material) for c in filaments.palette]
            if filaments.count > 1:
                placed = placed.copy(face_colours=filaments.palette[filaments.face_filament])
    # The printing stage's time is the placement's (on the second thread) and this thread's after the
    # colours (the poses, the wait for the proof and the findings, the filaments); validation's is its
    # own: the stages ran beside each other, so their times add up to more than the whole.
    seconds["printing"] += time.perf_counter() - start
    return MakeResult(mesh=placed, validation=validation, fit=fit, options=options,
                      source_names=[p.name for p in surface.photos],
                      mask_sources=[v.foreground.source for v in surface.views], repairs=repairs, seconds=seconds,
                      settings=settings, filaments=filaments, analysis=analysis, printer=printer,
                      view_fits=reconstruction.view_fits,
                      photo_notes=[p.scaling_note for p in surface.photos if p.scaling_note],
                      colour_comparison=comparison)


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
    paths = output_paths(path, also, report_json, slice_gcode)
    with report.stage("export") as stage:
        # Each format keeps the details it can hold (3MF all of them, STL and GLB none); the
        # textured assets (GLB, OBJ) take their own texture size and triangle budget.
        details = {"title": result.title, "source": result.source_name, "slicer_parts": result.slicer_parts(),
                   "texture_size": result.options.texture_size, "asset_triangles": result.options.asset_triangles}
        for model_path in paths.models:
            written += write_model_output(model_path, result.mesh, **details)
        stage.report(0.8)
        result.seconds["write"] = time.perf_counter() - start
        if paths.gcode is not None:
            from fabricate.export.slice import find_prusaslicer, slice_3mf

            if find_prusaslicer() is not None:
                with atomic_path(paths.gcode) as temporary:
                    result.slice_report = slice_3mf(paths.models[0], temporary)
                result.slice_report.gcode = paths.gcode
                written.append(paths.gcode)
        if paths.report is not None:
            write_bytes_atomic(paths.report, json.dumps(result.report(), indent=2).encode())
            written.append(paths.report)
    return written


@dataclass
class OutputPaths:
    """Every file a job writes: the model (and its other formats), the G-code, the report."""

    models: list
    gcode: Optional[str]
    report: Optional[str]

    def all(self) -> list:
        """Every file, an OBJ's material and texture included."""
        files = [f for model in self.models for f in output_files(model)]
        return files + [p for p in (self.gcode, self.report) if p is not None]


def output_paths(path, also: Sequence[str] = (), report_json: bool = True, slice_gcode: bool = False) -> OutputPaths:
    """Where :func:`write_outputs` writes, decided in one place (and checked before any work)."""
    path = os.fspath(path)
    base = os.path.splitext(path)[0]
    models = [path] + [extra for extra in (output_file(base, e.lstrip('.')) for e in also)
                       if os.path.abspath(extra) != os.path.abspath(path)]
    gcode = base + ".gcode" if slice_gcode and path.lower().endswith(".3mf") else None
    return OutputPaths(list(dict.fromkeys(models)), gcode, base + ".report.json" if report_json else None)


def check_outputs(paths: OutputPaths, inputs: Sequence = ()) -> None:
    """Refuse, before any work, outputs that would overwrite an input or cannot be written.

    Raises BadOption naming the file: an output that is an input (the same file, also
    through links), a folder, or a place whose folder is a file or not writable.
    """
    sources = [os.path.realpath(os.fspath(p)) for p in inputs if isinstance(p, (str, os.PathLike))]
    for path in paths.all():
        real = os.path.realpath(path)
        if real in sources or any(os.path.exists(real) and os.path.samefile(real, s) for s in sources
                                  if os.path.exists(s)):
            raise BadOption(f"{path} is one of the input photos; choose another output name")
        if os.path.isdir(real):
            raise BadOption(f"{path} is a folder; give a file name")
        folder = os.path.dirname(real)
        while not os.path.exists(folder):  # missing folders are created: judge the first that exists
            folder = os.path.dirname(folder)
        if not os.path.isdir(folder):
            raise BadOption(f"cannot write {path}: {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise BadOption(f"cannot write {path}: the folder {folder} is not writable")
