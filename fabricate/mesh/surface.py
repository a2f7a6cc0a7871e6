"""Stages 1-3 in one call: photos -> foregrounds -> sparse SDF -> closed, simplified surface.

The pipeline, evaluation and training all call this, so they judge the same surface;
it needs no printer (placement comes after, in the pipeline).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from fabricate.errors import MeshError
from fabricate.image import extract_foreground, load_photo
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.simplify import DEFAULT_TRIANGLE_BUDGET, simplify_mesh
from fabricate.mesh.topology import face_components
from fabricate.mesh.validate import signed_volume
from fabricate.progress import Progress
from fabricate.reconstruct.base import PhotoView, Reconstruction, Reconstructor

#: Parts smaller than this share of the main body's volume are dropped as debris.
MIN_PART_SHARE = 0.01


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


def drop_debris(mesh: ColouredMesh, actions: list) -> ColouredMesh:
    """The mesh without loose parts under :data:`MIN_PART_SHARE` of the largest one's volume."""
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
        # The extraction is closed, oriented and manifold by construction (its table:
        # reconstruct/cube_table.py, and tests/test_cube_table.py), so the fresh surface needs no
        # edge checks or repair before simplifying; only loose debris is dropped. The final mesh
        # is judged in full (validate_mesh) after placement, and repaired if it fails.
        repairs = []
        mesh = drop_debris(ColouredMesh(vertices, faces, metadata={"source": loaded[0].name}), repairs)
        stage.report(0.3)
        mesh = simplify_mesh(mesh, max_triangles)
    seconds["mesh"] = time.perf_counter() - start
    return Surface(loaded, views, reconstruction, mesh, repairs, seconds)
