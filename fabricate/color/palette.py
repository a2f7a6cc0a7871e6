"""Reduce a model's colours to the N filaments a printer can load."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from fabricate.color.lab import lab_to_srgb, srgb_to_lab, to_hex
from fabricate.color.regions import clean_regions
from fabricate.errors import InputError
from fabricate.mesh.coloured_mesh import ColouredMesh

MAX_FILAMENTS = 16
#: Smallest colour island kept, in triangles.
MIN_ISLAND = 20


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


def weighted_kmeans(points: np.ndarray, weights: np.ndarray, k: int, seed: int = 0, iterations: int = 40):
    """Weighted k-means with k-means++ seeding; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    first = int(np.argmax(weights))  # start from the dominant colour, not a random one
    centres = [points[first]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1) * weights
        if d2.sum() <= 0:
            break
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum())])
    centres = np.array(centres)
    for _ in range(iterations):
        assign = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        new = np.array([np.average(points[assign == j], axis=0, weights=weights[assign == j])
                        if weights[assign == j].sum() > 0 else centres[j] for j in range(len(centres))])
        if np.allclose(new, centres, atol=1e-3):
            break
        centres = new
    assign = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return centres, assign


def assign_filaments(mesh: ColouredMesh, count: int, palette: Optional[np.ndarray] = None,
                     min_island: int = MIN_ISLAND, seed: int = 0) -> FilamentAssignment:
    """Cluster face colours into ``count`` filaments in CIELAB and clean the regions.

    Parameters
    ----------
    mesh
        Mesh with ``face_colours``.
    count
        Number of filaments, 1 to 16.
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
    centres, assign = weighted_kmeans(lab, weights, min(count, len(colours)), seed)
    labels = assign[inverse.ravel()]
    if palette is not None:
        palette_lab = srgb_to_lab(palette)
        cost = ((centres[:, None] - palette_lab[None]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        chosen = np.empty(len(centres), np.int64)
        chosen[rows] = cols
        result_palette = palette[chosen]
    else:
        result_palette = lab_to_srgb(centres)
    if len(centres) > 1:
        labels = clean_regions(mesh.faces, len(mesh.vertices), labels, min_island)
    # Renumber by area so filament 1 is the main colour, then drop filaments that vanished.
    share = np.bincount(labels, area, minlength=len(centres))
    order = [j for j in np.argsort(-share, kind="stable") if share[j] > 0]
    remap = np.full(len(centres), -1)
    remap[order] = np.arange(len(order))
    labels = remap[labels]
    share = share[order] / share.sum()
    return FilamentAssignment(face_filament=labels.astype(np.int64), palette=result_palette[order],
                              area_share=share)
