"""Seeded points on a mesh's surface: evaluation scores with them, training data builds SDF targets from them.

At the bottom of the tree (numpy only), so every stage can call down to it.
"""
from __future__ import annotations

import numpy as np


def sample_surface(vertices: np.ndarray, faces: np.ndarray, count: int, seed: int = 0):
    """Area-weighted random points on the surface and their face normals (seeded)."""
    rng = np.random.default_rng(seed)
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = np.linalg.norm(cross, axis=1)
    chosen = rng.choice(len(faces), size=count, p=area / area.sum())
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    a, b, c = tri[chosen, 0], tri[chosen, 1], tri[chosen, 2]
    points = (1 - s)[:, None] * a + (s * (1 - r2))[:, None] * b + (s * r2)[:, None] * c
    normals = cross[chosen] / np.maximum(area[chosen], 1e-30)[:, None]
    return points, normals
