"""Reduce a model's colours to the N filaments a printer can load."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from fabricate.color.lab import lab_to_srgb, linear_to_lab, srgb_to_lab, srgb_to_linear, to_hex
from fabricate.color.regions import clean_regions
from fabricate.errors import InputError
from fabricate.mesh.coloured_mesh import ColouredMesh

MAX_FILAMENTS = 16
#: Smallest colour island kept, in triangles.
MIN_ISLAND = 20
#: The ``--colors`` word that lets the object's colours choose the number of filaments.
AUTO_COUNT = "auto"
#: With ``--colors auto``, colours farther apart than this are different paints (CIELAB units,
#: about 6 just-noticeable differences) ...
DISTINCT_COLOUR = 15.0
#: ... after either is brightened or darkened by up to this factor in linear light: the shading
#: a delighting leaves (a cast shadow, a wrong normal) is one paint, not two; two paints of one
#: hue more than this far apart in brightness (white and mid grey) stay two.
SHADING_LEFT = 2.0
SHADING_SCALES = np.geomspace(1 / SHADING_LEFT, SHADING_LEFT, 25)
#: A colour on less of the surface than this share gets no filament of its own (it joins the nearest).
MIN_FILAMENT_SHARE = 0.03


@dataclass
class FilamentAssignment:
    """Which filament prints each triangle.

    Attributes
    ----------
    face_filament : (m,) int
        0-based filament index per triangle.
    palette : (n, 3) uint8
        Filament colours.
    area_share : (n,) float
        Share of the surface area per filament.
    """

    face_filament: np.ndarray
    palette: np.ndarray
    area_share: np.ndarray

    @property
    def count(self) -> int:
        return len(self.palette)

    def summary(self) -> list:
        return [{"filament": i + 1, "colour": to_hex(c), "area_share": round(float(s), 4)}
                for i, (c, s) in enumerate(zip(self.palette, self.area_share))]


def _squared_distances(columns: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(n, k) squared distances from points, given as their (d, n) coordinate columns, to each centre.

    Axis by axis per centre, the same sums in the same order as ``((p - c) ** 2).sum(-1)``
    (so bit for bit its result) without the (n, k, d) temporaries. Any dimension: colours are 3-D,
    the delighting's colour features 2-D.
    """
    distances = np.empty((columns.shape[1], len(centres)))
    for j, centre in enumerate(centres):
        total = (columns[0] - centre[0]) ** 2
        for axis in range(1, len(columns)):
            total += (columns[axis] - centre[axis]) ** 2
        distances[:, j] = total
    return distances


def weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, seed: int = 0, iterations: int = 40):
    """Weighted k-means with k-means++ seeding; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    columns = np.ascontiguousarray(np.asarray(points, np.float64).T)
    first = int(np.argmax(weights))  # start from the dominant colour, not a random one
    centres = [points[first]]
    for _ in range(1, k):
        d2 = np.min(_squared_distances(columns, np.array(centres)), axis=1) * weights
        if d2.sum() <= 0:
            break
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum())])
    centres = np.array(centres, np.float64)
    weights = np.asarray(weights, np.float64)
    weighted_columns = columns * weights  # each centre's weighted sum is then one bincount per axis
    for _ in range(iterations):
        assign = np.argmin(_squared_distances(columns, centres), axis=1)
        mass = np.bincount(assign, weights, minlength=len(centres))
        held = mass > 0  # a centre nothing weighs on stays where it is
        new = centres.copy()
        for axis, column in enumerate(weighted_columns):
            new[held, axis] = np.bincount(assign, column, minlength=len(centres))[held] / mass[held]
        if np.allclose(new, centres, atol=1e-3):
            break
        centres = new
    assign = np.argmin(_squared_distances(columns, centres), axis=1)
    return centres, assign


def _paint_distance(lab_a: np.ndarray, lab_b: np.ndarray) -> float:
    """CIELAB distance between two colours, forgiving up to :data:`SHADING_LEFT` x of brightness.

    Shading scales a paint's linear light; the smallest distance between ``a`` and ``b``
    scaled by any factor in [1 / SHADING_LEFT, SHADING_LEFT] is what tells two paints apart.
    """
    linear_b = srgb_to_linear(lab_to_srgb(lab_b[None]))[0]
    scaled = linear_to_lab(np.clip(linear_b[None] * SHADING_SCALES[:, None], 0, 1))
    return float(np.linalg.norm(scaled - lab_a, axis=1).min())


def distinct_colour_count(lab: np.ndarray, weights: np.ndarray, most: int, seed: int = 0) -> int:
    """How many filaments the colours ``lab`` (weighted by area) need, at most ``most``.

    ``most`` clusters (weighted k-means) are merged pairwise, closest first, while two
    are nearer than :data:`DISTINCT_COLOUR` (:func:`_paint_distance`); the clusters left
    that cover at least :data:`MIN_FILAMENT_SHARE` of the surface are the object's paints.
    A cluster that is a mix of two larger ones (:func:`_blend_gap`) is none. So one paint
    with some shading left in it is one filament, the blend between two paints (where the
    hidden side was filled in) is none, and a second paint over a few per cent of the
    surface gets its own.
    """
    centres, assign = weighted_kmeans(lab, weights, min(most, len(lab)), seed)
    centres = list(centres)
    mass = list(np.bincount(assign, weights, minlength=len(centres)))
    while len(centres) > 1:
        gap, i, j = min((min(_paint_distance(centres[i], centres[j]), _paint_distance(centres[j], centres[i])), i, j)
                        for i in range(len(centres)) for j in range(i))
        if gap >= DISTINCT_COLOUR:
            break
        total = mass[i] + mass[j]
        centres[j] = (centres[i] * mass[i] + centres[j] * mass[j]) / max(total, 1e-12)
        mass[j] = total
        del centres[i], mass[i]
    share = np.array(mass) / max(sum(mass), 1e-12)
    paints = []
    # Largest first; a colour that is a mix of two larger ones (they cover more: it is their edge) is no paint.
    for index in np.argsort(-share, kind="stable"):
        if share[index] >= MIN_FILAMENT_SHARE and _blend_gap(centres[index], paints) >= DISTINCT_COLOUR:
            paints.append(centres[index])
    return max(1, len(paints))


def _blend_gap(lab: np.ndarray, others: list) -> float:
    """How far ``lab`` is from every mix (in linear light) of two of ``others``, in CIELAB units.

    The hidden side's fill and the soft edge between two paints mix them; a mix is no paint.
    """
    linear = [srgb_to_linear(lab_to_srgb(p[None]))[0] for p in others]
    mixes = np.linspace(0, 1, 21)[:, None]
    gap = np.inf
    for i in range(len(linear)):
        for j in range(i):
            blend = linear_to_lab(mixes * linear[i] + (1 - mixes) * linear[j])
            gap = min(gap, float(np.linalg.norm(blend - lab, axis=1).min()))
    return gap


def assign_filaments(mesh: ColouredMesh, count: int, palette: Optional[np.ndarray] = None,
                     min_island: int = MIN_ISLAND, seed: int = 0, auto: bool = False) -> FilamentAssignment:
    """Cluster face colours into ``count`` filaments in CIELAB and clean the regions.

    Parameters
    ----------
    mesh
        Mesh with ``face_colours``.
    count
        Number of filaments, 1 to 16 (with ``auto``, the most there may be).
    auto
        Choose the number from the mesh's distinct colours (:func:`distinct_colour_count`),
        at most ``count`` (``--colors auto``).
    palette : (k, 3) uint8, optional
        The user's filament colours. Clusters are matched one-to-one to the nearest
        palette colours (so ``count <= k``), and take those colours.
    min_island
        Regions smaller than this many triangles are merged into a neighbour.
    seed
        Seed of the clustering (same input and seed, same output).

    Returns
    -------
    FilamentAssignment
    """
    if not 1 <= count <= MAX_FILAMENTS:
        raise InputError(f"the number of colours must be between 1 and {MAX_FILAMENTS}, got {count}")
    if palette is not None and count > len(palette):
        raise InputError(f"{count} colours asked for but the palette lists only {len(palette)}")
    if mesh.face_colours is None:
        mesh = mesh.with_face_colours_from_vertices()
    tri = mesh.vertices[mesh.faces]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1) / 2
    packed = mesh.face_colours.astype(np.int64) @ np.array([65536, 256, 1])
    unique, inverse = np.unique(packed, return_inverse=True)
    colours = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1).astype(np.uint8)
    weights = np.bincount(inverse.ravel(), area)
    lab = srgb_to_lab(colours)
    if auto:
        count = distinct_colour_count(lab, weights, count, seed)
    centres, assign = weighted_kmeans(lab, weights, min(count, len(colours)), seed)
    labels = assign[inverse.ravel()]
    if palette is not None:
        palette_lab = srgb_to_lab(palette)
        cost = ((centres[:, None] - palette_lab[None]) ** 2).sum(-1)
        from scipy.optimize import linear_sum_assignment  # only here: scipy.optimize costs 0.1-0.3 s to import

        rows, cols = linear_sum_assignment(cost)
        chosen = np.empty(len(centres), np.int64)
        chosen[rows] = cols
        result_palette = palette[chosen]
    else:
        result_palette = lab_to_srgb(centres)
    if len(centres) > 1:
        labels = clean_regions(mesh.faces, len(mesh.vertices), labels, min_island,
                               pairs=mesh.topology.adjacent_faces)
    # Renumber by area so filament 1 is the main colour, then drop filaments that vanished.
    share = np.bincount(labels, area, minlength=len(centres))
    order = [j for j in np.argsort(-share, kind="stable") if share[j] > 0]
    remap = np.full(len(centres), -1)
    remap[order] = np.arange(len(order))
    labels = remap[labels]
    share = share[order] / share.sum()
    return FilamentAssignment(face_filament=labels.astype(np.int64), palette=result_palette[order],
                              area_share=share)
