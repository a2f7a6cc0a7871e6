"""Stages 1-3 in one call: photos -> foregrounds -> sparse SDF -> closed, repaired, simplified surface.

The pipeline, evaluation and training all call this, so they judge the same surface;
it needs no printer (placement comes after, in the pipeline).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from fabricate.errors import MeshError
from fabricate.image import extract_foreground, load_photo
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.repair import repair_mesh
from fabricate.mesh.simplify import DEFAULT_TRIANGLE_BUDGET, simplify_mesh
from fabricate.mesh.validate import defects_to_repair, signed_volume
from fabricate.progress import Progress
from fabricate.reconstruct.base import PhotoView, Reconstruction, Reconstructor

#: Parts smaller than this share of the main body's volume are dropped as debris.
MIN_PART_SHARE = 0.01
#: From this many triangles on, a fresh surface is simplified while a second thread checks it
#: (:func:`_checked_beside_simplifying`). Hamburger, same run: at 1024 (2.8M triangles) the
#: mesh stage 8.0 s -> 7.0 s; at 512 (0.7M) it was 0.3 s slower, the two threads contending.
CHECK_BESIDE_SIMPLIFYING = 1_500_000


@dataclass
class Surface:
    """The first three stages' output: the checked surface in the model's voxel frame."""

    photos: list
    views: list
    reconstruction: Reconstruction
    mesh: ColouredMesh
    repairs: list
    seconds: dict

    @property
    def photo(self):
        """The first (front) photo."""
        return self.photos[0]

    @property
    def foreground(self):
        return self.views[0].foreground


def _checked_beside_simplifying(mesh: ColouredMesh, max_triangles: int, stage):
    """:func:`_checked_surface` on a second thread while this one simplifies ``mesh``, and the simplified mesh.

    The two are independent unless the checks find work (fast_simplification holds the GIL for
    most of its run, numpy's sorts in the checks do not). When the checks drop a fragment or
    mend a defect, the simplification is made again from the mended surface, so the result is
    the same as checking first.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="check-surface") as pool:
        checking = pool.submit(_checked_surface, mesh)
        try:
            simplified = simplify_mesh(mesh, max_triangles)
        except Exception:  # an unchecked surface may fail where the mended one will not
            simplified = None
        stage.report(0.5)
        mended, repairs = checking.result()
    if mended is not mesh or simplified is None:
        simplified = simplify_mesh(mended, max_triangles)
    return simplified, repairs


def _checked_surface(mesh: ColouredMesh):
    """``mesh`` without debris and with what the edge checks find repaired, and the actions taken.

    ``mesh`` itself when there was nothing to do (the final mesh is judged in full later); the
    topology the checks sort is the one drop_debris used.
    """
    actions = []
    mesh = drop_debris(mesh, actions)
    if defects_to_repair(mesh):
        mesh, repaired = repair_mesh(mesh)
        actions += repaired
    return mesh, actions


def drop_debris(mesh: ColouredMesh, actions: list) -> ColouredMesh:
    """The mesh without loose parts under :data:`MIN_PART_SHARE` of the largest one's volume."""
    labels = mesh.topology.face_components
    count = labels.max() + 1
    if count == 1:
        return mesh
    volumes = np.array([signed_volume(mesh.vertices, mesh.faces[labels == k]) for k in range(count)])
    keep = volumes >= MIN_PART_SHARE * volumes.max()
    if keep.all():
        return mesh
    actions.append(f"removed {int((~keep).sum())} loose fragments under {MIN_PART_SHARE:.0%} of the volume")
    return mesh.with_faces(mesh.faces[keep[labels]])


def reconstruct_surface(photos: Sequence, reconstructor: Reconstructor, azimuths: Sequence[float] = (0.0,),
                        resolution: int = 256, max_triangles: int = DEFAULT_TRIANGLE_BUDGET,
                        report: Optional[Progress] = None, photo_names: Optional[Sequence] = None) -> Surface:
    """Photos (paths or bytes) -> one closed surface in voxel coordinates.

    ``azimuths`` gives each photo's view (degrees from the front towards the object's
    own left); ``photo_names`` names photos given as bytes.
    """
    report = report or Progress(None)
    names = list(photo_names) if photo_names is not None else [None] * len(photos)
    seconds = {}
    start = time.perf_counter()
    with report.stage("image") as stage:
        loaded, views = [], []
        for index, (photo, name, azimuth) in enumerate(zip(photos, names, azimuths)):
            image = load_photo(photo, name=name)
            stage.report((index + 0.3) / len(photos))
            loaded.append(image)
            views.append(PhotoView(extract_foreground(image), float(azimuth), image.name))
            stage.report((index + 1) / len(photos))
    seconds["image"] = time.perf_counter() - start

    start = time.perf_counter()
    with report.stage("reconstruct") as stage:
        reconstruction = reconstructor.reconstruct_views(views, resolution, lambda f: stage.report(0.7 * f))
        vertices, faces = reconstruction.volume.extract_surface(lambda f: stage.report(0.7 + 0.3 * f))
    seconds["reconstruct"] = time.perf_counter() - start
    if len(faces) == 0:
        raise MeshError("reconstruction produced no surface")

    start = time.perf_counter()
    with report.stage("mesh") as stage:
        mesh = ColouredMesh(vertices, faces, metadata={"source": loaded[0].name})
        if len(mesh.faces) < CHECK_BESIDE_SIMPLIFYING:
            mesh, repairs = _checked_surface(mesh)
            stage.report(0.5)
            mesh = simplify_mesh(mesh, max_triangles)
        else:
            mesh, repairs = _checked_beside_simplifying(mesh, max_triangles, stage)
    seconds["mesh"] = time.perf_counter() - start
    return Surface(loaded, views, reconstruction, mesh, repairs, seconds)
