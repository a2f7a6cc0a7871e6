"""Find pairs of triangles of a mesh that cross each other.

Broad phase: a uniform grid. Every triangle's bounding box is entered in each cell it
overlaps, and a pair of triangles is looked at only in the one cell that holds the low
corner of the overlap of their boxes, so each pair whose boxes overlap is seen exactly
once, without sorting or de-duplicating pairs. Pairs that share a vertex (neighbours)
and pairs where one triangle lies clearly on one side of the other's plane cannot
cross; the rest get the exact test: each edge of one triangle against the other.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

#: Candidate pairs handled per vectorised batch (bounds temporary memory: ~100 bytes a pair).
BATCH = 1_000_000
#: Grid cell edge in median triangle extents: 1.5 keeps each cell's list short (a few
#: triangles) while most triangles enter one to four cells, not eight; measured on the
#: 200k-triangle robot at 256: 1.0 -> 0.42 s, 1.5 -> 0.29 s, 2.0 -> 0.29 s, 3.0 -> 0.37 s
#: for the broad phase. The pairs found are the same for any cell size (every overlapping pair).
CELL_EXTENTS = 1.5
#: A triangle lies "clearly" on one side of another's plane when each corner's distance
#: from it, times |e1 x e2|, exceeds this share of |e1| |e2| times the mesh size. The exact
#: test accepts a segment only when |det| > 1e-9 |e1| |e2| |d|, so its crossing point is
#: off by at most ~2e-7 of the mesh size; a margin 5x that means the shortcut never drops a
#: pair the exact test would report (tests/test_validate.py compares both on many meshes).
PLANE_MARGIN = 1e-6
#: Exact-test tolerances (barycentric and along the segment).
TOLERANCE = 1e-7


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
    tol = TOLERANCE
    return ok & (u > tol) & (v > tol) & (u + v < 1 - tol) & (t > tol) & (t < 1 - tol)


def box_overlap_pairs(lo: np.ndarray, hi: np.ndarray, cell: Optional[float] = None):
    """Every pair (i < j) of boxes that overlap (closed boxes), each once, in batches.

    Yields (k, 2) int64 arrays in no particular order.

    Parameters
    ----------
    lo, hi : (m, 3) float
        Box corners.
    cell : float, optional
        Grid cell edge (default: :data:`CELL_EXTENTS` median box extents).
    """
    m = len(lo)
    if m < 2:
        return
    if cell is None:
        cell = float(np.median(np.max(hi - lo, axis=1))) * CELL_EXTENTS
    size = float(np.max(hi.max(axis=0) - lo.min(axis=0)))
    # A degenerate mesh (all boxes points) or tiny cells over a huge extent: bound the grid.
    cell = max(cell, size / 2 ** 20, 1e-300) if size > 0 else 1.0
    origin = lo.min(axis=0)
    clo = np.floor((lo - origin) / cell).astype(np.int64)
    chi = np.floor((hi - origin) / cell).astype(np.int64)
    dims = chi.max(axis=0) + 1
    span = chi - clo + 1
    per_box = span.prod(axis=1)
    # Entry e: box owner[e] in the cell clo[owner] + (dx, dy, dz).
    index = np.int32 if m < 2 ** 31 else np.int64
    owner = np.repeat(np.arange(m, dtype=index), per_box)
    local = np.arange(len(owner)) - np.repeat(np.cumsum(per_box) - per_box, per_box)
    sy, sz = span[owner, 1], span[owner, 2]
    step = np.stack([local // (sy * sz), (local // sz) % sy, local % sz], axis=1)
    cells = ((clo[owner, 0] + step[:, 0]) * dims[1] + clo[owner, 1] + step[:, 1]) * dims[2] + clo[owner, 2] + step[:, 2]
    # Bit a of lowest[e] says entry e's cell is its box's first cell along axis a. A pair's boxes
    # overlap from cell max(clo_i, clo_j) on: that is this cell iff, on every axis, one of the two
    # boxes starts here.
    lowest = ((step[:, 0] == 0) | ((step[:, 1] == 0) << 1) | ((step[:, 2] == 0) << 2)).astype(np.int8)
    del local, sy, sz, step
    order = np.argsort(cells, kind="stable")
    cells, owner, lowest = cells[order], owner[order], lowest[order]
    box_lo, box_hi = np.asfortranarray(lo[owner]), np.asfortranarray(hi[owner])  # read one axis at a time
    del order
    # Entry p pairs with the later entries of its cell: its run's end - p - 1 of them.
    first = np.ones(len(cells), bool)
    first[1:] = cells[1:] != cells[:-1]
    del cells
    run_start = np.flatnonzero(first)
    run_end = np.append(run_start[1:], len(first)).astype(index)
    partners = run_end[np.cumsum(first) - 1] - np.arange(len(first), dtype=index) - 1
    cumulative = np.cumsum(partners, dtype=np.int64)
    begin = 0
    while begin < len(first):
        # Entries [begin, end) make at most about BATCH pairs (at least one entry per batch).
        end = int(np.searchsorted(cumulative, (cumulative[begin - 1] if begin else 0) + BATCH, side="right"))
        end = max(end, begin + 1)
        k = partners[begin:end]
        total = int(k.sum())
        if total:
            p = np.repeat(np.arange(begin, end, dtype=index), k)
            q = p + 1 + (np.arange(total, dtype=index) - np.repeat((np.cumsum(k) - k).astype(index), k))
            home = (lowest[p] | lowest[q]) == 7
            p, q = p[home], q[home]
            overlap = np.ones(len(p), bool)
            for axis in range(3):  # axis by axis: no (k, 3) temporaries
                overlap &= (box_lo[p, axis] <= box_hi[q, axis]) & (box_lo[q, axis] <= box_hi[p, axis])
            i, j = owner[p[overlap]].astype(np.int64), owner[q[overlap]].astype(np.int64)
            yield np.stack([np.minimum(i, j), np.maximum(i, j)], axis=1)
        begin = end


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
        Indices of intersecting face pairs (lower index first), sorted.
    """
    if len(faces) < 2:
        return np.zeros((0, 2), np.int64)
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    tri = vertices[faces]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    normal = np.cross(e1, e2)
    offset = np.einsum("ij,ij->i", normal, tri[:, 0])
    size = float(np.max(hi.max(axis=0) - lo.min(axis=0))) or 1.0
    margin = PLANE_MARGIN * np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) * size
    hits = []
    for pairs in box_overlap_pairs(lo, hi):
        first, second = faces[pairs[:, 0]], faces[pairs[:, 1]]
        shared = np.zeros(len(pairs), bool)
        for a_corner in range(3):
            for b_corner in range(3):
                shared |= first[:, a_corner] == second[:, b_corner]
        pairs = pairs[~shared]
        if not len(pairs):
            continue
        a, b = pairs[:, 0], pairs[:, 1]
        # Corner distances (scaled by |normal|) of each triangle from the other's plane.
        of_a = np.einsum("ikj,ij->ik", tri[a], normal[b]) - offset[b][:, None]
        of_b = np.einsum("ikj,ij->ik", tri[b], normal[a]) - offset[a][:, None]
        apart = ((of_a > margin[b][:, None]).all(axis=1) | (of_a < -margin[b][:, None]).all(axis=1)
                 | (of_b > margin[a][:, None]).all(axis=1) | (of_b < -margin[a][:, None]).all(axis=1))
        pairs = pairs[~apart]
        if not len(pairs):
            continue
        ta, tb = tri[pairs[:, 0]], tri[pairs[:, 1]]
        hit = np.zeros(len(pairs), bool)
        for first, second in ((ta, tb), (tb, ta)):
            for k in range(3):
                hit |= _segments_hit_triangles(first[:, k], first[:, (k + 1) % 3], second[:, 0], second[:, 1],
                                               second[:, 2])
        hits.append(pairs[hit])
    if not hits:
        return np.zeros((0, 2), np.int64)
    found = np.concatenate(hits)
    return found[np.lexsort((found[:, 1], found[:, 0]))]
