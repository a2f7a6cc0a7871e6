"""Separate the main object of a photo from its background."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from fabricate.errors import NoObject
from fabricate.image.load import Photo

#: Segmentation runs on a copy whose longest side is at most this (GrabCut is O(pixels)).
SEGMENT_MAX_SIDE = 400
#: An object smaller than this share of the photo counts as "no object".
MIN_OBJECT_SHARE = 0.005
#: Holes smaller than this share of the object's area are filled (specks, glare).
SMALL_HOLE_SHARE = 0.01


@dataclass
class Foreground:
    """The object cut out of a photo.

    Attributes
    ----------
    rgb : (H, W, 3) uint8
        Photo colours, cropped to the object with a margin.
    mask : (H, W) bool
        True on the object: one connected region, small holes filled.
    alpha : (H, W) float32
        Soft coverage in [0, 1] (alpha matte), consistent with ``mask``.
    source : str
        "alpha" when the file's transparency gave the mask, else "segmentation".
    offset : (int, int)
        Photo (row, column) of the crop's top-left pixel (may be negative: padding).
    """

    rgb: np.ndarray
    mask: np.ndarray
    alpha: np.ndarray
    source: str
    offset: tuple = (0, 0)

    def outline(self) -> np.ndarray:
        """(k, 2) x, y points of the object's outer contour, in photo pixel coordinates."""
        contours, _ = cv2.findContours(self.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return np.zeros((0, 2), np.int64)
        largest = max(contours, key=cv2.contourArea)
        points = cv2.approxPolyDP(largest, 1.0, True)[:, 0, :]
        return points + np.array([self.offset[1], self.offset[0]])


def _alpha_is_meaningful(alpha) -> bool:
    if alpha is None:
        return False
    transparent = float(np.mean(alpha < 0.5))
    return 0.001 < transparent < 0.999


def _guided_filter(guide: np.ndarray, src: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-aware smoothing of ``src`` following a grey ``guide`` (He et al. 2010).

    It snaps a coarse mask to the photo's edges: the matting refinement of GrabCut.
    """
    size = 2 * radius + 1
    box = lambda a: cv2.boxFilter(a, -1, (size, size), borderType=cv2.BORDER_REFLECT)
    mean_i, mean_p = box(guide), box(src)
    cov = box(guide * src) - mean_i * mean_p
    var = box(guide * guide) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return box(a) * guide + box(b)


def _segment(rgb: np.ndarray) -> np.ndarray:
    """Soft foreground of an opaque photo with a plain or uncluttered background.

    Border pixels seed the background model of GrabCut; pixels whose colour is far
    from every border colour seed the foreground.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, SEGMENT_MAX_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape[:2]
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB).astype(np.float32)
    band = max(2, round(0.02 * max(sh, sw)))
    border = np.zeros((sh, sw), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    # Distance of each pixel to the nearest of a few representative border colours.
    border_colours = np.ascontiguousarray(lab[border])
    cv2.setRNGSeed(0)
    k = min(12, len(border_colours))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    _, _, centres = cv2.kmeans(border_colours, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    dist = np.full((sh, sw), np.inf, np.float32)
    for centre in centres:
        dist = np.minimum(dist, np.linalg.norm(lab - centre, axis=2))
    seed = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    seed[dist > 12.0] = cv2.GC_PR_FGD
    seed[dist > 40.0] = cv2.GC_FGD
    seed[border & (dist < 12.0)] = cv2.GC_BGD
    if not np.any(seed == cv2.GC_FGD) and not np.any(seed == cv2.GC_PR_FGD):
        return np.zeros((h, w), np.float32)
    cv2.setRNGSeed(0)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), seed, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return np.zeros((h, w), np.float32)
    hard = np.isin(seed, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    hard = cv2.resize(hard, (w, h), interpolation=cv2.INTER_LINEAR)
    guide = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    radius = max(2, round(0.004 * max(h, w)))
    return np.clip(_guided_filter(guide, hard, radius, 1e-3), 0.0, 1.0).astype(np.float32)


def _clean_mask(soft: np.ndarray) -> np.ndarray:
    mask = soft >= 0.5
    labels, count = ndimage.label(mask)
    if count == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    mask = labels == (int(np.argmax(sizes)) + 1)
    # Fill only small holes: large ones (a mug handle, the gap in a chair back) are real.
    holes, hole_count = ndimage.label(ndimage.binary_fill_holes(mask) & ~mask)
    if hole_count:
        hole_sizes = ndimage.sum_labels(np.ones_like(mask), holes, index=np.arange(1, hole_count + 1))
        small = np.flatnonzero(hole_sizes < SMALL_HOLE_SHARE * mask.sum()) + 1
        mask |= np.isin(holes, small)
    return mask


def extract_foreground(photo: Photo, margin: float = 0.04) -> Foreground:
    """Find the main object of ``photo`` and crop to it.

    Uses the alpha channel when it separates object and background, otherwise
    segments the object from a plain background (border-seeded GrabCut refined
    by a guided-filter matte). The largest object is kept and small holes are filled.

    Parameters
    ----------
    photo
        The decoded photo.
    margin
        Crop margin around the object, as a share of its larger side.

    Returns
    -------
    Foreground

    Raises
    ------
    NoObject
        No object found, or the object touches every border of the photo.
    """
    if _alpha_is_meaningful(photo.alpha):
        soft, source = photo.alpha.astype(np.float32), "alpha"
    else:
        soft, source = _segment(photo.rgb), "segmentation"
    mask = _clean_mask(soft)
    h, w = mask.shape
    if mask.sum() < MIN_OBJECT_SHARE * h * w:
        raise NoObject(f"{photo.name}: no object found; use a photo of one object on a plain background")
    if mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any():
        raise NoObject(
            f"{photo.name}: the object touches every border of the photo; "
            "use a photo with background around the object"
        )
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    pad = round(margin * max(rows[-1] - rows[0], cols[-1] - cols[0]) + 2)
    r0, r1 = max(rows[0] - pad, 0), min(rows[-1] + pad + 1, h)
    c0, c1 = max(cols[0] - pad, 0), min(cols[-1] + pad + 1, w)
    crop_mask = np.zeros((r1 - r0 + 2 * pad, c1 - c0 + 2 * pad), bool)
    crop_mask[pad:pad + r1 - r0, pad:pad + c1 - c0] = mask[r0:r1, c0:c1]
    sl = (slice(pad, pad + r1 - r0), slice(pad, pad + c1 - c0))
    alpha = np.zeros(crop_mask.shape, np.float32)
    alpha[sl] = np.where(mask[r0:r1, c0:c1], np.maximum(soft[r0:r1, c0:c1], 0.5), 0.0)
    rgb = np.zeros(crop_mask.shape + (3,), np.uint8)
    rgb[sl] = photo.rgb[r0:r1, c0:c1]
    return Foreground(rgb=_extend_colours(rgb, crop_mask), mask=crop_mask, alpha=alpha, source=source,
                      offset=(int(r0 - pad), int(c0 - pad)))


def _extend_colours(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Replace background pixels by the colour of the nearest object pixel.

    Sampling colour near the silhouette then never picks up the background.
    A thin inner rim is replaced too, because edge pixels blend with the background.
    """
    core = ndimage.binary_erosion(mask, iterations=2)
    if not core.any():
        core = mask
    _, (ri, ci) = ndimage.distance_transform_edt(~core, return_indices=True)
    return rgb[ri, ci]
