"""Classical single-photo reconstruction: silhouette inflation into a sparse SDF.

The silhouette is inflated with a rounded cross-section (the square root of a
Poisson solution, which is exactly circular across a strip and spherical for a
disc), given a back surface (mirrored, thinner or flat) and a gentle relief
from the photo's shading. The solid is stored as a narrow-band sparse volume.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from fabricate.errors import BadOption, TooSmall
from fabricate.image.foreground import Foreground
from fabricate.reconstruct.base import RESOLUTIONS, PhotoView, Reconstruction, Reconstructor
from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF
from fabricate.schema import check_options, option

#: Empty voxels kept around the object on every side.
MARGIN = 8
#: Half-width of the allocated band around the surface, in voxels.
BAND = 3.0
#: The Poisson inflation is solved at most at this resolution, then upsampled.
POISSON_MAX_SIDE = 320
BACK_MODES = ("mirror", "thin", "flat")


@dataclass
class ClassicalOptions:
    """The options the classical model uses (refused with any other model)."""

    back: str = option("mirror", choices=BACK_MODES, label="Back side",
                       help="Back surface: mirror of the front, thinner, or flat (a relief plaque).")
    back_ratio: float = option(0.5, minimum=0.05, maximum=1.0, label="Back depth",
                               help="Depth of the back relative to the front, for --back thin.")
    depth_scale: float = option(1.0, minimum=0.1, maximum=3.0, label="Depth scale",
                                help="Inflation depth multiplier (1 = round cross-sections).")
    relief: float = option(1.0, minimum=0.0, maximum=5.0, label="Relief",
                           help="Relief from the photo's shading (0 = none).")


def check_resolution(resolution: int) -> None:
    if resolution not in RESOLUTIONS:
        raise BadOption(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution}")


def poisson_height(mask: np.ndarray) -> np.ndarray:
    """Height field whose cross-sections are round: sqrt(2u) with -lap(u) = 1 in the mask.

    Parameters
    ----------
    mask : (H, W) bool

    Returns
    -------
    (H, W) float64, zero outside the mask, in pixels.
    """
    h, w = mask.shape
    inside = mask.copy()
    inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = False
    ids = -np.ones(mask.shape, np.int64)
    n = int(inside.sum())
    if n == 0:
        return np.zeros(mask.shape)
    ids[inside] = np.arange(n)
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.full(n, 4.0)]
    r, c = np.nonzero(inside)
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nb = ids[r + dr, c + dc]
        ok = nb >= 0
        rows.append(ids[r, c][ok])
        cols.append(nb[ok])
        vals.append(-np.ones(int(ok.sum())))
    lap = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    u = np.zeros(mask.shape)
    u[inside] = spsolve(lap.tocsc(), np.ones(n))
    return np.sqrt(2.0 * np.maximum(u, 0.0))


class ClassicalReconstructor(Reconstructor):
    """Silhouette inflation: fast, needs no training, runs on any CPU.

    Parameters
    ----------
    back : {"mirror", "thin", "flat"}
        Back surface: mirror of the front, ``back_ratio`` times as deep, or flat
        (a relief plaque with a base of ``plaque_depth``).
    back_ratio : float
        Depth of the back relative to the front for ``back="thin"``.
    depth_scale : float
        Multiplies the inflation depth (1 = round cross-sections).
    relief : float
        Strength of the relief added from image shading (0 disables it).
    plaque_depth : float
        Base thickness of a flat-backed plaque, as a share of the resolution.
    """

    name = "classical"
    options = ClassicalOptions
    #: Several photos carve a visual hull instead (fabricate.reconstruct.multiview).
    max_photos = 8
    #: They shape the side one photo cannot see, which several photos show instead.
    single_photo_options = ("back", "back_ratio", "depth_scale", "relief")

    def __init__(self, back: str = ClassicalOptions.back, back_ratio: float = ClassicalOptions.back_ratio,
                 depth_scale: float = ClassicalOptions.depth_scale, relief: float = ClassicalOptions.relief,
                 plaque_depth: float = 0.05):
        checked = ClassicalOptions(back=back, back_ratio=back_ratio, depth_scale=depth_scale, relief=relief)
        check_options(checked)
        self.back, self.back_ratio, self.depth_scale, relief = (checked.back, checked.back_ratio,
                                                                checked.depth_scale, checked.relief)
        self.relief, self.plaque_depth = relief, plaque_depth

    def reconstruct_views(self, views: Sequence[PhotoView], resolution: int = 256,
                          report: Optional[Callable[[float], None]] = None) -> Reconstruction:
        """One photo: :meth:`reconstruct`. Several: their visual hull, rounded where the photos say so."""
        if not 2 <= len(views) <= self.max_photos:
            return super().reconstruct_views(views, resolution, report)
        check_resolution(resolution)
        from fabricate.reconstruct.multiview import reconstruct_multiview

        return reconstruct_multiview(views, resolution, report)

    def reconstruct(self, foreground: Foreground, resolution: int = 256,
                    report: Optional[Callable[[float], None]] = None) -> Reconstruction:
        report = report or (lambda f: None)
        layers = self.depth_layers(foreground, resolution)
        report(0.3)
        return surface_from_layers(layers, layers.front, layers.back, lambda f: report(0.3 + 0.7 * f))

    def depth_layers(self, foreground: Foreground, resolution: int) -> "DepthLayers":
        """The silhouette on the grid and this model's front and back surfaces (before the volume)."""
        check_resolution(resolution)
        mask, alpha, rgb, photo_from_voxel = self._fit_to_grid(foreground, resolution)
        front, back = self._surfaces(self._inflate(mask, resolution), mask, rgb, resolution)
        return DepthLayers(mask, alpha, rgb, front, back, photo_from_voxel)

    # --- steps -----------------------------------------------------------------
    @staticmethod
    def _fit_to_grid(fg: Foreground, resolution: int):
        """Resample mask, matte and colours so the object spans the resolution.

        Returns maps indexed [x, z] (x = photo right, z = photo up).
        """
        rows, cols = np.flatnonzero(fg.mask.any(1)), np.flatnonzero(fg.mask.any(0))
        r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        scale = (resolution - 2 * MARGIN) / max(r1 - r0, c1 - c0)
        out_w, out_h = max(1, round((c1 - c0) * scale)), max(1, round((r1 - r0) * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        alpha = cv2.resize(np.where(fg.mask, fg.alpha, 0.0).astype(np.float32)[r0:r1, c0:c1], (out_w, out_h),
                           interpolation=interp)
        rgb = cv2.resize(fg.rgb[r0:r1, c0:c1], (out_w, out_h), interpolation=interp)
        nx = -(-(out_w + 2 * MARGIN) // BLOCK) * BLOCK
        nz = -(-(out_h + 2 * MARGIN) // BLOCK) * BLOCK
        alpha_xz = np.zeros((nx, nz), np.float32)
        alpha_xz[MARGIN:MARGIN + out_w, MARGIN:MARGIN + out_h] = alpha.T[:, ::-1]
        mask = alpha_xz >= 0.5
        labels, count = ndimage.label(mask)
        if count == 0:
            raise TooSmall("the object is too small to reconstruct at this resolution")
        if count > 1:
            sizes = ndimage.sum_labels(mask, labels, np.arange(1, count + 1))
            mask = labels == int(np.argmax(sizes)) + 1
        rgb_xz = np.zeros((nx, nz, 3), np.uint8)
        rgb_xz[MARGIN:MARGIN + out_w, MARGIN:MARGIN + out_h] = rgb.transpose(1, 0, 2)[:, ::-1]
        _, (ix, iz) = ndimage.distance_transform_edt(~mask, return_indices=True)
        # Voxel (x, y, z) -> photo (column, row, depth) in pixels; resize maps pixel centres.
        row0, col0 = fg.offset[0] + r0, fg.offset[1] + c0
        photo_from_voxel = np.array([
            [1 / scale, 0, 0, col0 + (0.5 - MARGIN) / scale - 0.5],  # depth row completed in surface_from_layers
            [0, 0, -1 / scale, row0 + (MARGIN + out_h - 0.5) / scale - 0.5],
            [0, 1 / scale, 0, 0],
            [0, 0, 0, 1.0]])
        return mask, alpha_xz, rgb_xz[ix, iz], photo_from_voxel

    @staticmethod
    def _inflate(mask: np.ndarray, resolution: int) -> np.ndarray:
        work = min(1.0, POISSON_MAX_SIDE / max(mask.shape))
        if work < 1.0:
            small = cv2.resize(mask.astype(np.float32), None, fx=work, fy=work, interpolation=cv2.INTER_AREA) >= 0.5
            height = poisson_height(small) / work
            height = cv2.resize(height.astype(np.float32), mask.shape[::-1], interpolation=cv2.INTER_LINEAR)
        else:
            height = poisson_height(mask)
        # Thin parts lost at the working resolution still get a cone-shaped profile.
        inside = ndimage.distance_transform_edt(mask) - 0.5
        return np.where(mask, np.maximum(height, inside), 0.0)

    def _surfaces(self, height, mask, rgb, resolution):
        depth = height * self.depth_scale
        relief = np.zeros_like(depth)
        if self.relief > 0:
            lum = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
            detail = lum - cv2.GaussianBlur(lum, (0, 0), 0.02 * resolution)
            spread = float(np.std(detail[mask])) or 1.0
            inside = ndimage.distance_transform_edt(mask)
            fade = np.clip(inside / (0.04 * resolution), 0.0, 1.0)
            relief = self.relief * 0.004 * resolution * np.clip(detail / spread, -2.0, 2.0) * fade
            relief = cv2.GaussianBlur(relief.astype(np.float32), (0, 0), 1.0)
        if self.back == "mirror":
            front, back = depth + relief, depth
        elif self.back == "thin":
            front, back = depth + relief, depth * self.back_ratio
        else:
            base = self.plaque_depth * resolution
            front, back = np.where(mask, base + 0.5 * depth + relief, 0.0), np.zeros_like(depth)
        front = np.where(mask, np.maximum(front, 0.0), 0.0)
        return front.astype(np.float32), np.where(mask, back, 0.0).astype(np.float32)

    def dense_volume(self, foreground: Foreground, resolution: int = 256, pad: int = 0) -> np.ndarray:
        """The same distance field on every sample of the full grid (the dense baseline).

        Used to measure what sparsity saves and to check that both give one surface.
        ``pad`` samples of the outside value (the band width) are added on every side, in
        the same allocation, so marching cubes closes the surface at the border.
        """
        layers = self.depth_layers(foreground, resolution)
        shape, sdf, _, _, _ = distance_field(layers.mask, layers.front, layers.back)
        if not pad:
            return dense_samples(sdf, shape)
        dense = np.full(tuple(s + 2 * pad for s in shape), BAND, np.float32)
        dense_samples(sdf, shape, out=dense[pad:-pad, pad:-pad, pad:-pad])
        return dense


@dataclass
class DepthLayers:
    """A photo seen on a reconstruction grid, with a front and a back surface per column.

    Maps are indexed [x, z] (x = photo right, z = photo up); ``front`` and ``back`` are
    distances in voxels from the plane through the object's middle, towards and away
    from the camera. ``photo_from_voxel`` is complete but for its depth translation,
    which depends on where that plane lands on the grid.
    """

    mask: np.ndarray
    alpha: np.ndarray
    rgb: np.ndarray
    front: np.ndarray
    back: np.ndarray
    photo_from_voxel: np.ndarray


def surface_from_layers(layers: DepthLayers, front: np.ndarray, back: np.ndarray,
                        report: Optional[Callable[[float], None]] = None) -> Reconstruction:
    """The solid between ``front`` and ``back`` inside the silhouette, as a sparse SDF.

    Parameters
    ----------
    layers : DepthLayers
        Silhouette, colours and grid frame.
    front, back : (nx, nz) float
        Surfaces in voxels from the middle plane (towards / away from the camera); the
        solid is empty where ``front + back <= 0``.

    Returns
    -------
    Reconstruction
        Coloured by the photo column each vertex projects to.
    """
    report = report or (lambda f: None)
    shape, sdf, candidates, coarse, centre = distance_field(layers.mask, front, back)
    # Depth 0 of the photo frame is the middle plane, whatever the resolution.
    photo_from_voxel = layers.photo_from_voxel.copy()
    photo_from_voxel[2, 3] = -centre * photo_from_voxel[2, 1]
    volume = SparseSDF.from_function(shape, candidates, coarse, sdf, fill=BAND, report=report)
    return Reconstruction(volume=volume, vertex_colours=column_colours(layers.rgb), photo_from_voxel=photo_from_voxel)


def column_colours(colour_map: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Vertex colours from an [x, z] colour map: the photo is a projection along y."""
    def vertex_colours(points: np.ndarray) -> np.ndarray:
        x = np.clip(np.round(points[:, 0]).astype(np.int64), 0, colour_map.shape[0] - 1)
        z = np.clip(np.round(points[:, 2]).astype(np.int64), 0, colour_map.shape[1] - 1)
        return colour_map[x, z]

    return vertex_colours


def dense_samples(sdf: Callable[[np.ndarray], np.ndarray], shape, y_offset: int = 0,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """``sdf`` at every sample of a (nx, ny, nz) grid whose y index i is position ``i + y_offset``.

    ``out``: a float32 array of that shape to fill (a view into a padded volume, say). A field
    with a ``slab(x, ys)`` method (:class:`ColumnField`) is asked a slab at a time.
    """
    nx, ny, nz = shape
    dense = np.empty(shape, np.float32) if out is None else out
    slab = getattr(sdf, "slab", None)  # a field that gives a whole slab at once (ColumnField): the same values
    if slab is not None:
        ys = np.arange(ny) + y_offset
        for x in range(nx):
            dense[x] = slab(x, ys)
        return dense
    yz = np.stack(np.meshgrid(np.arange(ny) + y_offset, np.arange(nz), indexing="ij"), -1)
    for x in range(nx):  # one slab at a time bounds the temporaries
        dense[x] = sdf(np.concatenate([np.full(yz.shape[:2] + (1,), x), yz], axis=-1))
    return dense


class ColumnField:
    """The solid's distance function from five maps per (x, z) column: the silhouette's signed
    distance, the front and back surfaces' depths and their slopes.

    Called on integer sample positions (..., 3) it gives distances in voxels, negative inside.
    Every sample of one column reads the same maps, so :meth:`blocks` and :meth:`slab` read
    them once per column and broadcast along y: the same float32 operations in the same order,
    so the same values, about five times faster (a gather per sample was most of the work).
    """

    def __init__(self, columns: np.ndarray, nz: int):
        self.columns, self.nz = columns, nz

    @staticmethod
    def _distance(column: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = np.maximum(column[..., 0], (column[..., 1] - y) * column[..., 2])
        return np.maximum(d, (y - column[..., 3]) * column[..., 4])

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        x, z = positions[..., 0], positions[..., 2]
        return self._distance(self.columns[x * self.nz + z], positions[..., 1].astype(np.float32))

    def blocks(self, coords: np.ndarray) -> np.ndarray:
        """(B, 8, 8, 8) distances [x, y, z] at the samples of the blocks at ``coords`` (B, 3)."""
        offsets = np.arange(BLOCK)
        x = coords[:, 0, None] * BLOCK + offsets
        z = coords[:, 2, None] * BLOCK + offsets
        y = (coords[:, 1, None] * BLOCK + offsets).astype(np.float32)
        column = self.columns[x[:, :, None] * self.nz + z[:, None, :]]  # (B, 8x, 8z, 5)
        return self._distance(column[:, :, None], y[:, None, :, None])

    def slab(self, x: int, ys: np.ndarray) -> np.ndarray:
        """(len(ys), nz) distances at column row ``x``, depths ``ys``."""
        column = self.columns[x * self.nz + np.arange(self.nz)]  # (nz, 5)
        return self._distance(column[None], np.asarray(ys).astype(np.float32)[:, None])


def distance_field(mask, front, back):
    """The solid's distance function and which blocks can hold its surface.

    Returns
    -------
    shape : tuple
        Samples along x, y, z.
    sdf : callable
        Integer sample positions (..., 3) to distances in voxels, negative inside.
    candidates : (B, 3) int
        Blocks that may contain the surface.
    coarse_sign : int8 array
        Inside (-1) or outside (+1) for every block, from its centre sample.
    centre : float
        The y position of the middle plane (front and back are measured from it).
    """
    nx, nz = mask.shape
    centre = MARGIN + float(front.max()) + 0.37  # off-grid, so no sample sits on a surface
    ny = -(-int(np.ceil(centre + back.max() + MARGIN)) // BLOCK) * BLOCK
    # Signed distance to the silhouette in the image plane (negative inside), smoothed
    # so the side walls are not voxel staircases.
    outline = ndimage.distance_transform_edt(~mask) - ndimage.distance_transform_edt(mask)
    outline = cv2.GaussianBlur(outline.astype(np.float32), (0, 0), 0.75)
    y_front = (centre - front).astype(np.float32)
    y_back = (centre + back).astype(np.float32)
    # Divide height differences by the surface slope so values approximate distances.
    gfx, gfz = np.gradient(front)
    gbx, gbz = np.gradient(back)
    slope_front = np.maximum(1.0 / np.sqrt(1.0 + gfx ** 2 + gfz ** 2), 0.05).astype(np.float32)
    slope_back = np.maximum(1.0 / np.sqrt(1.0 + gbx ** 2 + gbz ** 2), 0.05).astype(np.float32)

    # The five per-column maps side by side: one gather per sample reads all of them.
    columns = np.stack([outline, y_front, slope_front, y_back, slope_back], axis=-1).reshape(nx * nz, 5)
    sdf = ColumnField(columns, nz)

    # Per block column: which depth ranges can hold the surface.
    bx, bz = nx // BLOCK, nz // BLOCK
    grid = lambda a: a.reshape(bx, BLOCK, bz, BLOCK)
    pad = BAND + 1.5
    near_outline = grid(outline).min(axis=(1, 3)) < pad
    crosses_rim = near_outline & (grid(outline).max(axis=(1, 3)) > -pad)
    yf_lo, yf_hi = grid(y_front).min(axis=(1, 3)) - pad, grid(y_front).max(axis=(1, 3)) + pad
    yb_lo, yb_hi = grid(y_back).min(axis=(1, 3)) - pad, grid(y_back).max(axis=(1, 3)) + pad
    by = ny // BLOCK
    y0 = (np.arange(by) * BLOCK)[None, :, None]
    y1 = y0 + BLOCK  # includes the next block's first sample
    col = lambda a: a[:, None, :]
    overlaps = lambda lo, hi: (y1 >= col(lo)) & (y0 <= col(hi))
    candidate = col(near_outline) & (
        overlaps(yf_lo, yf_hi) | overlaps(yb_lo, yb_hi) | (col(crosses_rim) & overlaps(yf_lo, yb_hi)))
    centres = np.stack(np.meshgrid(np.arange(bx), np.arange(by), np.arange(bz), indexing="ij"), -1) * BLOCK
    centres += BLOCK // 2
    coarse = np.where(sdf(centres.reshape(-1, 1, 3)).reshape(bx, by, bz) < 0, -1, 1).astype(np.int8)
    return (nx, ny, nz), sdf, np.argwhere(candidate), coarse, centre
