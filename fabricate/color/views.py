"""Colour a surface from its photos: each point from the photos that see it most directly.

A vertex takes a weighted mean of the photos that see it unoccluded (a ray from the
vertex towards that camera leaves the mesh without hitting it), weighted by a high
power of the cosine between its normal and the direction to the camera: the most
direct photo dominates and seams blend smoothly where two photos see a point about
equally. Samples far from the point's weighted median brightness (a highlight that
moved between photos) are left out of the mean. With delighting, the samples are the
photos' colours with the lighting divided out (:mod:`fabricate.color.delight`) and
highlights are dropped. Vertices no photo sees, and those seen only as a highlight,
are filled from the coloured surface around them (:mod:`fabricate.color.fill`): with
one photo the hidden side takes the colours along the silhouette's rim spread inward,
never a mirror of the front.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import numpy as np

from fabricate.color.delight import HIGHLIGHT_GROW, delight_samples, even_out_regions
from fabricate.color.fill import fill_from_known, vertex_adjacency
from fabricate.color.lab import linear_to_srgb, srgb_to_linear
from fabricate.color.surface_colour import colour_surface
from fabricate.errors import InputError
from fabricate.mesh.archive import mesh_and_extra_from_npz, mesh_to_npz
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.rays import RayScene

#: Weight of a photo is cos(angle between normal and camera) to this power: at 30 degrees off
#: one camera and 60 off the next, the nearer one counts ~80 times more; at 45 / 45 equally.
FACING_POWER = 8.0
#: A photo whose camera sees a surface at less than this cosine (a grazing view) gives no colour.
MIN_FACING = 0.1
#: Visibility rays start this far (voxels) off the surface, so they do not hit their own triangle.
RAY_START_OFFSET = 0.75
#: A sample more than this factor brighter or darker than its point's median is an outlier (a moved highlight).
OUTLIER_RATIO = 1.5


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (outward for counter-clockwise faces)."""
    tri = vertices[faces]
    face_normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 x area
    # Summed per vertex with bincount, corner 0 of every face first, then 1, then 2: the order
    # np.add.at took corner by corner, so the same sums, ten times faster.
    corners = np.asarray(faces, np.int64).T.ravel()
    weights = np.tile(face_normals, (3, 1))
    normals = np.stack([np.bincount(corners, weights[:, k], len(vertices)) for k in range(3)], axis=1)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return normals / np.maximum(length, 1e-12)


def visible_from(scene: RayScene, points: np.ndarray, normals: np.ndarray, towards_camera: np.ndarray) -> np.ndarray:
    """(n,) bool: a ray from each point (nudged outwards) towards the camera hits nothing."""
    return ~scene.any_hit(points + normals * RAY_START_OFFSET, towards_camera)


@dataclass
class PhotoSamples:
    """What one photo says about each vertex: its colour where the photo sees the vertex."""

    seen: np.ndarray      # (k,) int, the vertices it sees
    facing: np.ndarray    # (k,) float, cosine between their normals and the direction to the camera
    colours: np.ndarray   # (k, 3) uint8, the photo's colour there


@dataclass
class SinglePhotoView:
    """A one-photo reconstruction seen as a view: the camera's direction and the model's colour rule."""

    direction: np.ndarray
    sample: Callable[[np.ndarray], np.ndarray]


def single_photo_view(reconstruction) -> SinglePhotoView:
    """The one photo of ``reconstruction`` as a view (it looks along the photo frame's depth axis)."""
    direction = np.array([0.0, 1.0, 0.0])  # the voxel frame's y is away from the viewer (Reconstruction)
    if reconstruction.photo_from_voxel is not None:
        direction = np.linalg.solve(reconstruction.photo_from_voxel[:3, :3], [0.0, 0.0, 1.0])
    return SinglePhotoView(direction / np.linalg.norm(direction), reconstruction.vertex_colours)


def photo_samples(scene: RayScene, vertices: np.ndarray, normals: np.ndarray, view) -> PhotoSamples:
    """The vertices ``view`` sees directly enough and unoccluded, with its colours there."""
    towards_camera = -np.asarray(view.direction, np.float64)
    facing = normals @ towards_camera
    candidates = np.flatnonzero(facing > MIN_FACING)
    seen = candidates[visible_from(scene, vertices[candidates], normals[candidates], towards_camera)]
    return PhotoSamples(seen, facing[seen], np.asarray(view.sample(vertices[seen]), np.uint8).reshape(-1, 3))


