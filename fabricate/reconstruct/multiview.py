"""Several photos of one object: the visual hull in a sparse SDF, rounded where the photos say so.

The poses come from :mod:`fabricate.reconstruct.views_align`. Each photo is resampled
at voxel scale onto a (u, z) image whose signed distance to the silhouette, read at
every sample's projection, bounds the solid; the maximum over photos is the hull's
distance function (1-Lipschitz, so whole 8^3 blocks are kept or discarded from their
centre sample alone). Rounding, where it applies, bounds the depth along each view
by that photo's Poisson inflation (see :func:`rounding_terms`).

Voxel frame: the one the view labels define (x the right of a photo from the front, y
away from it, z up), so the same photos in any order give the same volume; a front
photo sees it like a single-photo model's. ``photo_from_voxel`` maps it into the first
photo given (rotation included), so evaluation can put the model where that camera saw it.
"""
from __future__ import annotations

import math
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
#: Rounding strength by default (0 = the plain hull; see rounding_terms). Measured on 32 rendered
#: training meshes (8 train + 24 corpus), 4 level handheld views, resolution 128, mean F@2:
#: hull 0.651, rounding 0.5 everywhere 0.698, shading-weighted 1.0 0.702, shading-weighted 0.5
#: 0.703 (one photo 0.451); the shading-weighted 0.5 keeps boxes (pallet 0.99 -> 0.97, van-like
#: bus 0.97 -> 0.93, where rounding everywhere gives 0.73 and 0.87).
DEFAULT_ROUNDING = 0.5
#: Round only where the photo's shading across a row looks curved (see shading_cue).
ROUND_FROM_SHADING = True
#: Relative luminance variation across a row (std / mean) at which shading counts as fully curved.
CURVED_SHADING_VARIATION = 0.1
#: Rows with fewer silhouette pixels than this give no shading cue.
MIN_CUE_PIXELS = 8
#: A depth bound's distance is divided by its slab's slope, but by no less than this.
MIN_SLOPE = 0.02


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


def silhouette_distance(mask: np.ndarray) -> np.ndarray:
    """Signed distance to a silhouette's outline in its own pixels (negative inside), lightly smoothed
    so walls are not voxel staircases."""
    outline = ndimage.distance_transform_edt(~mask) - ndimage.distance_transform_edt(mask)
    return cv2.GaussianBlur(outline.astype(np.float32), (0, 0), 0.75)


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
        0 keeps the visual hull; 1 rounds every view's depth fully toward its inflation.

    Raises
    ------
    InconsistentViews
        A photo the others contradict, named.
    """
    report = report or (lambda f: None)
    resolution = max(int(resolution), MIN_RESOLUTION)
    alignment = align_views(views)
    report(0.25)
    grid = ViewGrid(alignment.bounds, resolution)
    thetas = [view_angle(p) for p in alignment.poses]
    masks = [grid.view_image(v.foreground.mask, p) >= 0.5 for v, p in zip(views, alignment.poses)]
    distances = [silhouette_distance(m) for m in masks]
    coefficients = [grid.u_index(t) for t in thetas]
    cues = None
    if rounding > 0 and ROUND_FROM_SHADING:
        cues = [shading_cue(grid.view_image(cv2.cvtColor(v.foreground.rgb, cv2.COLOR_RGB2GRAY).astype(np.float32), p), m)
                for v, p, m in zip(views, alignment.poses, masks)]
    depth_bounds = rounding_terms(grid, masks, thetas, rounding, cues)

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


def rounding_terms(grid: ViewGrid, masks, thetas, rounding: float, cues=None) -> list:
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
    extents = [row_extents(m, grid) for m in masks]
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
            row_scale = hull_half.max(0) / np.maximum(inflation.max(0), 1e-9)
            rounded = inflation * row_scale[None, :]
            if cues is not None:
                strength = strength * cues[view][None, :]
            half = hull_half - strength * np.maximum(hull_half - rounded, 0.0)
        terms.append(_depth_bound(grid, theta, centre / grid.step, half / grid.step, solid))
    return terms


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


def row_extents(mask: np.ndarray, grid: ViewGrid):
    """Per layer k, the outermost u (object units) a silhouette covers; empty layers give an empty range."""
    u = np.arange(mask.shape[0]) * grid.step - grid.reach
    any_row = mask.any(0)
    first = np.argmax(mask, axis=0)
    last = mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0)
    u_min = np.where(any_row, u[first] - grid.step / 2, np.inf)
    u_max = np.where(any_row, u[last] + grid.step / 2, -np.inf)
    return u_min, u_max


def _depth_bound(grid: ViewGrid, theta: float, centre: np.ndarray, half: np.ndarray, solid: np.ndarray):
    """Distance (voxels) outside the slab |depth - centre| <= half along a view, per (u, k) pixel.

    Only ``solid`` pixels bound anything. Elsewhere the slab continues from the nearest
    solid pixel, widening by the distance to it, so the field has no jumps there (the
    hull's own terms keep those pixels outside); and each pixel's distance is divided
    by the slab's local slope, so the whole term stays about 1-Lipschitz. Block culling
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
    tilt = np.hypot(cu, ck) + np.hypot(hu, hk)
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
