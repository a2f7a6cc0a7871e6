"""Cut a closed mesh with a horizontal plane, keep what lies above, and close it with a flat cap.

The flat-base cut of every job. Triangles wholly above the plane are kept as they are; those it
crosses are clipped (one new vertex per crossed edge, shared by the edge's two triangles); the
clipped triangles' edges on the plane close into loops, which manifold3d's polygon triangulator
fills (it keeps the loops' edges as given, so the cap joins the side with every edge paired).

manifold3d's own ``trim_by_plane`` does the same as a boolean, on the whole mesh and holding the
GIL for 0.3 s per 200k triangles, while the job's other thread colours the surface; here numpy
touches only the few thousand triangles near the plane (0.02 s). Each output vertex records
where it lies on the input (:class:`VertexOrigin`), so attributes known only later (colours)
follow it as interpolated vertex properties would.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

#: No vertex may lie nearer the plane than this share of the mesh's height: the plane moves up
#: past such vertices, so no clipped triangle has a corner on (or a hair from) another's.
CLEARANCE = 1e-7


@dataclass(frozen=True)
class VertexOrigin:
    """Each vertex of a cut mesh on the mesh it was cut from: at vertex ``first`` (``weight`` 0),
    or ``weight`` of the way along the edge from ``first`` to ``second`` (a vertex the cut made)."""

    first: np.ndarray
    second: np.ndarray
    weight: np.ndarray

    def carry(self, values: np.ndarray) -> np.ndarray:
        """(n, k) per-vertex values of the uncut mesh -> (p, k) of the cut one, interpolated along the edges."""
        values = np.asarray(values, np.float64)
        low, high = values[self.first], values[self.second]
        return low + self.weight[:, None] * (high - low)

    def carry_colours(self, colours: np.ndarray) -> np.ndarray:
        """(n, 3) uint8 vertex colours of the uncut mesh -> the cut mesh's."""
        return np.clip(np.round(self.carry(colours)), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class PlaneCut:
    vertices: np.ndarray
    faces: np.ndarray
    origin: VertexOrigin


def cut_below(vertices: np.ndarray, faces: np.ndarray, plane: float) -> Optional[PlaneCut]:
    """What of the closed mesh lies above ``z = plane``, capped; None where nothing would be left, or
    where the plane's crossings do not close into loops (a mesh with holes or non-manifold edges)."""
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces, np.int64)
    z = vertices[:, 2]
    clearance = CLEARANCE * max(float(z.max() - z.min()), 1e-300)
    while np.any(np.abs(z - plane) < clearance):
        plane += 2 * clearance
    above = z > plane
    if not above.any():
        return None
    count = above[faces].sum(axis=1)
    kept = faces[count == 3]
    is_crossed = (count == 1) | (count == 2)
    crossed = faces[is_crossed]
    # Rotate each crossed triangle (keeping its orientation) so its odd corner p comes first: the
    # one above where one is, the one below where two are. Either way the crossed edges are p-q
    # and r-p.
    odd = np.where(count[is_crossed] == 1, above[crossed].argmax(axis=1), (~above[crossed]).argmax(axis=1))
    crossed = np.take_along_axis(crossed, (odd[:, None] + np.arange(3)) % 3, axis=1)
    p, q, r = crossed[:, 0], crossed[:, 1], crossed[:, 2]
    single = above[p]
    # One new vertex per crossed edge, shared with the triangle across it (numbered by the edge's
    # end below the plane, then its end above).
    ends = np.concatenate([np.stack([p, q], axis=1), np.stack([r, p], axis=1)])
    low = np.where(above[ends[:, 0]], ends[:, 1], ends[:, 0])
    high = ends[:, 0] + ends[:, 1] - low
    edges, slot = np.unique(low * len(vertices) + high, return_inverse=True)
    edge_low, edge_high = edges // len(vertices), edges % len(vertices)
    weight = (plane - z[edge_low]) / (z[edge_high] - z[edge_low])
    made = vertices[edge_low] + weight[:, None] * (vertices[edge_high] - vertices[edge_low])
    made[:, 2] = plane  # exactly on the plane: the cap is flat
    keep = np.flatnonzero(above)
    number = np.full(len(vertices), -1)
    number[keep] = np.arange(len(keep))
    on_pq, on_rp = len(keep) + slot[:len(p)], len(keep) + slot[len(p):]
    # p above: the triangle p, pq, rp, with pq -> rp on the plane. p below: the quad q, r, rp, pq
    # (two triangles), with rp -> pq on the plane. Both keep the input's orientation.
    double = ~single
    Q, R = number[q[double]], number[r[double]]
    pieces = [np.stack([number[p[single]], on_pq[single], on_rp[single]], axis=1),
              np.stack([Q, R, on_rp[double]], axis=1), np.stack([Q, on_rp[double], on_pq[double]], axis=1)]
    segment_start = np.concatenate([on_pq[single], on_rp[double]])
    segment_end = np.concatenate([on_rp[single], on_pq[double]])
    # The pieces' edges on the plane run start -> end; the cap takes each the other way round,
    # and every new vertex must begin exactly one of them and end exactly one.
    n_made = len(edges)
    if len(segment_start) != n_made or np.bincount(segment_start - len(keep), minlength=n_made).max(initial=0) != 1 \
            or np.bincount(segment_end - len(keep), minlength=n_made).max(initial=0) != 1:
        return None
    cap = _cap(made, segment_start - len(keep), segment_end - len(keep))
    if cap is None:
        return None
    out_faces = np.concatenate([number[kept]] + pieces + [cap + len(keep)])
    out_vertices = np.concatenate([vertices[keep], made])
    first = np.concatenate([keep, edge_low])
    second = np.concatenate([keep, edge_high])
    weights = np.concatenate([np.zeros(len(keep)), weight])
    return PlaneCut(out_vertices, out_faces, VertexOrigin(first, second, weights))


def _cap(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> Optional[np.ndarray]:
    """Triangles over the plane's loops, using each segment start -> end reversed (indices into ``points``)."""
    import manifold3d

    following = np.empty(len(points), np.int64)
    following[end] = start  # the cap walks each segment backwards: from its end to its start
    seen = np.zeros(len(points), bool)
    loops = []
    for begin in range(len(points)):
        if seen[begin]:
            continue
        loop, at = [], begin
        while not seen[at]:
            seen[at] = True
            loop.append(at)
            at = following[at]
        if at != begin or len(loop) < 3:
            return None
        loops.append(np.array(loop))
    # Seen from below (where the cap faces) the loops run counter-clockwise: mirrored in y they do
    # so seen from above, as the triangulator wants them.
    polygons = [points[loop][:, :2] * [1.0, -1.0] for loop in loops]
    triangles = np.asarray(manifold3d.triangulate(polygons), np.int64)
    if not len(triangles):
        return None
    return np.concatenate(loops)[triangles]
