"""The object's own colours (albedo) from a photo of it: the photo's lighting estimated and divided out.

With the surface known, a photo's colour at a point is roughly ``albedo x shading(normal)``
plus a white specular highlight. The shading of distant light on a matte surface is
smooth in the normal: nine second-order spherical-harmonics coefficients capture it
(Ramamoorthi & Hanrahan 2001). Lighting and albedo are solved in turn: points are
grouped by colour (one region, one albedo: shading alone cannot then explain a change
of paint), the lighting is fitted by least squares to every group at once, the groups'
albedos are re-solved under it, and the points regrouped by their delit colour.
Highlights (brighter than the fit in every channel alike: light reflected, not
absorbed) are cut out and filled from the surroundings. What the fit leaves (its normals
are a guess from one photo; it has no cast shadows) is taken out over the surface:
regions that only the light divides (:func:`shading_regions`) each get the brightness of
their best-lit part. No learned weights are used.

Everything is per vertex, in linear light (where shading multiplies colours).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fabricate.color.lab import linear_to_lab
from fabricate.color.palette import weighted_kmeans

#: Modes of the ``--delight`` option.
DELIGHT_MODES = ("auto", "off")
#: Colour groups the lighting is fitted over (more than an object's paints: a spare group costs little).
COLOUR_GROUPS = 6
#: Group centres closer than this (chromaticity x 100, or Lab units) are one paint.
SAME_PAINT = 6.0
#: Features closer than this (their units) fall into one bin of the grouping's k-means.
GROUP_BIN = 1.0
#: k-means rounds per grouping (the lighting fit alternates with it, so each grouping need not converge).
GROUP_KMEANS_ITERATIONS = 12
#: Lighting / albedo alternations.
ITERATIONS = 6
#: The brightest shading on the seen surface (this quantile) counts as full light: albedo = photo there.
FULL_LIGHT_QUANTILE = 0.98
#: Shading is never taken below this share of full light (dark corners would blow up otherwise).
MIN_SHADING = 0.08
#: A highlight adds at least this much linear light to every channel over the fit ...
HIGHLIGHT_MIN_EXCESS = 0.06
#: ... and at least this share of the fitted diffuse colour's brightness.
HIGHLIGHT_RELATIVE_EXCESS = 0.25
#: Rings of neighbours around a detected highlight also cut out (its soft edge).
HIGHLIGHT_GROW = 2
#: Ridge weight keeping the lighting fit well posed where the seen normals cover little of the sphere.
RIDGE = 1e-3


def sh_basis(normals: np.ndarray) -> np.ndarray:
    """(n, 9) second-order real spherical harmonics of unit normals (constant factors dropped: they are fitted)."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    return np.stack([np.ones_like(x), x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], axis=1)


@dataclass
class Delit:
    """Photo samples with their lighting divided out.

    Attributes
    ----------
    albedo : (p, 3) float
        Linear albedo of each sample.
    highlight : (p,) bool
        Samples that are a specular highlight (their albedo is not to be trusted).
    shading : (p,) float
        The fitted shading (1 = full light).
    """

    albedo: np.ndarray
    highlight: np.ndarray
    shading: np.ndarray


def _group_features(linear: np.ndarray, by_chromaticity: bool) -> np.ndarray:
    """What groups points of one paint: first chromaticity (blind to shading), then the delit colour in Lab."""
    if by_chromaticity:
        total = linear.sum(axis=1, keepdims=True) + 1e-6
        return 100.0 * linear[:, :2] / total
    return linear_to_lab(np.clip(linear, 0, 1))


def colour_groups(features: np.ndarray, weights: np.ndarray, count: int) -> np.ndarray:
    """(p,) group of each sample: weighted k-means, then groups closer than :data:`SAME_PAINT` merged.

    k-means always fills its ``count`` groups; one paint split in two by noise (or by
    how dark its samples are) would let shading pass for a change of paint.
    """
    # k-means on the features binned to GROUP_BIN (their weighted means, weights summed): chromaticities
    # fall into a few thousand bins, delit Lab colours into about as many as there are samples.
    cells = np.round(features / GROUP_BIN).astype(np.int64)
    cells -= cells.min(axis=0)
    key = cells[:, 0]
    for d in range(1, cells.shape[1]):  # one integer per cell (np.unique on rows sorts far slower)
        key = key * (int(cells[:, d].max()) + 1) + cells[:, d]
    _, bin_of, members = np.unique(key, return_inverse=True, return_counts=True)
    weights = np.asarray(weights, np.float64) + 1e-12
    bin_weight = np.bincount(bin_of, weights, len(members))
    points = np.stack([np.bincount(bin_of, weights * features[:, d], len(members)) for d in range(features.shape[1])],
                      axis=1) / bin_weight[:, None]
    centres, bin_labels = weighted_kmeans(points, bin_weight, min(count, len(points)), seed=0,
                                          iterations=GROUP_KMEANS_ITERATIONS)
    labels = bin_labels[bin_of]
    merged = np.arange(len(centres))
    for i in range(len(centres)):
        for j in range(i):
            if np.linalg.norm(centres[i] - centres[j]) < SAME_PAINT and merged[j] == j:
                merged[i] = merged[j]
                break
    return np.unique(merged, return_inverse=True)[1][labels]


