"""Boundary loops of a triangle mesh: the closed chains of edges that only one triangle uses (its holes)."""
from __future__ import annotations

import numpy as np

from typing import Optional

from fabricate.mesh.topology import Topology


def boundary_loops(faces: np.ndarray, n_vertices: int, topology: Optional[Topology] = None) -> list:
    """Each hole's vertex indices in order, following its edges the way their triangles run.

    Boundary edge a -> b is an edge of an existing triangle, so a patch closing the hole
    must use b -> a. Where boundaries touch at a vertex, the walk takes that vertex's
    edges one at a time, so every boundary edge ends up in exactly one loop; chains of
    fewer than three vertices bound nothing and are left out.

    ``topology`` is the faces' own (``ColouredMesh.topology``), when the caller has it.

    Returns
    -------
    list of (k,) int arrays
    """
    faces = np.asarray(faces)
    if len(faces) == 0:
        return []
    topology = topology if topology is not None else Topology(faces, n_vertices)
    boundary = topology.edges[topology.counts[topology.inverse] == 1]
    following = {}
    for start, end in boundary:
        following.setdefault(int(start), []).append(int(end))
    loops = []
    while following:
        start = next(iter(following))
        loop, current = [start], start
        while True:
            ends = following.get(current)
            if not ends:
                break
            nxt = ends.pop()
            if not ends:
                del following[current]
            if nxt == start:
                break
            loop.append(nxt)
            current = nxt
        if len(loop) >= 3:
            loops.append(np.array(loop))
    return loops
