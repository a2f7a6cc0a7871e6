"""The marching-cubes triangle table, derived from one face rule so that it is watertight.

Each of a cube's 256 inside/outside corner patterns is triangulated from the segments the
surface leaves on the cube's six faces. A face's segments depend only on its own four
corners, so the two cubes sharing a face draw the same segments there (in opposite
directions) and every mesh edge on a face has exactly two triangles. Where a face is
ambiguous (inside corners on one diagonal, outside on the other) the inside is joined
across it: a thin solid wall running diagonally through the grid stays one piece, which
matters more for a print than keeping a thin gap open.

Within a cube the segments close into loops (each edge crossing has one segment arriving
and one leaving); each loop is cut into triangles by the least-area triangulation (on
edge midpoints) that never draws a chord between two crossings on a common face, since
such a chord would lie in the face and could coincide with the neighbour's. The table is
built once, in Python, and handed to the compiled extractor.

Conventions: corner ``c`` sits at ``(c & 1, c >> 1 & 1, c >> 2 & 1)``; bit ``c`` of a pattern
is set when that corner is inside (value < 0). Edge ``4 * axis + u + 2 * w`` runs along
``axis`` from the corner with 0 on it; ``u`` and ``w`` are its coordinates on the other two
axes in increasing order. Triangles are wound counter-clockwise seen from outside.
"""
from __future__ import annotations

from functools import lru_cache
import numpy as np

#: Most triangles any pattern needs (checked when the table is built).
MAX_TRIANGLES = 5


def corner_position(corner: int) -> tuple:
    return (corner & 1, corner >> 1 & 1, corner >> 2 & 1)


# Small vector helpers on tuples: the table is built from a few thousand of them, where
# numpy's per-call cost would dominate.
def _sub(a, b):
    return tuple(x - y for x, y in zip(a, b))


def _cross(a, b):
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def _mean(points):
    return tuple(sum(c) / len(points) for c in zip(*points))


def edge_start(edge: int) -> tuple:
    """(axis, start corner offset (3,)) of an edge."""
    axis, rest = divmod(edge, 4)
    others = [a for a in range(3) if a != axis]
    offset = [0, 0, 0]
    offset[others[0]], offset[others[1]] = rest & 1, rest >> 1
    return axis, offset


def edge_corners(edge: int) -> tuple:
    axis, offset = edge_start(edge)
    start = offset[0] | offset[1] << 1 | offset[2] << 2
    return start, start | 1 << axis


def _edge_between(a: int, b: int) -> int:
    axis = (a ^ b).bit_length() - 1
    offset = corner_position(min(a, b))
    others = [x for x in range(3) if x != axis]
    return 4 * axis + int(offset[others[0]]) + 2 * int(offset[others[1]])


@lru_cache(maxsize=1)
def _faces():
    """Each face as (outward normal, its four corners in cyclic order, its four edges)."""
    faces = []
    for axis in range(3):
        u, w = [a for a in range(3) if a != axis]
        for side in (0, 1):
            cyclic = []
            for du, dw in ((0, 0), (1, 0), (1, 1), (0, 1)):
                position = [0, 0, 0]
                position[axis], position[u], position[w] = side, du, dw
                cyclic.append(position[0] | position[1] << 1 | position[2] << 2)
            normal = [0, 0, 0]
            normal[axis] = 1 if side else -1
            edges = [_edge_between(cyclic[k], cyclic[(k + 1) % 4]) for k in range(4)]
            faces.append((tuple(normal), cyclic, edges))
    return faces


@lru_cache(maxsize=12)
def _midpoint(edge: int) -> tuple:
    a, b = edge_corners(edge)
    return _mean([corner_position(a), corner_position(b)])


def _face_sets() -> list:
    """The two faces (axis, side) each edge lies on."""
    sets = []
    for edge in range(12):
        axis, offset = edge_start(edge)
        sets.append({(a, offset[a]) for a in range(3) if a != axis})
    return sets


