"""Several photos of one object: the visual hull in a sparse SDF, rounded where the photos say so.

The poses come from :mod:`fabricate.reconstruct.views_align`. Each photo is resampled
at voxel scale onto a (u, z) image whose signed distance to the silhouette, read at
every sample's projection, bounds the solid; the maximum over photos is the hull's
distance function (1-Lipschitz, so whole 8^3 blocks are kept or discarded from their
centre sample alone). Rounding, where it applies, bounds the depth along each view
by that photo's Poisson inflation (see :func:`rounding_terms`), as strongly as the
views leave the hull's corners uncarved (:func:`rounding_strength`); those depth
bounds are kept about 1-Lipschitz too (:func:`_depth_bound`), so culling misses no
surface and the mesh comes out closed without repair.

Voxel frame: the one the view labels define (x the right of a photo from the front, y
away from it, z up), so the same photos in any order give the same volume; a front
photo sees it like a single-photo model's. ``photo_from_voxel`` maps it into the first
photo given (rotation included), so evaluation can put the model where that camera saw it.
"""
from __future__ import annotations

import math
import warnings
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
from scipy import ndimage

from fabricate.reconstruct.base import PhotoView, Reconstruction, ViewProjection
from fabricate.reconstruct.classical import BAND, MARGIN, ClassicalReconstructor
from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF
from fabricate.reconstruct.views_align import (ViewPose, align_views, resample_view,
                                               view_angle, view_axes)

#: Smallest resolution (voxels across the object) the hull is built at.
MIN_RESOLUTION = 32
#: Largest distance from a block's centre sample to any of its samples, in voxels.
BLOCK_REACH = math.sqrt(3) * BLOCK / 2
#: Blocks evaluated per call of the distance function.
BATCH_BLOCKS = 2048
#: Views whose directions differ by less than this (sine of the angle) do not bound each other's depth.
MIN_CROSSING_SINE = 0.2
#: Rounding strength where the views leave the hull square corners (view directions 90 degrees
#: apart: front/left/back/right or any 2-4 of them); 0 = the plain hull, 1 = each view's depth
#: all the way to its shading-weighted inflation. Views closer together scale it down (see
#: rounding_strength, which has the training-mesh figures it was chosen from).
DEFAULT_ROUNDING = 1.0
#: Scale the rounding by how sharp the corners the views leave in the hull are (rounding_strength).
ROUND_BY_VIEW_GAP = True
#: The view gap DEFAULT_ROUNDING is meant for (degrees): square hull corners.
SQUARE_GAP_DEG = 90.0
#: Round only where the photo's shading across a row looks curved (see shading_cue).
ROUND_FROM_SHADING = True
#: Relative luminance variation across a row (std / mean) at which shading counts as fully curved.
CURVED_SHADING_VARIATION = 0.1
#: Rows with fewer silhouette pixels than this give no shading cue.
MIN_CUE_PIXELS = 8
#: A depth bound's distance is divided by its slab's slope, but by no less than this.
MIN_SLOPE = 0.02
#: Outlines are rasterised this many times finer than the voxels (see Silhouette).
SILHOUETTE_SUPERSAMPLE = 4
#: Per-layer quantities of the rounding (depth scale, shading cue) are smoothed over this share of
#: the height: computed layer by layer they jump between neighbouring layers and leave ridges on the
#: surface, one per voxel layer, that would print as ridges too.
LAYER_SMOOTHING = 0.02


