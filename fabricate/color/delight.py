"""The object's own colours (albedo) from a photo of it: the photo's lighting estimated and divided out.

With the surface known, a photo's colour at a point is roughly ``albedo x shading(normal)``
plus a white specular highlight. The shading of distant light on a matte surface is
smooth in the normal: nine second-order spherical-harmonics coefficients capture it
(Ramamoorthi & Hanrahan 2001). Lighting and albedo are solved in turn: points are
grouped by colour (one region, one albedo: shading alone cannot then explain a change
of paint), the lighting is fitted by least squares to every group at once, the groups'
albedos are re-solved under it, and the points regrouped by their delit colour.
Highlights (brighter than the fit in every channel alike: light reflected, not
absorbed) are cut out and filled from the surroundings. No learned weights are used.

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
#: How far each sample's brightness moves to its colour group's (0 = not at all, 1 = all the way).
EVEN_OUT = 1.0
#: The group's brightness: this quantile of its samples (its best-lit part).
GROUP_BRIGHTNESS_QUANTILE = 0.9
#: Grouping weight of one doubling of brightness, against chromaticity x 100.
BRIGHTNESS_WEIGHT = 1.5
#: The most any sample is brightened, in linear light (6 is about 2.3 x in sRGB values).
MAX_GAIN = 6.0
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
    centres, labels = weighted_kmeans(features, weights, min(count, len(features)), seed=0)
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
    albedo = _even_out_groups(colours / shading[:, None], highlight, base_weight)
    # No sample is brightened more than MAX_GAIN all told: a dark paint is not a shadow everywhere.
    albedo = np.minimum(albedo, colours * MAX_GAIN)
    return Delit(np.clip(albedo, 0, 1), highlight, shading)


def _even_out_groups(albedo: np.ndarray, highlight: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Give each colour group the brightness of its best-lit part, keeping every sample's own hue.

    Shading the lighting fit missed (the surface's normals from one photo are a guess; a
    cast shadow is not in the model) leaves one paint darker in places; its chromaticity,
    which shading does not change, still groups it. The best-lit part of a group shows
    the paint itself, so a high quantile of the group's brightness is taken as the
    group's, and each sample moves :data:`EVEN_OUT` of the way there (in log brightness).
    """
    if EVEN_OUT <= 0:
        return albedo
    clean = ~highlight
    if clean.sum() < 20:
        return albedo
    brightness = albedo.mean(axis=1) + 1e-6
    # Chromaticity cannot tell a dark grey paint from a white one: brightness counts a little too.
    features = np.column_stack([_group_features(albedo, by_chromaticity=True),
                                BRIGHTNESS_WEIGHT * np.log2(brightness)])
    labels = colour_groups(features[clean], weights[clean], COLOUR_GROUPS)
    all_labels = np.full(len(albedo), -1)
    all_labels[clean] = labels
    if highlight.any():  # highlights join the group of the nearest clean chromaticity
        from scipy.spatial import cKDTree

        _, nearest = cKDTree(features[clean]).query(features[highlight])
        all_labels[highlight] = labels[nearest]
    target = np.empty(len(albedo))
    for group in np.unique(labels):
        members = clean & (all_labels == group)
        target[all_labels == group] = np.quantile(brightness[members], GROUP_BRIGHTNESS_QUANTILE)
    return albedo * np.minimum((target / brightness) ** EVEN_OUT, MAX_GAIN)[:, None]
