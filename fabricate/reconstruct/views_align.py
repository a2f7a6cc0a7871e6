"""Several photos of one object: their view labels, and where each photo's pixels sit.

Photos share a vertical axis and are roughly level, so every horizontal slice of the
object is seen by every photo as one image row. A photo's pose is then four numbers:
its azimuth, its zoom (pixels per object unit) and where the object's vertical axis
and middle height fall in it. Poses start from the silhouettes' bounding boxes (each
scaled to a common height, centred) and are refined by a pattern search maximising
the IoU between every silhouette and the projection of the visual hull they carve
together, on a coarse grid. A photo the others contradict is refused by name.

Object units: the object is 1 tall (z up, z = 0 at mid height); x, y horizontal in the
frame the labels define (x the right of a photo from the front, y away from it). The
first view in azimuth order keeps its labelled pose and fixes that frame, so the
same photos in any order give the same solid.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import cv2
import numpy as np

from fabricate.errors import BadOption, InconsistentViews
from fabricate.reconstruct.base import PhotoView

#: View labels and their azimuths (degrees from the front towards the object's own left).
VIEW_LABELS = {"front": 0.0, "left": 90.0, "back": 180.0, "right": 270.0}
#: Two views closer than this (degrees) are the same view given twice.
DUPLICATE_VIEW_DEG = 1.0
#: Coarse carving grid for the pose search: samples across the object's largest extent.
SEARCH_SAMPLES = 64
#: The pose search may turn a view by at most this much from its label (degrees) ...
MAX_AZIMUTH_CHANGE_DEG = 10.0
#: ... zoom it by at most this factor either way ...
MAX_SCALE_CHANGE = 1.15
#: ... and shift it by at most this share of the object's height.
MAX_SHIFT = 0.1
#: Pattern-search steps (azimuth degrees, log zoom, shift in coarse samples), halved per level.
FIRST_STEPS = (4.0, 0.04, 2.0)
SEARCH_LEVELS = 4
#: Rounds per level at most (a round tries every parameter of every view once).
SEARCH_ROUNDS = 3
#: IoU a pose change must gain to move a parameter all the way to its limit (quadratic below).
#: Four silhouettes of a box-like object fit equally well over a range of azimuths (two
#: crossing strips always project onto each other's full width), so without this prior
#: the search drifts on grid noise and shears the hull.
CHANGE_COST = 0.03
#: Leaving out one photo or another lets the rest agree about equally (IoU within this): a tie.
TIED_FIT = 0.05
#: A photo whose silhouette matches the solid all photos carve by less than this IoU is not
#: of the same object. Measured on 16 training meshes rendered from front/left/back/right with
#: handheld framing: level views fit at IoU >= 0.95, but views 0-15 degrees above the object
#: (not modelled) fit as low as 0.47 (mean 0.91); the same sets with one photo swapped for
#: another mesh's fit at 0.65 on average, up to 0.98 (similar shapes). The ranges overlap, so
#: the threshold sits below every correct set: it refuses only gross contradictions.
MIN_VIEW_IOU = 0.45


def parse_views(views, count: int) -> list:
    """The azimuth of each of ``count`` photos, in degrees in [0, 360).

    Parameters
    ----------
    views : str, sequence or None
        ``"front,left,back,right"``, degrees (``"45"``), or a list of labels and numbers,
        one per photo in order. None: evenly spaced turntable order, 360 / count apart.
    count : int
        Number of photos.

    Raises
    ------
    BadOption
        Wrong count, unknown label, a non-finite or out-of-range angle, or a view given twice.
    """
    if count < 1:
        raise BadOption("give at least one photo")
    if views is None:
        return [i * 360.0 / count for i in range(count)]
    items = views.split(",") if isinstance(views, str) else list(views)
    if len(items) != count:
        raise BadOption(f"--views gives {len(items)} view{'s' if len(items) != 1 else ''} for {count} "
                        f"photo{'s' if count != 1 else ''}; give one per photo, in order (e.g. front,left,back)")
    azimuths = []
    for number, item in enumerate(items, 1):
        azimuths.append(_parse_view(item, number))
    for i in range(count):
        for j in range(i):
            gap = abs((azimuths[i] - azimuths[j] + 180.0) % 360.0 - 180.0)
            if gap < DUPLICATE_VIEW_DEG:
                raise BadOption(f"views {j + 1} and {i + 1} are the same view ({azimuths[i]:g} degrees); "
                                "give each photo its own direction")
    return azimuths


def _parse_view(item, number: int) -> float:
    allowed = "front, left, back, right or an angle in degrees from -360 to 360"
    if isinstance(item, str):
        text = item.strip().lower()
        if text in VIEW_LABELS:
            return VIEW_LABELS[text]
        try:
            angle = float(text)
        except ValueError:
            raise BadOption(f"view {number}: unknown view {item.strip()!r}; use {allowed}") from None
    elif isinstance(item, (int, float, np.integer, np.floating)) and not isinstance(item, bool):
        angle = float(item)
    else:
        raise BadOption(f"view {number}: {item!r} is not a view; use {allowed}")
    if not math.isfinite(angle) or not -360.0 < angle < 360.0:
        raise BadOption(f"view {number}: angle {item} is out of range; use {allowed}")
    return angle % 360.0


@dataclass(frozen=True)
class ViewPose:
    """Where the object sits in one photo (crop pixels of its Foreground).

    A point (x, y, z) in object units lands at column
    ``centre_col + pixels_per_unit * (cos t * x + sin t * y)`` and row
    ``centre_row - pixels_per_unit * z``, t being the azimuth.
    """

    azimuth_deg: float
    pixels_per_unit: float
    centre_col: float
    centre_row: float


@dataclass
class ViewAlignment:
    """The refined pose of every view, how well each fits, and the coarse hull's bounds."""

    poses: list
    fits: list
    bounds: np.ndarray  # (2, 3) object-unit box holding the hull


