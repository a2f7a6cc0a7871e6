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
from fabricate.errors import InputError, MeshError
from fabricate.export import write_glb, write_mesh, write_stl
from fabricate.export.atomic import write_bytes_atomic
from fabricate.image import extract_foreground, load_photo
from fabricate.mesh import ColouredMesh, ValidationReport, repair_mesh, simplify_mesh, validate_mesh
from fabricate.mesh.topology import face_components
from fabricate.mesh.validate import signed_volume
from fabricate.printing import FitReport, fit_to_build_volume, get_printer, inside_build_volume
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

    def to_dict(self) -> dict:
        return asdict(self)


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
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


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
    seconds = {}
    printer = get_printer(options.printer)  # fail on a bad printer before any work
    if options.max_triangles < 1000:
        raise InputError(f"the triangle budget must be at least 1000, got {options.max_triangles}")
    model_options = {}
    if options.model == "classical":
        model_options = dict(back=options.back, back_ratio=options.back_ratio, depth_scale=options.depth_scale,
                             relief=options.relief)
    reconstructor = get_reconstructor(options.model, **model_options)

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

    start = time.perf_counter()
    with report.stage("color"):
        mesh = colour_surface(mesh, reconstruction.vertex_colours)
    seconds["color"] = time.perf_counter() - start

    start = time.perf_counter()
    with report.stage("printing"):
        placed, fit = fit_to_build_volume(mesh, printer, options.height_mm, options.orientation, options.base_cut)
    seconds["printing"] = time.perf_counter() - start

    start = time.perf_counter()
    with report.stage("export") as stage:
        validation = validate_mesh(placed)
        if not validation.ok:
            placed, actions = repair_mesh(placed)
            repairs += actions
            validation = validate_mesh(placed)
        if not validation.ok:
            raise MeshError("the model is not printable: " + "; ".join(validation.problems))
        if not inside_build_volume(placed, printer):
            raise MeshError(f"internal placement error: the model leaves the {printer.name}'s build volume")
        stage.report(0.5)
    seconds["validate"] = time.perf_counter() - start
    return MakeResult(mesh=placed, validation=validation, fit=fit, options=options, source_name=loaded.name,
                      mask_source=foreground.source, repairs=repairs, seconds=seconds)


def write_outputs(result: MakeResult, path, also: tuple = (), report_json: bool = True,
                  progress: Optional[ProgressCallback] = None) -> list:
    """Write the model to ``path`` (.3mf, .stl or .glb), extra formats beside it, and a report.

    Every file is written under a temporary name and renamed when complete.

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
        write_mesh(path, result.mesh, title=result.title, source=result.source_name)
        written.append(os.fspath(path))
        for extension in also:
            extra = f"{base}.{extension.lstrip('.')}"
            if os.path.abspath(extra) == os.path.abspath(path):
                continue
            (write_stl if extra.endswith(".stl") else write_glb)(extra, result.mesh)
            written.append(extra)
        stage.report(0.9)
        result.seconds["write"] = time.perf_counter() - start
        if report_json:
            write_bytes_atomic(base + ".report.json", json.dumps(result.report(), indent=2).encode())
            written.append(base + ".report.json")
    return written
