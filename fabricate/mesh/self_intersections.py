"""Find pairs of triangles of a mesh that cross each other.

Broad phase: a uniform grid. Every triangle's bounding box is entered in each cell it
overlaps, and a pair of triangles is looked at only in the one cell that holds the low
corner of the overlap of their boxes, so each pair whose boxes overlap is seen exactly
once, without sorting or de-duplicating pairs. Pairs that share a vertex (neighbours)
and pairs where one triangle lies clearly on one side of the other's plane cannot
cross; the rest get the exact test: each edge of one triangle against the other.

The loops are compiled (``_intersect.c``, the formulas in the order written below); about
half a second of numpy for 200k triangles became a few hundredths.
"""
from __future__ import annotations

import ctypes
from functools import lru_cache

import numpy as np

from fabricate.compiled import array, library

#: Grid cell edge in median triangle extents: 1.5 keeps each cell's list short (a few
#: triangles) while most triangles enter one to four cells, not eight; measured on robot at
#: 256, compiled (raw 332k / placed 200k triangles): 0.75 -> 0.38 / 0.22 s, 1.0 -> 0.21 / 0.15,
#: 1.5 -> 0.16 / 0.08, 2.0 -> 0.15 / 0.08. The pairs found are the same for any cell size
#: (every overlapping pair).
CELL_EXTENTS = 1.5
#: A triangle lies "clearly" on one side of another's plane when each corner's distance
#: from it, times |e1 x e2|, exceeds this share of |e1| |e2| times the mesh size. The exact
#: test accepts a segment only when |det| > 1e-9 |e1| |e2| |d|, so its crossing point is
#: off by at most ~2e-7 of the mesh size; a margin 5x that means the shortcut never drops a
#: pair the exact test would report (tests/test_validate.py compares both on many meshes).
PLANE_MARGIN = 1e-6
#: Exact-test tolerances (barycentric and along the segment).
TOLERANCE = 1e-7
#: The exact test's determinant threshold, relative to |e1| |e2| |d|.
DETERMINANT_EPS = 1e-9


def find_self_intersections(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Pairs of faces that intersect and share no vertex.

    Each pair is tested by crossing the three edges of one triangle with the other
    and vice versa (Moller-Trumbore: the segment meets the triangle's strict interior,
    |det| > DETERMINANT_EPS |e1| |e2| |d|, barycentrics and the segment parameter more
    than TOLERANCE inside), which finds every transversal intersection. Touching at shared
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
    vertices = np.ascontiguousarray(vertices, np.float64)
    faces = np.ascontiguousarray(faces, np.int64)
    # The compiled loops index without checking: refuse what would make them read astray.
    if faces.ndim != 2 or faces.shape[1] != 3 or vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError("self-intersection test: vertices and faces must be (n, 3) arrays")
    if faces.min() < 0 or faces.max() >= len(vertices) or not np.isfinite(vertices).all():
        raise ValueError("self-intersection test: face indices outside the vertices or non-finite coordinates")
    capacity = 1024
    while True:
        pairs = np.empty((capacity, 2), np.int64)
        found = _library().si_find(vertices, faces, len(faces), CELL_EXTENTS, PLANE_MARGIN, DETERMINANT_EPS,
                                   TOLERANCE, pairs, capacity)
        if found < 0:
            raise MemoryError("self-intersection test: out of memory")
        if found <= capacity:
            break
        capacity = found
    found = pairs[:found]
    return found[np.lexsort((found[:, 1], found[:, 0]))]


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    compiled = library("fabricate.mesh._intersect")
    compiled.si_find.argtypes = [array(np.float64), array(np.int64), ctypes.c_int64, ctypes.c_double, ctypes.c_double,
                                 ctypes.c_double, ctypes.c_double, array(np.int64), ctypes.c_int64]
    compiled.si_find.restype = ctypes.c_int64
    return compiled