def view_angle(pose: ViewPose) -> float:
    """A view's azimuth in radians: its angle in the object frame (x the front's right, y away from it)."""
    return math.radians(pose.azimuth_deg)


def view_axes(theta: float):
    """(right, forward) horizontal unit vectors of a view at relative azimuth ``theta`` (radians)."""
    return np.array([math.cos(theta), math.sin(theta)]), np.array([-math.sin(theta), math.cos(theta)])


def initial_pose(mask: np.ndarray, azimuth_deg: float) -> ViewPose:
    """The silhouette's bounding box scaled to height 1 and centred (pixel centres at integers)."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return ViewPose(azimuth_deg, float(rows[-1] - rows[0] + 1), (cols[0] + cols[-1]) / 2.0,
                    (rows[0] + rows[-1]) / 2.0)


def resample_view(image: np.ndarray, pose: ViewPose, u0: float, step: float, n_u: int, z0: float, n_z: int,
                  interpolation=cv2.INTER_LINEAR) -> np.ndarray:
    """The photo seen on a horizontal-by-vertical grid in object units, indexed [u, z].

    Sample (i, j) is at u = u0 + i * step along the view's right and z = z0 + j * step up.
    Downscaling first averages whole pixels (INTER_AREA), so thin parts are not aliased.
    """
    pixels_per_sample = pose.pixels_per_unit * step
    factor = max(1, int(pixels_per_sample / 1.5))
    source = image.astype(np.float32) if image.dtype == bool else image
    col_scale, offset = 1.0, 0.0
    if factor > 1:
        h, w = source.shape[:2]
        small = cv2.resize(source, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
        col_scale = 1.0 / factor
        offset = (factor - 1) / 2.0  # new pixel centre k sits at old factor * k + offset
        source = small
    # dst (x = j along z, y = i along u) -> source (column, row).
    p = pose.pixels_per_unit
    col0 = (pose.centre_col + p * u0 - offset) * col_scale
    row0 = (pose.centre_row - p * z0 - offset) * col_scale
    matrix = np.array([[0.0, p * step * col_scale, col0], [-p * step * col_scale, 0.0, row0]])
    return cv2.warpAffine(source, matrix, (n_z, n_u), flags=interpolation | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


class CarvingGrid:
    """A regular grid of object-unit samples on which silhouettes carve a hull quickly.

    Columns (x, y) are flattened; every view's silhouette is resampled onto a (u, z) image
    with the grid's spacing, so a column's samples read one image row and the hull's
    projection is a grouped OR over columns.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, step: float):
        self.step = step
        self.lo = np.asarray(lo, np.float64)
        self.shape = tuple(int(n) for n in np.ceil((np.asarray(hi) - self.lo) / step).astype(int) + 1)
        nx, ny, nz = self.shape
        x = self.lo[0] + step * np.arange(nx)
        y = self.lo[1] + step * np.arange(ny)
        self.xy = np.stack(np.meshgrid(x, y, indexing="ij"), -1).reshape(-1, 2)
        self.z0 = float(self.lo[2])
        # Every view image spans the columns' farthest reach from the axis.
        self.reach = float(np.linalg.norm(self.xy, axis=1).max()) + 2 * step
        self.n_u = int(np.ceil(2 * self.reach / step)) + 1

    def view_image(self, mask: np.ndarray, pose: ViewPose) -> np.ndarray:
        return resample_view(mask, pose, -self.reach, self.step, self.n_u, self.z0, self.shape[2]) >= 0.5

    def column_rows(self, theta: float) -> np.ndarray:
        """For every column, the row of a view image at relative azimuth ``theta`` it projects to."""
        right, _ = view_axes(theta)
        return np.clip(np.round((self.xy @ right + self.reach) / self.step), 0, self.n_u - 1).astype(np.int64)

    def carve(self, images, rows) -> np.ndarray:
        """(columns, nz) bool: inside every view's silhouette."""
        inside = images[0][rows[0]]
        for image, row in zip(images[1:], rows[1:]):
            inside = inside & image[row]
        return inside

    def project(self, hull: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The hull's silhouette in a view image, given the columns' rows in it."""
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
        image = np.zeros((self.n_u, hull.shape[1]), bool)
        image[sorted_rows[starts]] = np.logical_or.reduceat(hull[order], starts, axis=0)
        return image


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 0.0


def align_views(views: Sequence[PhotoView], samples: int = SEARCH_SAMPLES) -> ViewAlignment:
    """Refine every view's pose so the silhouettes agree; refuse a view the others contradict.

    Returns poses and fits in the order of ``views``.

    Raises
    ------
    InconsistentViews
        A photo whose silhouette the others contradict (named, with what disagrees).
    """
    order = sorted(range(len(views)), key=lambda i: views[i].azimuth_deg % 360.0)
    views = [views[i] for i in order]
    masks = [v.foreground.mask for v in views]
    start = [initial_pose(m, v.azimuth_deg % 360.0) for m, v in zip(masks, views)]
    bounds = hull_bounds(start, masks)
    step = float((bounds[1] - bounds[0]).max()) / samples
    grid = CarvingGrid(bounds[0] - 2 * step, bounds[1] + 2 * step, step)
    poses = _pattern_search(grid, masks, start)
    images = [grid.view_image(m, p) for m, p in zip(masks, poses)]
    rows = [grid.column_rows(view_angle(poses[i])) for i in range(len(poses))]
    hull = grid.carve(images, rows)
    fits = [iou(image, grid.project(hull, row)) for image, row in zip(images, rows)]
    if min(fits) < MIN_VIEW_IOU:
        # The search bends every pose towards the odd photo; judge from the silhouettes' own framing.
        raise InconsistentViews(_disagreement(views, masks, start, samples))
    report = [{"name": v.name, "azimuth_deg": round(p.azimuth_deg % 360.0, 2), "iou": round(f, 4),
               "scale": round(p.pixels_per_unit / s.pixels_per_unit, 4),
               "offset": [round((p.centre_col - s.centre_col) / s.pixels_per_unit, 4),
                          round((p.centre_row - s.centre_row) / s.pixels_per_unit, 4)]}
              for v, p, s, f in zip(views, poses, start, fits)]
    back = np.argsort(order)
    return ViewAlignment([poses[i] for i in back], [report[i] for i in back], _carved_bounds(grid, hull))


def hull_bounds(poses: Sequence[ViewPose], masks) -> np.ndarray:
    """(2, 3) box holding the hull: each view's horizontal extent is a strip, intersected on a plane.

    Views along one axis only (front and back) leave depth open; it is then bounded by
    the widest view, like a single photo's inflation would be.
    """
    half_widths = []
    strips = []
    for mask, pose in zip(masks, poses):
        cols = np.flatnonzero(mask.any(0))
        lo = (cols[0] - 0.5 - pose.centre_col) / pose.pixels_per_unit
        hi = (cols[-1] + 0.5 - pose.centre_col) / pose.pixels_per_unit
        strips.append((lo, hi))
        half_widths.append(max(-lo, hi))
    reach = 3.0 * max(half_widths)
    axis = np.linspace(-reach, reach, 257)
    xy = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    inside = np.linalg.norm(xy, axis=1) <= max(half_widths) * 1.5
    for i, (lo, hi) in enumerate(strips):
        u = xy @ view_axes(view_angle(poses[i]))[0]
        inside &= (u >= lo) & (u <= hi)
    if not inside.any():
        inside[np.argmin(np.linalg.norm(xy, axis=1))] = True
    pad = axis[1] - axis[0]
    lo_xy, hi_xy = xy[inside].min(0) - pad, xy[inside].max(0) + pad
    return np.array([[lo_xy[0], lo_xy[1], -0.5], [hi_xy[0], hi_xy[1], 0.5]])


def _carved_bounds(grid: CarvingGrid, hull: np.ndarray) -> np.ndarray:
    """Object-unit box of the coarse hull, one sample wider on every side."""
    columns = np.flatnonzero(hull.any(1))
    layers = np.flatnonzero(hull.any(0))
    if len(columns) == 0:
        raise InconsistentViews("the photos carve no common solid; check their order and view labels")
    xy = grid.xy[columns]
    lo = np.r_[xy.min(0), grid.z0 + grid.step * layers[0]] - grid.step
    hi = np.r_[xy.max(0), grid.z0 + grid.step * layers[-1]] + grid.step
    return np.stack([lo, hi])


def _pattern_search(grid: CarvingGrid, masks, start: Sequence[ViewPose]) -> list:
    """Coordinate-wise pattern search of every view but the first (which fixes the frame).

    ``start`` must be in azimuth order, so the result does not depend on the photos' order.

    Objective: the mean IoU between each silhouette and the hull's projection.
    """
    poses = list(start)
    images = [grid.view_image(m, p) for m, p in zip(masks, poses)]
    rows = [grid.column_rows(view_angle(poses[i])) for i in range(len(poses))]

    def score(images, rows, poses):
        hull = grid.carve(images, rows)
        fit = float(np.mean([iou(im, grid.project(hull, r)) for im, r in zip(images, rows)]))
        return fit - CHANGE_COST * sum(_change(p, s) for p, s in zip(poses, start))

    def moved(index, parameter, delta):
        pose, base = poses[index], start[index]
        if parameter == 0:
            azimuth = pose.azimuth_deg + delta
            if abs(azimuth - base.azimuth_deg) > MAX_AZIMUTH_CHANGE_DEG:
                return None
            return replace(pose, azimuth_deg=azimuth)
        if parameter == 1:
            zoom = pose.pixels_per_unit * math.exp(delta)
            if not 1 / MAX_SCALE_CHANGE <= zoom / base.pixels_per_unit <= MAX_SCALE_CHANGE:
                return None
            # Zoom about the object's middle, which the bounding box placed well.
            return replace(pose, pixels_per_unit=zoom)
        shift = delta * grid.step * pose.pixels_per_unit
        if parameter == 2:
            col = pose.centre_col + shift
            return None if abs(col - base.centre_col) > MAX_SHIFT * base.pixels_per_unit else replace(pose, centre_col=col)
        row = pose.centre_row + shift
        return None if abs(row - base.centre_row) > MAX_SHIFT * base.pixels_per_unit else replace(pose, centre_row=row)

    best = score(images, rows, poses)
    for level in range(SEARCH_LEVELS):
        steps = [s / 2 ** level for s in FIRST_STEPS]
        steps = [steps[0], steps[1], steps[2], steps[2]]
        for _ in range(SEARCH_ROUNDS):
            improved = False
            for index in range(1, len(poses)):
                for parameter, size in enumerate(steps):
                    for delta in (size, -size):
                        trial = moved(index, parameter, delta)
                        if trial is None:
                            continue
                        trial_poses = poses[:index] + [trial] + poses[index + 1:]
                        trial_images = images[:index] + [grid.view_image(masks[index], trial)] + images[index + 1:]
                        trial_rows = rows[:index] + [grid.column_rows(view_angle(trial))] + \
                            rows[index + 1:]
                        value = score(trial_images, trial_rows, trial_poses)
                        if value > best + 1e-6:
                            best, poses, images, rows, improved = value, trial_poses, trial_images, trial_rows, True
                            break
            if not improved:
                break
    return poses


def _change(pose: ViewPose, start: ViewPose) -> float:
    """How far a pose moved from its start, each parameter relative to its limit, squared and summed."""
    shift_limit = MAX_SHIFT * start.pixels_per_unit
    return (((pose.azimuth_deg - start.azimuth_deg) / MAX_AZIMUTH_CHANGE_DEG) ** 2
            + (math.log(pose.pixels_per_unit / start.pixels_per_unit) / math.log(MAX_SCALE_CHANGE)) ** 2
            + ((pose.centre_col - start.centre_col) / shift_limit) ** 2
            + ((pose.centre_row - start.centre_row) / shift_limit) ** 2)


def _disagreement(views, masks, poses, samples: int) -> str:
    """Which photo the others contradict, and how: the one whose removal lets the rest agree best."""
    count = len(views)
    rest_fit, seen_by_rest = [], []
    for left_out in range(count):
        keep = [i for i in range(count) if i != left_out]
        # The rest's own box: the odd photo must not crop the grid they are judged on.
        bounds = hull_bounds([poses[i] for i in keep], [masks[i] for i in keep])
        step = float((bounds[1] - bounds[0]).max()) / samples
        grid = CarvingGrid(bounds[0] - 2 * step, bounds[1] + 2 * step, step)
        images = [grid.view_image(m, p) for m, p in zip(masks, poses)]
        rows = [grid.column_rows(view_angle(p)) for p in poses]
        hull = grid.carve([images[i] for i in keep], [rows[i] for i in keep])
        rest_fit.append(min(iou(images[i], grid.project(hull, rows[i])) for i in keep))
        seen_by_rest.append((images[left_out], grid.project(hull, rows[left_out])))
    # Opposite views are mirror images, and often only they can contradict each other: then
    # leaving out either lets the rest agree, and the photo whose colours differ most from
    # the others' is named (a photo of another object usually looks different too).
    best = max(rest_fit)
    tied = [i for i in range(count) if rest_fit[i] >= best - TIED_FIT]
    colours = np.array([_mean_colour(v.foreground) for v in views])
    median = np.median(colours, axis=0)
    culprit = max(tied, key=lambda i: (np.linalg.norm(colours[i] - median), rest_fit[i], i))
    mine, others = seen_by_rest[culprit]
    match = iou(mine, others)
    mine_width = _mean_row_width(mine)
    their_width = _mean_row_width(others & mine.any(0)[None, :])
    detail = ""
    if their_width > 0 and mine_width > 0:
        ratio = mine_width / their_width
        if ratio > 1.1 or ratio < 0.9:
            detail = f" (width {ratio:.1f}x theirs)"
    return (f"{views[culprit].name}: its silhouette matches the solid the other photos make by only "
            f"{100 * match:.0f} %{detail}; is it a photo of the same object, with the right view label?")


def _mean_colour(foreground) -> np.ndarray:
    """Mean CIELAB colour of the object in a photo."""
    lab = cv2.cvtColor(foreground.rgb, cv2.COLOR_RGB2LAB).astype(np.float64)
    return lab[foreground.mask].mean(0)


def _mean_row_width(image: np.ndarray) -> float:
    widths = image.sum(0)
    return float(widths[widths > 0].mean()) if (widths > 0).any() else 0.0
