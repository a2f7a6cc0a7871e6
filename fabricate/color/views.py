"""Colour a surface from several photos: each point from the photos that see it most directly.

A vertex takes a weighted mean of the photos that see it unoccluded (a ray from the
vertex towards that camera leaves the mesh without hitting it), weighted by a high
power of the cosine between its normal and the direction to the camera: the most
direct photo dominates and seams blend smoothly where two photos see a point about
equally. Vertices no photo sees take the colour of the nearest seen vertex.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from fabricate.color.surface_colour import colour_surface
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.reconstruct.base import ViewProjection

#: Weight of a photo is cos(angle between normal and camera) to this power: at 30 degrees off
#: one camera and 60 off the next, the nearer one counts ~80 times more; at 45 / 45 equally.
FACING_POWER = 8.0
#: A photo whose camera sees a surface at less than this cosine (a grazing view) gives no colour.
MIN_FACING = 0.1
#: Visibility rays start this far (voxels) off the surface, so they do not hit their own triangle.
RAY_START_OFFSET = 0.75


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (outward for counter-clockwise faces)."""
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 x area
    normals = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(normals, faces[:, corner], face_normals)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)


def visible_from(mesh, points: np.ndarray, normals: np.ndarray, towards_camera: np.ndarray) -> np.ndarray:
    """(n,) bool: a ray from each point (nudged outwards) towards the camera hits nothing."""
    origins = points + normals * RAY_START_OFFSET
    directions = np.broadcast_to(towards_camera, origins.shape)
    return ~mesh.ray.intersects_any(origins, np.ascontiguousarray(directions))


def colour_from_views(mesh: ColouredMesh, view_projections: Sequence[ViewProjection],
                      quantum: int = 4) -> ColouredMesh:
    """Vertex and face colours of ``mesh`` (voxel coordinates) from every photo.

    Parameters
    ----------
    mesh
        The surface in the reconstruction's voxel coordinates (before placement).
    view_projections
        ``Reconstruction.view_projections``.
    quantum
        As for :func:`fabricate.color.surface_colour.colour_surface`.

    Returns
    -------
    ColouredMesh with ``vertex_colours`` and ``face_colours``, like ``colour_surface``.
    """
    import trimesh

    vertices, faces = mesh.vertices, mesh.faces
    normals = vertex_normals(vertices, faces)
    ray_mesh = trimesh.Trimesh(vertices, faces, process=False)
    total = np.zeros((len(vertices), 3))
    weight_sum = np.zeros(len(vertices))
    for projection in view_projections:
        towards_camera = -np.asarray(projection.direction, np.float64)
        facing = normals @ towards_camera
        candidates = np.flatnonzero(facing > MIN_FACING)
        seen = candidates[visible_from(ray_mesh, vertices[candidates], normals[candidates], towards_camera)]
        weight = facing[seen] ** FACING_POWER
        total[seen] += weight[:, None] * projection.sample(vertices[seen])
        weight_sum[seen] += weight
    seen = weight_sum > 0
    colours = np.zeros((len(vertices), 3), np.uint8)
    colours[seen] = np.clip(np.round(total[seen] / weight_sum[seen, None]), 0, 255).astype(np.uint8)
    if seen.any() and not seen.all():
        _, nearest = cKDTree(vertices[seen]).query(vertices[~seen], workers=-1)
        colours[~seen] = colours[seen][nearest]
    return colour_surface(mesh, lambda points: colours, quantum)