class ViewGrid:
    """The fine voxel grid, and where each voxel falls in each photo.

    Voxel (i, j, k) is the object point ``lo + ((i, j, k) - MARGIN) * step`` (object units).
    """

    def __init__(self, bounds: np.ndarray, resolution: int):
        extent = bounds[1] - bounds[0]
        self.step = float(extent.max()) / (resolution - 2 * MARGIN)
        self.lo = bounds[0]
        samples = np.ceil(extent / self.step).astype(int) + 2 * MARGIN + 1
        self.shape = tuple(int(-(-n // BLOCK) * BLOCK) for n in samples)
        corners = np.stack(np.meshgrid(*[[0, n - 1] for n in self.shape[:2]], indexing="ij"), -1).reshape(-1, 2)
        self.reach = float(np.linalg.norm(self.object_xy(corners), axis=1).max()) + 2 * self.step
        self.n_u = int(np.ceil(2 * self.reach / self.step)) + 2

    def object_xy(self, ij: np.ndarray) -> np.ndarray:
        return self.lo[:2] + (np.asarray(ij, np.float64) - MARGIN) * self.step

    def z0(self) -> float:
        """Object height of voxel layer k = 0."""
        return float(self.lo[2] - MARGIN * self.step)

    def view_image(self, image: np.ndarray, pose: ViewPose, interpolation=cv2.INTER_LINEAR) -> np.ndarray:
        """A photo (or its mask) on the view's (u, z) image at voxel spacing, indexed [u, k]."""
        return resample_view(image, pose, -self.reach, self.step, self.n_u, self.z0(), self.shape[2], interpolation)

    def u_index(self, theta: float):
        """Coefficients (a, b, c): voxel (i, j) lands at u index a * i + b * j + c of that view's image."""
        right, _ = view_axes(theta)
        a, b = right
        c = (right @ (self.lo[:2] - MARGIN * self.step) + self.reach) / self.step
        return float(a), float(b), float(c)

    def photo_from_voxel(self, pose: ViewPose, theta: float, offset=(0, 0)) -> np.ndarray:
        """(4, 4) voxel -> (column, row, depth) in that photo's pixels (``offset``: crop's top-left)."""
        right, forward = view_axes(theta)
        p = pose.pixels_per_unit * self.step
        origin = self.lo - MARGIN * self.step  # object point of voxel (0, 0, 0)
        per_unit = pose.pixels_per_unit
        return np.array([
            [p * right[0], p * right[1], 0.0, offset[1] + pose.centre_col + per_unit * (right @ origin[:2])],
            [0.0, 0.0, -p, offset[0] + pose.centre_row - per_unit * origin[2]],
            [p * forward[0], p * forward[1], 0.0, per_unit * (forward @ origin[:2])],
            [0.0, 0.0, 0.0, 1.0]])


class Silhouette:
    """One photo's outline on the view's (u, z) image, located to a fraction of a voxel.

    The outline is rasterised :data:`SILHOUETTE_SUPERSAMPLE` times finer than the voxels
    (from the soft matte) and its signed distance and per-layer extents are averaged back
    to voxel spacing: from a voxel-sized raster, an outline that slopes gently moves in
    whole-voxel steps, and every step would stand on the surface as a ridge.

    Attributes
    ----------
    mask : (n_u, n_z) bool
        The silhouette at voxel spacing.
    distance : (n_u, n_z) float32
        Signed distance to the outline in voxels, negative inside.
    u_min, u_max : (n_z,) float
        Per layer, the outermost u (object units) it covers (inf and -inf on empty layers).
    """

    def __init__(self, grid: ViewGrid, foreground, pose: ViewPose):
        s = SILHOUETTE_SUPERSAMPLE
        fine_step = grid.step / s
        shift = (s - 1) / 2 * fine_step  # fine sample centres average to the voxel sample's centre
        soft = np.where(foreground.mask, foreground.alpha, 0.0).astype(np.float32)
        n_u, n_z = grid.n_u, grid.shape[2]
        fine = resample_view(soft, pose, -grid.reach - shift, fine_step, n_u * s, grid.z0() - shift, n_z * s) >= 0.5
        outline = (ndimage.distance_transform_edt(~fine) - ndimage.distance_transform_edt(fine)) / s
        self.distance = outline.reshape(n_u, s, n_z, s).mean((1, 3)).astype(np.float32)
        self.mask = self.distance < 0
        u = np.arange(n_u * s) * fine_step - grid.reach - shift
        rows = fine.any(0)
        first = np.where(rows, u[np.argmax(fine, axis=0)] - fine_step / 2, np.nan)
        last = np.where(rows, u[n_u * s - 1 - np.argmax(fine[::-1], axis=0)] + fine_step / 2, np.nan)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an empty layer's mean is NaN: handled below
            u_min = np.nanmean(first.reshape(n_z, s), axis=1)
            u_max = np.nanmean(last.reshape(n_z, s), axis=1)
        empty = np.isnan(u_min)
        self.u_min = np.where(empty, np.inf, u_min)
        self.u_max = np.where(empty, -np.inf, u_max)


def read_rows(image: np.ndarray, u: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``image[u, k]`` along u (k is an integer layer)."""
    u = np.clip(u, 0.0, image.shape[0] - 1.001)
    below = u.astype(np.int64)
    t = (u - below).astype(np.float32)
    return image[below, k] * (1 - t) + image[below + 1, k] * t


def reconstruct_multiview(views: Sequence[PhotoView], resolution: int = 256,
                          report: Optional[Callable[[float], None]] = None,
                          rounding: float = DEFAULT_ROUNDING) -> Reconstruction:
    """The solid several labelled photos of one object carve, as a sparse SDF.

    Parameters
    ----------
    views
        Two or more photos with their azimuths (see :class:`PhotoView`).
    resolution
        Voxels across the object's largest extent.
    rounding
        0 keeps the visual hull; 1 rounds every view's depth fully toward its inflation
        where the views are 90 degrees apart (scaled down where they are closer, see
        :func:`rounding_strength`).

    Raises
    ------
    InconsistentViews
        A photo the others contradict, named.
    """
    report = report or (lambda f: None)
    resolution = max(int(resolution), MIN_RESOLUTION)
    if ROUND_BY_VIEW_GAP:
        rounding = rounding_strength([v.azimuth_deg for v in views], rounding)
    alignment = align_views(views)
    report(0.25)
    grid = ViewGrid(alignment.bounds, resolution)
    thetas = [view_angle(p) for p in alignment.poses]
    silhouettes = [Silhouette(grid, v.foreground, p) for v, p in zip(views, alignment.poses)]
    masks = [outline.mask for outline in silhouettes]
    distances = [outline.distance for outline in silhouettes]
    coefficients = [grid.u_index(t) for t in thetas]
    cues = None
    if rounding > 0 and ROUND_FROM_SHADING:
        cues = [shading_cue(grid.view_image(cv2.cvtColor(v.foreground.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), p), m)
                for v, p, m in zip(views, alignment.poses, masks)]
    depth_bounds = rounding_terms(grid, silhouettes, thetas, rounding, cues)

    def sdf(positions: np.ndarray) -> np.ndarray:
        i, j, k = positions[..., 0], positions[..., 1], positions[..., 2]
        value = None
        for distance, (a, b, c) in zip(distances, coefficients):
            d = read_rows(distance, a * i + b * j + c, k)
            value = d if value is None else np.maximum(value, d)
        for term in depth_bounds:
            value = np.maximum(value, term(i, j, k))
        return value

    candidates, coarse = near_surface_blocks(grid.shape, sdf, slack=1.0 if not depth_bounds else 2.0)
    report(0.35)
    volume = SparseSDF.from_function(grid.shape, candidates, coarse, sdf, fill=BAND, batch_blocks=BATCH_BLOCKS,
                                     report=lambda f: report(0.35 + 0.65 * f))
    projections = [ViewProjection(v.name, v.foreground.rgb, v.foreground.mask,
                                  grid.photo_from_voxel(p, t), np.r_[view_axes(t)[1], 0.0], v.foreground.offset)
                   for v, p, t in zip(views, alignment.poses, thetas)]
    first = views[0].foreground
    return Reconstruction(volume=volume, vertex_colours=facing_view_colours(projections, grid),
                          photo_from_voxel=grid.photo_from_voxel(alignment.poses[0], thetas[0], first.offset),
                          view_projections=projections, view_fits=alignment.fits)


def widest_view_gap(azimuths_deg: Sequence[float]) -> float:
    """The widest angle (degrees) between neighbouring view directions, taken as lines through the axis.

    A photo and the one opposite it carve the same outline, so directions count modulo 180:
    front, left, back, right leave 90-degree gaps; the four diagonals added, 45.
    """
    lines = np.unique(np.round(np.asarray(azimuths_deg, np.float64) % 180.0, 6) % 180.0)
    gaps = np.diff(np.r_[lines, lines[0] + 180.0])
    return float(gaps.max())


def corner_excess(gap_deg: float) -> float:
    """How far a visual hull's corners stand out from a round object, relative to its radius.

    Views whose directions are ``gap_deg`` apart carve a cylinder of radius r into a polygon
    circumscribing it; its corners stand ``r * (sec(gap / 2) - 1)`` out: 0.41 r for 90-degree
    gaps (a square prism), 0.08 r for 45 (an octagon). Unbounded for gaps of 180 and more.
    """
    half = math.radians(min(gap_deg, 179.0)) / 2
    return 1.0 / math.cos(half) - 1.0


def rounding_strength(azimuths_deg: Sequence[float], rounding: float = DEFAULT_ROUNDING) -> float:
    """``rounding`` scaled by how much of the hull's corners the views leave for rounding to cut.

    Rounding guesses the part of the object the silhouettes cannot show: the corners of
    the hull between view directions. Views 90 degrees apart leave square corners (a
    bottle becomes a square prism) and rounding helps most; diagonal views carve those
    corners themselves, and a guess there only trades observed outline for a smooth
    profile. So the strength follows :func:`corner_excess` of the widest gap, relative to
    square corners (capped at ``rounding``): 8 views 45 degrees apart get 0.2 of it, 3 views
    120 degrees apart (60-degree gaps) 0.37, 2-4 views at right angles all of it.

    Measured on training meshes (8 train + 29 corpus meshes across categories, rendered as
    ``fabricate eval --views`` renders them, resolution 128), mean F@2 % by fixed strength
    (one photo: 41.2):

    ======  =====  =====  =====  =====  =====  =====
    views   hull   0.2    0.25   0.5    0.75   1.0
    ======  =====  =====  =====  =====  =====  =====
    2       64.6          67.7   69.5   70.6   71.1
    3       66.1          69.0   70.7   71.4   71.8
    4       67.5          70.6   72.1   72.6   72.5
    8       73.7   74.1   74.2   73.8          71.4
    ======  =====  =====  =====  =====  =====  =====

    so this rule (1.0 at right angles, 0.2 with the diagonals) is within 0.1 of the best
    fixed strength at every count. The price of full rounding is on boxes the shading cue
    misses (4 views: a long box-shaped house 86 -> 71, fandisk 74 -> 62; at 0.5: 89, 68).
    """
    if rounding <= 0:
        return 0.0
    return float(rounding * min(1.0, corner_excess(widest_view_gap(azimuths_deg)) / corner_excess(SQUARE_GAP_DEG)))


def near_surface_blocks(shape, sdf, slack: float = 1.0):
    """Blocks whose centre sample is within reach of the surface (``sdf`` at most ``slack``-Lipschitz).

    Returns the candidate block coordinates and every block's sign from its centre sample.
    """
    blocks = np.stack(np.meshgrid(*[np.arange(n // BLOCK) for n in shape], indexing="ij"), -1)
    centres = blocks * BLOCK + BLOCK // 2
    values = sdf(centres.reshape(-1, 1, 3)).reshape(blocks.shape[:3])
    coarse = np.where(values < 0, -1, 1).astype(np.int8)
    candidates = np.argwhere(np.abs(values) < slack * (BLOCK_REACH + 1.0) + BAND)
    return candidates, coarse


def rounding_terms(grid: ViewGrid, silhouettes: Sequence[Silhouette], thetas, rounding: float, cues=None) -> list:
    """Distance functions bounding the depth along each view by that photo's inflation.

    Along a view's ray through silhouette pixel (u, z), the hull spans the depths the
    other views' outer row extents allow, [lo, hi]; the photo's Poisson inflation says a
    round object of that outline would be ``s * d(u, z)`` deep either side of the middle
    (s scaling the row's inflation to the hull's depth there). The half-depth kept is
    ``h - rounding * max(h - s * d, 0)`` around the middle, h the hull's half-depth.
    Views along one axis only (front and back) leave the hull open in depth; the
    inflation then bounds it fully, as it does for one photo.
    """
    terms = []
    extents = [(outline.u_min, outline.u_max) for outline in silhouettes]
    masks = [outline.mask for outline in silhouettes]
    for view, (mask, theta) in enumerate(zip(masks, thetas)):
        u = (np.arange(grid.n_u) * grid.step - grid.reach)[:, None] * np.ones((1, grid.shape[2]))
        lo = np.full(mask.shape, -np.inf)
        hi = np.full(mask.shape, np.inf)
        for other, (u_min, u_max) in enumerate(extents):
            delta = thetas[other] - theta
            sine, cosine = math.sin(delta), math.cos(delta)
            if other == view or abs(sine) < MIN_CROSSING_SINE:
                continue
            a = (u_min[None, :] - u * cosine) / sine
            b = (u_max[None, :] - u * cosine) / sine
            lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
        open_depth = not np.isfinite(lo).any()
        strength = 1.0 if open_depth else rounding
        if strength <= 0:
            continue
        inflation = ClassicalReconstructor._inflate(mask, 0) * grid.step  # object units
        if open_depth:
            solid, centre, half = mask, np.zeros(mask.shape), inflation
        else:
            solid = mask & (hi > lo) & np.isfinite(lo) & np.isfinite(hi)
            centre = np.where(solid, (np.where(solid, lo, 0) + np.where(solid, hi, 0)) / 2, 0.0)
            hull_half = np.where(solid, (np.where(solid, hi, 0) - np.where(solid, lo, 0)) / 2, 0.0)
            layers = solid.any(0)
            sigma = LAYER_SMOOTHING * grid.shape[2]
            row_scale = smooth_layers(hull_half.max(0) / np.maximum(inflation.max(0), 1e-9), layers, sigma)
            rounded = inflation * row_scale[None, :]
            if cues is not None:
                strength = strength * smooth_layers(cues[view], layers, sigma)[None, :]
            half = hull_half - strength * np.maximum(hull_half - rounded, 0.0)
        terms.append(_depth_bound(grid, theta, centre / grid.step, half / grid.step, solid))
    return terms


def smooth_layers(values: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """A per-layer quantity smoothed over the layers where it is defined (normalised Gaussian)."""
    if sigma <= 0 or not valid.any():
        return values
    weight = valid.astype(np.float64)
    total = ndimage.gaussian_filter1d(np.where(valid, values, 0.0) * weight, sigma, mode="nearest")
    norm = ndimage.gaussian_filter1d(weight, sigma, mode="nearest")
    return np.where(valid, total / np.maximum(norm, 1e-9), values)


def shading_cue(luminance: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per layer, how much the photo's shading across the silhouette looks like a curved surface, in [0, 1].

    A flat face under one light is evenly lit; a round one brightens and darkens
    smoothly across. Per row: the share of the luminance variance a quadratic across
    the row explains, times how large that variation is (relative to the mean).
    """
    core = ndimage.binary_erosion(mask, iterations=2, border_value=0)
    weight = core.astype(np.float64)
    count = weight.sum(0)
    index = np.arange(mask.shape[0], dtype=np.float64)[:, None]
    first = np.where(count > 0, np.argmax(core, axis=0), 0)
    last = np.where(count > 0, mask.shape[0] - 1 - np.argmax(core[::-1], axis=0), 1)
    s = (index - (first + last) / 2) / np.maximum((last - first) / 2, 1)
    powers = [weight * s ** n for n in range(5)]
    sums = [p.sum(0) for p in powers]
    normal = np.stack([np.stack([sums[i + j] for j in range(3)], -1) for i in range(3)], -2)
    normal += np.eye(3) * 1e-6
    lum = luminance.astype(np.float64)
    rhs = np.stack([(powers[n] * lum).sum(0) for n in range(3)], -1)
    coefficients = np.linalg.solve(normal, rhs[..., None])[..., 0]
    fitted = sum(coefficients[:, n][None, :] * s ** n for n in range(3))
    mean = (weight * lum).sum(0) / np.maximum(count, 1)
    total = (weight * (lum - mean) ** 2).sum(0)
    residual = (weight * (lum - fitted) ** 2).sum(0)
    explained = np.clip(1 - residual / np.maximum(total, 1e-9), 0, 1)
    variation = np.sqrt(total / np.maximum(count, 1)) / np.maximum(mean, 1.0)
    cue = explained * np.clip(variation / CURVED_SHADING_VARIATION, 0, 1)
    return np.where(count >= MIN_CUE_PIXELS, cue, 0.0)


def _depth_bound(grid: ViewGrid, theta: float, centre: np.ndarray, half: np.ndarray, solid: np.ndarray):
    """Distance (voxels) outside the slab |depth - centre| <= half along a view, per (u, k) pixel.

    Only ``solid`` pixels bound anything. Elsewhere the slab continues from the nearest
    solid pixel, widening by the distance to it, so the field has no jumps there (the
    hull's own terms keep those pixels outside); and each pixel's distance is divided
    by the slab's steepest slope within a block's reach, so the whole term stays about
    1-Lipschitz over the distances culling relies on. Block culling
    (:func:`near_surface_blocks`) depends on that: a field that jumps by more than a
    block's reach hides surface in blocks it never evaluates, and marching cubes then
    leaves holes at chunk seams that repair has to fill.
    """
    _, forward = view_axes(theta)
    a, b, c = grid.u_index(theta)
    fa, fb = forward
    f0 = forward @ (grid.lo[:2] - MARGIN * grid.step) / grid.step
    if solid.any() and not solid.all():
        gap, (nu, nk) = ndimage.distance_transform_edt(~solid, return_indices=True)
        centre, half = centre[nu, nk], half[nu, nk] + gap
    cu, ck = np.gradient(centre)
    hu, hk = np.gradient(half)
    # The steepest tilt within a block's reach: culling trusts a block centre's value that far.
    reach = 2 * int(math.ceil(BLOCK_REACH)) + 1
    tilt = ndimage.maximum_filter(np.hypot(cu, ck) + np.hypot(hu, hk), size=reach, mode="nearest")
    slope = np.maximum(1.0 / np.sqrt(1.0 + tilt ** 2), MIN_SLOPE).astype(np.float32)
    centre, half = centre.astype(np.float32), half.astype(np.float32)

    def term(i, j, k):
        u = a * i + b * j + c
        depth = (fa * i + fb * j + f0).astype(np.float32)
        return (np.abs(depth - read_rows(centre, u, k)) - read_rows(half, u, k)) * read_rows(slope, u, k)

    return term


def facing_view_colours(projections: Sequence[ViewProjection], grid: ViewGrid) -> Callable:
    """A fallback colour for points: the photo whose camera faces the point's side of the axis.

    :func:`fabricate.color.views.colour_from_views` does it properly (normals, occlusion, blending).
    """
    axis = np.array([(MARGIN - grid.lo[0] / grid.step), (MARGIN - grid.lo[1] / grid.step)])

    def vertex_colours(points: np.ndarray) -> np.ndarray:
        outward = points[:, :2] - axis
        facing = np.stack([-(outward @ p.direction[:2]) for p in projections], 1)
        best = np.argmax(facing, axis=1)
        colours = np.zeros((len(points), 3), np.uint8)
        for index, projection in enumerate(projections):
            chosen = best == index
            colours[chosen] = projection.sample(points[chosen])
        return colours

    return vertex_colours