def robust_vertex_means(vertex: np.ndarray, values: np.ndarray, weights: np.ndarray, n_vertices: int):
    """Per vertex, the weighted mean of its samples within :data:`OUTLIER_RATIO` of their weighted median brightness.

    Returns (n, 3) means and (n,) bool: which vertices had any sample.
    """
    brightness = values.mean(axis=1) + 1e-6
    order = np.lexsort((brightness, vertex))
    v, b, w = vertex[order], brightness[order], weights[order]
    total = np.bincount(v, w, n_vertices)
    running = np.cumsum(w) - np.repeat(np.cumsum(total) - total, np.bincount(v, minlength=n_vertices))
    # The first sample of each vertex whose running weight passes half is the weighted median.
    passed = running >= 0.5 * total[v]
    first = np.full(n_vertices, len(v))
    np.minimum.at(first, v[passed], np.flatnonzero(passed))
    has = total > 0
    median = np.ones(n_vertices)
    median[has] = b[np.minimum(first[has], len(v) - 1)]
    ratio = brightness / median[vertex]
    keep = (ratio < OUTLIER_RATIO) & (ratio > 1 / OUTLIER_RATIO)
    kept_weight = np.bincount(vertex[keep], weights[keep], n_vertices)
    sums = np.stack([np.bincount(vertex[keep], weights[keep] * values[keep, c], n_vertices) for c in range(3)], 1)
    has = kept_weight > 0
    means = np.zeros((n_vertices, 3))
    means[has] = sums[has] / kept_weight[has, None]
    return means, has


def colour_from_views(mesh: ColouredMesh, views: Sequence, quantum: int = 4, delight: bool = False) -> ColouredMesh:
    """Vertex and face colours of ``mesh`` (voxel coordinates) from every photo.

    Parameters
    ----------
    mesh
        The surface in the reconstruction's voxel coordinates (before placement).
    views
        ``Reconstruction.view_projections``, or ``[single_photo_view(reconstruction)]``:
        anything with a ``direction`` (camera towards the object) and ``sample(points)``.
    quantum
        As for :func:`fabricate.color.surface_colour.colour_surface`.
    delight
        Divide the photos' lighting out and drop highlights (the object's own colours).

    Returns
    -------
    ColouredMesh with ``vertex_colours`` and ``face_colours``, like ``colour_surface``.
    """
    return _colour(mesh, _sample_views(mesh, views), quantum, delight)


class ColourComparison:
    """One surface coloured twice from the same photo samples: as photographed and with the lighting removed.

    ``delit`` is made at once (the model carries it); ``photo`` only when asked for (the web page's
    side-by-side preview), so a job that shows no comparison pays for one colouring. A job keeps
    the comparison (:meth:`to_npz`: the delit surface and what each photo saw) and makes the
    photo's colouring from it when the page first asks (:meth:`from_npz`).
    """

    def __init__(self, mesh: ColouredMesh, samples: "_Samples", quantum: int, delit: ColouredMesh | None = None):
        self._mesh, self._samples, self._quantum = mesh, samples, quantum
        self.delit = delit if delit is not None else _colour(mesh, samples, quantum, True)

    @cached_property
    def photo(self) -> ColouredMesh:
        return _colour(self._mesh, self._samples, self._quantum, False)

    def to_npz(self) -> bytes:
        """The delit surface and, per photo, the vertices it saw, how directly, and its colours there."""
        extra = {"quantum": np.array([self._quantum], np.int64)}
        for index, seen in enumerate(self._samples.per_photo):
            extra.update({f"seen_{index}": seen.seen.astype(np.int64), f"facing_{index}": seen.facing,
                          f"colours_{index}": seen.colours})
        return mesh_to_npz(self.delit, extra=extra)

    @classmethod
    def from_npz(cls, data: bytes, what: str) -> "ColourComparison":
        """What :meth:`to_npz` kept; ``what`` names it in the error a damaged archive raises."""
        delit, extra = mesh_and_extra_from_npz(data, what)
        n = len(delit.vertices)
        per_photo = []
        for index in range(sum(name.startswith("seen_") for name in extra)):
            seen, facing, colours = (extra.get(f"{name}_{index}") for name in ("seen", "facing", "colours"))
            if seen is None or facing is None or colours is None or seen.ndim != 1 or seen.dtype.kind not in "iu" \
                    or facing.shape != seen.shape or colours.shape != (len(seen), 3) or colours.dtype != np.uint8 \
                    or (len(seen) and (seen.min() < 0 or seen.max() >= n)) or not np.isfinite(facing).all():
                raise InputError(f"{what} is damaged: photo {index + 1}'s samples do not fit its surface")
            per_photo.append(PhotoSamples(seen.astype(np.int64), facing.astype(np.float64), colours))
        quantum = extra.get("quantum")
        if quantum is None or quantum.shape != (1,) or not 1 <= int(quantum[0]) <= 64 or delit.face_colours is None:
            raise InputError(f"{what} is damaged: it holds no colouring")
        samples = _Samples(vertex_normals(delit.vertices, delit.faces), vertex_adjacency(delit.faces, n), per_photo)
        return cls(delit, samples, int(quantum[0]), delit=delit)