def _fit_lighting(basis: np.ndarray, colours: np.ndarray, group_albedo: np.ndarray, weights: np.ndarray):
    """Nine coefficients minimising sum w |colour - albedo x basis . L|^2 over the three channels."""
    normal_matrix = np.zeros((9, 9))
    rhs = np.zeros(9)
    for channel in range(3):
        a = group_albedo[:, channel]
        weighted = basis * (weights * a * a)[:, None]
        normal_matrix += basis.T @ weighted
        rhs += basis.T @ (weights * a * colours[:, channel])
    scale = np.trace(normal_matrix) / 9 or 1.0
    return np.linalg.solve(normal_matrix + RIDGE * scale * np.eye(9), rhs)


def _group_albedos(colours, shading, labels, weights, count):
    """Per group and channel: the albedo minimising sum w (colour - albedo x shading)^2."""
    albedo = np.zeros((count, 3))
    for group in range(count):
        members = labels == group
        if not members.any():
            continue
        w, s = weights[members], shading[members]
        albedo[group] = (w[:, None] * s[:, None] * colours[members]).sum(0) / max((w * s * s).sum(), 1e-12)
    return albedo


def delight_samples(normals: np.ndarray, linear: np.ndarray, weights: np.ndarray) -> Delit:
    """Fit one distant lighting to photo samples of a surface, divide it out and flag highlights.

    Parameters
    ----------
    normals : (p, 3) float
        Unit surface normal of each sample.
    linear : (p, 3) float
        The photo's colour of each sample in linear light. Samples of one point seen by
        several photos under the same (object-fixed) light may all be given.
    weights : (p,) float
        Trust in each sample (e.g. how directly its photo sees it).
    """
    colours = np.asarray(linear, np.float64)
    count = len(colours)
    if count < 20:  # too little seen to fit a lighting: the photo's colour is the best guess
        return Delit(colours.copy(), np.zeros(count, bool), np.ones(count))
    basis = sh_basis(np.asarray(normals, np.float64))
    base_weight = np.asarray(weights, np.float64)
    weights = base_weight.copy()
    shading = np.ones(count)
    for iteration in range(ITERATIONS):
        features = _group_features(colours / shading[:, None], by_chromaticity=iteration == 0)
        labels = colour_groups(features, weights, COLOUR_GROUPS)
        group_albedo = _group_albedos(colours, shading, labels, weights, labels.max() + 1)
        fitted = basis @ _fit_lighting(basis, colours, group_albedo[labels], weights)
        full = np.quantile(fitted, FULL_LIGHT_QUANTILE)
        if not full > 0:
            break
        shading = np.maximum(fitted / full, MIN_SHADING)
        group_albedo = _group_albedos(colours, shading, labels, weights, labels.max() + 1)
        # Robust reweighting: samples the fit explains badly (highlights, texture) count less next time.
        residual = np.linalg.norm(colours - group_albedo[labels] * shading[:, None], axis=1)
        spread = 1.4826 * np.median(residual) + 1e-4
        weights = base_weight / (1.0 + (residual / (2.5 * spread)) ** 2)
    predicted = group_albedo[labels] * shading[:, None]
    lowest_excess = (colours - predicted).min(axis=1)
    highlight = (lowest_excess > HIGHLIGHT_MIN_EXCESS) & \
        (lowest_excess > HIGHLIGHT_RELATIVE_EXCESS * predicted.mean(axis=1))
    return Delit(np.clip(colours / shading[:, None], 0, 1), highlight, shading)


#: Two neighbouring vertices show one paint under different light when their colours differ by a
#: common factor: their per-channel log2 ratios agree within this spread ...
SHADING_EDGE_SPREAD = 0.35
#: ... and the factor is at most this (log2; shading changes gradually over the surface, paint at a line).
SHADING_EDGE_STEP = 0.6
#: A vertex farther than this in chromaticity (x 100) from its region's median leaves the region.
HUE_TOLERANCE = 2 * SAME_PAINT
#: Linear light added before the logarithms, so a dark pixel's noise does not pass for a change of hue.
DARK_FLOOR = 0.01
#: Regions with fewer than this share of the seen vertices keep their own brightness.
MIN_REGION_SHARE = 0.002
#: A region's brightness: this quantile of its vertices' (its best-lit part shows the paint).
REGION_BRIGHTNESS_QUANTILE = 0.9
#: A vertex the lighting fit shades darker than this does not set its region's brightness.
SURE_SHADING = 0.25
#: The most evening out brightens a vertex, in linear light (a side lit at 75 degrees with
#: 8 % ambient is 12 x darker than the front).
MAX_REGION_GAIN = 16.0