def _segments(pattern: int) -> dict:
    """Directed face segments of one pattern: crossing edge -> the next crossing edge."""
    inside = [bool(pattern >> c & 1) for c in range(8)]
    following = {}
    for normal, cyclic, edges in _faces():
        crossing = [k for k in range(4) if inside[cyclic[k]] != inside[cyclic[(k + 1) % 4]]]
        if not crossing:
            continue
        if len(crossing) == 2:
            pairs = [(edges[crossing[0]], edges[crossing[1]])]
            outside = [corner_position(c) for c in cyclic if not inside[c]]
            references = [_mean(outside)]
        else:  # ambiguous: cut off each outside corner, joining the inside across the face
            pairs, references = [], []
            for k in range(4):
                if not inside[cyclic[k]]:
                    pairs.append((edges[(k - 1) % 4], edges[k]))
                    references.append(corner_position(cyclic[k]))
        for (p, q), reference in zip(pairs, references):
            start, end = _midpoint(p), _midpoint(q)
            # Directed so that normal x direction points to the outside side of the face:
            # then the loop runs counter-clockwise seen from outside the surface.
            if _dot(_cross(normal, _sub(end, start)), _sub(reference, _mean([start, end]))) < 0:
                p, q = q, p
            if p in following:
                raise AssertionError(f"pattern {pattern}: two segments leave edge {p}")
            following[p] = q
    return following


def _loops(following: dict) -> list:
    loops, seen = [], set()
    for first in sorted(following):
        if first in seen:
            continue
        loop, edge = [], first
        while edge not in seen:
            seen.add(edge)
            loop.append(edge)
            edge = following[edge]
        if edge != first:
            raise AssertionError("face segments do not close into loops")
        loops.append(loop)
    return loops


def _triangulate(loop: list, face_sets: list) -> list:
    """Least-area triangulation of one loop without chords between crossings on one face."""
    n = len(loop)
    points = [_midpoint(e) for e in loop]

    def allowed(i, j):  # a polygon side, or a chord between crossings on no common face
        return (j - i) % n in (1, n - 1) or not (face_sets[loop[i]] & face_sets[loop[j]])

    def area(i, j, k):
        return _dot(*(_cross(_sub(points[j], points[i]), _sub(points[k], points[i])),) * 2) ** 0.5 / 2

    cost, split = {}, {}
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            if length == 1:
                cost[i, j] = 0.0
                continue
            best, best_k = float("inf"), None
            if allowed(i, j):
                for k in range(i + 1, j):
                    if allowed(i, k) and allowed(k, j):
                        c = cost[i, k] + cost[k, j] + area(i, k, j)
                        if c < best - 1e-12:
                            best, best_k = c, k
            cost[i, j], split[i, j] = best, best_k
    if cost[0, n - 1] == float("inf"):
        raise AssertionError(f"loop {loop} has no triangulation free of face chords")
    triangles = []

    def emit(i, j):
        if j - i < 2:
            return
        k = split[i, j]
        triangles.append((loop[i], loop[k], loop[j]))
        emit(i, k)
        emit(k, j)

    emit(0, n - 1)
    return triangles


@lru_cache(maxsize=1)
def triangle_table() -> np.ndarray:
    """(256, MAX_TRIANGLES * 3 + 1) int8: the edges of each pattern's triangles, -1 after the last."""
    face_sets = _face_sets()
    table = np.full((256, MAX_TRIANGLES * 3 + 1), -1, np.int8)
    for pattern in range(1, 255):
        triangles = [t for loop in _loops(_segments(pattern)) for t in _triangulate(loop, face_sets)]
        if len(triangles) > MAX_TRIANGLES:
            raise AssertionError(f"pattern {pattern} needs {len(triangles)} triangles")
        table[pattern, :3 * len(triangles)] = np.array(triangles, np.int8).reshape(-1)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def edge_table() -> np.ndarray:
    """(12, 4) int8: each edge's axis and start corner offset (x, y, z)."""
    rows = [(axis, *offset) for axis, offset in map(edge_start, range(12))]
    table = np.array(rows, np.int8)
    table.setflags(write=False)
    return table


__all__ = ["MAX_TRIANGLES", "triangle_table", "edge_table", "edge_corners"]