def colour_comparison(mesh: ColouredMesh, views: Sequence, quantum: int = 4) -> ColourComparison:
    """Both colourings of :func:`colour_from_views` (without and with delighting), the photos sampled once."""
    return ColourComparison(mesh, _sample_views(mesh, views), quantum)


@dataclass
class _Samples:
    normals: np.ndarray
    adjacency: object
    per_photo: list


def _sample_views(mesh: ColouredMesh, views: Sequence) -> _Samples:
    normals = vertex_normals(mesh.vertices, mesh.faces)
    scene = RayScene(mesh.vertices, mesh.faces)
    per_photo = [photo_samples(scene, mesh.vertices, normals, view) for view in views]
    return _Samples(normals, vertex_adjacency(mesh.faces, len(mesh.vertices)), per_photo)


def _colour(mesh: ColouredMesh, samples: _Samples, quantum: int, delight: bool) -> ColouredMesh:
    vertices, faces = mesh.vertices, mesh.faces
    n = len(vertices)
    normals, adjacency, per_photo = samples.normals, samples.adjacency, samples.per_photo
    vertex = np.concatenate([s.seen for s in per_photo])
    facing = np.concatenate([s.facing for s in per_photo])
    weights = facing ** FACING_POWER
    colours = np.concatenate([s.colours for s in per_photo])
    # One lighting for all photos: handheld photos from around an object share the room's light.
    delit = delight_samples(normals[vertex], srgb_to_linear(colours), facing) if delight and len(vertex) else None
    if delit is not None:
        values = delit.albedo
        highlight = np.concatenate([_grown(delit.highlight[slice_], s.seen, adjacency, n)
                                    for s, slice_ in zip(per_photo, _slices(per_photo))])
        weights = np.where(highlight, 0.0, weights)
    else:
        values = colours.astype(np.float64)
    means, known = robust_vertex_means(vertex, values, weights, n)
    if delit is not None:  # the shading the lighting fit left, over the surface: needs the vertices' neighbours
        shading = np.bincount(vertex, delit.shading * facing, n) / np.maximum(np.bincount(vertex, facing, n), 1e-12)
        means = even_out_regions(means, known, adjacency, shading)
    filled = fill_from_known(vertices, faces, means, known, adjacency)
    result = linear_to_srgb(filled) if delight else np.clip(np.round(filled), 0, 255).astype(np.uint8)
    return colour_surface(mesh, lambda points: result, quantum)


def _slices(per_photo) -> list:
    ends = np.cumsum([len(s.seen) for s in per_photo])
    return [slice(end - len(s.seen), end) for s, end in zip(per_photo, ends)]


def _grown(highlight: np.ndarray, seen: np.ndarray, adjacency, n: int) -> np.ndarray:
    """A photo's highlight samples with :data:`HIGHLIGHT_GROW` rings of seen neighbours (the soft edge)."""
    if not highlight.any():
        return highlight
    mask = np.zeros(n, bool)
    mask[seen[highlight]] = True
    in_photo = np.zeros(n, bool)
    in_photo[seen] = True
    for _ in range(HIGHLIGHT_GROW):
        mask |= (adjacency @ mask.astype(np.float64) > 0) & in_photo
    return mask[seen]