def shading_regions(albedo: np.ndarray, known: np.ndarray, adjacency) -> np.ndarray:
    """(n,) region of each vertex, -1 where not ``known``: vertices joined by edges across which only the light changes.

    An edge joins its two vertices when their colours differ by a common factor (within
    :data:`SHADING_EDGE_SPREAD` and :data:`SHADING_EDGE_STEP`). Brightness may drift along a
    chain of such edges, as shading does; hue may not: a vertex farther than
    :data:`HUE_TOLERANCE` in chromaticity from its region's median leaves the region, so no
    chain of small hue changes carries one paint's brightness into another.

    Parameters
    ----------
    albedo : (n, 3) float
        Linear colours (the lighting fit divided out) of the known vertices.
    known : (n,) bool
        Vertices a photo saw.
    adjacency : (n, n) sparse
        The mesh's vertex adjacency (:func:`fabricate.color.fill.vertex_adjacency`).
    """
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    n = len(albedo)
    upper = sparse.triu(adjacency, k=1).tocoo()
    i, j = upper.row, upper.col
    keep = known[i] & known[j]
    i, j = i[keep], j[keep]
    difference = np.log2(albedo[i] + DARK_FLOOR) - np.log2(albedo[j] + DARK_FLOOR)
    common = difference.mean(axis=1)
    spread = np.abs(difference - common[:, None]).max(axis=1)
    joined = (spread < SHADING_EDGE_SPREAD) & (np.abs(common) < SHADING_EDGE_STEP)
    graph = sparse.coo_matrix((np.ones(int(joined.sum())), (i[joined], j[joined])), shape=(n, n))
    labels = np.where(known, connected_components(graph, directed=False)[1], -1)
    # Hue may not drift along a chain: a vertex far in chromaticity from its region's median leaves it.
    seen = np.flatnonzero(known)
    if len(seen):
        chroma = _group_features(albedo[seen], by_chromaticity=True)
        median = _median_by_label(chroma, labels[seen])
        far = np.linalg.norm(chroma - median, axis=1) > HUE_TOLERANCE
        labels[seen[far]] = -1  # a region of one vertex is its own median: never far
    return labels


def _median_by_label(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(p, k): each row's column-wise median over the rows of its label, as np.median gives it
    (the mean of the two middle values for an even count), for every label at once."""
    median = np.empty_like(values)
    for column in range(values.shape[1]):
        order = np.lexsort((values[:, column], labels))
        ranked_labels, ranked = labels[order], values[order, column]
        start = np.flatnonzero(np.r_[True, ranked_labels[1:] != ranked_labels[:-1]])
        count = np.diff(np.r_[start, len(order)])
        low, high = start + (count - 1) // 2, start + count // 2
        per_label = (ranked[low] + ranked[high]) / 2
        median[order, column] = np.repeat(per_label, count)
    return median


def even_out_regions(albedo: np.ndarray, known: np.ndarray, adjacency, shading: np.ndarray) -> np.ndarray:
    """The shading the lighting fit left, taken out region by region (:func:`shading_regions`).

    The fit's normals are the reconstruction's, a guess from one photo, and its lighting
    has no cast shadows: one paint is left darker where the light did not reach. Within a
    region (one paint by construction), every vertex is brought to the region's
    :data:`REGION_BRIGHTNESS_QUANTILE` brightness, keeping its own hue. Two paints meet at a
    line (a step in brightness or hue), which no region crosses, so a dark paint next to a
    light one keeps its darkness.

    Parameters
    ----------
    albedo, known, adjacency
        As for :func:`shading_regions`.
    shading : (n,) float
        The lighting fit's shading at each vertex. Where it is below :data:`SURE_SHADING`
        the delit colour is mostly the fit's extrapolation (a normal the photos hardly
        constrain), so such vertices are evened but do not set their region's brightness.

    Returns the (n, 3) evened colours, clipped to [0, 1].
    """
    albedo = np.array(albedo, np.float64, copy=True)
    labels = shading_regions(albedo, known, adjacency)
    seen = np.flatnonzero(labels >= 0)
    if not len(seen):
        return albedo
    brightness = albedo.mean(axis=1) + 1e-6
    order = seen[np.argsort(labels[seen], kind="stable")]
    counts = np.bincount(labels[order])
    starts = np.concatenate([[0], np.cumsum(counts)])
    sure = np.asarray(shading)[order] >= SURE_SHADING
    smallest = max(3, int(MIN_REGION_SHARE * len(seen)))
    for region in np.flatnonzero(counts >= smallest):
        span = slice(starts[region], starts[region + 1])
        members = order[span]
        setting = members[sure[span]] if sure[span].any() else members
        target = np.quantile(brightness[setting], REGION_BRIGHTNESS_QUANTILE)
        albedo[members] *= np.minimum(target / brightness[members], MAX_REGION_GAIN)[:, None]
    return np.clip(albedo, 0, 1)
