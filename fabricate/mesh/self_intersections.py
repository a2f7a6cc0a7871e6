"""Find pairs of triangles of a mesh that cross each other."""
from __future__ import annotations

import numpy as np

#: Candidate pairs tested per vectorised batch (bounds temporary memory).
BATCH = 400_000


def _segments_hit_triangles(p0, p1, a, b, c, eps=1e-9):
    """Whether segment p0-p1 crosses triangle abc (Moller-Trumbore, strict interior)."""
    d = p1 - p0
    e1, e2 = b - a, c - a
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > eps * (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) * np.linalg.norm(d, axis=1) + 1e-30)
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = p0 - a
    u = np.einsum("ij,ij->i", s, h) * inv
    q = np.cross(s, e1)
    v = np.einsum("ij,ij->i", d, q) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    tol = 1e-7
    return ok & (u > tol) & (v > tol) & (u + v < 1 - tol) & (t > tol) & (t < 1 - tol)


def _candidate_pairs(tri: np.ndarray) -> np.ndarray:
    """Pairs of triangles whose bounding boxes share a uniform-grid cell."""
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    cell = float(np.median(np.max(hi - lo, axis=1))) * 2.0 or 1.0
    origin = lo.min(axis=0)
    clo = np.floor((lo - origin) / cell).astype(np.int64)
    chi = np.floor((hi - origin) / cell).astype(np.int64)
    span = chi - clo + 1
    dims = chi.max(axis=0) + 2
    # Each triangle goes into every cell its box overlaps (usually one to eight).
    cells, owners = [], []
    for dx in range(int(span[:, 0].max())):
        for dy in range(int(span[:, 1].max())):
            for dz in range(int(span[:, 2].max())):
                inside = (dx < span[:, 0]) & (dy < span[:, 1]) & (dz < span[:, 2])
                idx = np.flatnonzero(inside)
                c = clo[idx] + [dx, dy, dz]
                cells.append((c[:, 0] * dims[1] + c[:, 1]) * dims[2] + c[:, 2])
                owners.append(idx)
    cells, owners = np.concatenate(cells), np.concatenate(owners)
    order = np.argsort(cells, kind="stable")
    cells, owners = cells[order], owners[order]
    pairs = []
    step = 1
    while True:
        same = cells[step:] == cells[:-step]
        if not same.any():
            break
        pairs.append(np.stack([owners[:-step][same], owners[step:][same]], axis=1))
        step += 1
    if not pairs:
        return np.zeros((0, 2), np.int64)
    pairs = np.sort(np.concatenate(pairs), axis=1)
    m = np.int64(len(tri))
    keys = np.sort(pairs[:, 0] * m + pairs[:, 1])  # sort-based unique: far faster than np.unique here
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
    pairs = np.stack([keys // m, keys % m], axis=1)
    overlap = np.all((lo[pairs[:, 0]] <= hi[pairs[:, 1]]) & (lo[pairs[:, 1]] <= hi[pairs[:, 0]]), axis=1)
    return pairs[overlap]


def find_self_intersections(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Pairs of faces that intersect and share no vertex.

    Each pair is tested by crossing the three edges of one triangle with the other
    and vice versa, which finds every transversal intersection. Touching at shared
    vertices (neighbours) and exactly coplanar overlaps are not reported.

    Parameters
    ----------
    vertices : (n, 3) float
    faces : (m, 3) int

    Returns
    -------
    (k, 2) int64
        Indices of intersecting face pairs, sorted.
    """
    if len(faces) < 2:
        return np.zeros((0, 2), np.int64)
    tri = vertices[faces]
    pairs = _candidate_pairs(tri)
    shared = (faces[pairs[:, 0], :, None] == faces[pairs[:, 1], None, :]).any(axis=(1, 2))
    pairs = pairs[~shared]
    hits = []
    for start in range(0, len(pairs), BATCH):
        part = pairs[start:start + BATCH]
        ta, tb = tri[part[:, 0]], tri[part[:, 1]]
        hit = np.zeros(len(part), bool)
        for first, second in ((ta, tb), (tb, ta)):
            for k in range(3):
                hit |= _segments_hit_triangles(first[:, k], first[:, (k + 1) % 3], second[:, 0], second[:, 1], second[:, 2])
        hits.append(part[hit])
    return np.concatenate(hits) if hits else np.zeros((0, 2), np.int64)
