"""Fill unknown vertex values from the known ones around them, over the mesh's edges.

Used wherever a colour is missing on part of a surface: the side one photo cannot see,
a specular highlight removed from a photo, a point no photo sees. The fill is harmonic
(each unknown vertex is the mean of its neighbours), so the known values along the
border of a hole spread smoothly inward and nothing from elsewhere is copied in.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree


def vertex_adjacency(faces: np.ndarray, n_vertices: int) -> sparse.csr_matrix:
    """Symmetric 0/1 matrix of the vertices sharing an edge."""
    faces = np.asarray(faces, np.int64)
    rows = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    cols = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adjacency = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices)).tocsr()
    adjacency = adjacency + adjacency.T
    adjacency.data[:] = 1.0
    return adjacency


def fill_from_known(vertices: np.ndarray, faces: np.ndarray, values: np.ndarray, known: np.ndarray,
                    adjacency: sparse.csr_matrix | None = None) -> np.ndarray:
    """``values`` (n, c) with every vertex outside ``known`` replaced by the harmonic fill.

    Unknown vertices not connected to any known one (a separate part nobody saw) take the
    value of the nearest known vertex in space. With nothing known, ``values`` comes back as is.
    """
    values = np.array(values, np.float64, copy=True)
    known = np.asarray(known, bool)
    if known.all() or not known.any():
        return values
    if adjacency is None:
        adjacency = vertex_adjacency(faces, len(vertices))
    unknown = np.flatnonzero(~known)
    inner = adjacency[unknown][:, unknown]
    to_known = adjacency[unknown][:, np.flatnonzero(known)]
    # Connected patches of unknown vertices with no known neighbour cannot be solved: spatial fallback.
    count, patch = connected_components(inner, directed=False)
    touches = np.bincount(patch, weights=np.asarray(to_known.sum(axis=1)).ravel(), minlength=count) > 0
    solvable = touches[patch]
    if solvable.any():
        rows = np.flatnonzero(solvable)
        degree = np.asarray(adjacency[unknown[rows]].sum(axis=1)).ravel()
        system = (sparse.diags(degree) - inner[rows][:, rows]).tocsc()
        rhs = to_known[rows] @ values[known]
        # The system is a symmetric M-matrix (degree minus adjacency, each patch touching a known
        # vertex), stable without pivoting: factorised symmetrically on the minimum-degree ordering
        # of A + A^T it fills in half as much (robot's 53k hidden vertices: 0.28 s -> 0.20 s).
        factor = splu(system, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        values[unknown[rows]] = factor.solve(np.asarray(rhs).reshape(len(rows), -1)).reshape(
            len(rows), *values.shape[1:])
    if not solvable.all():
        lost = unknown[~solvable]
        _, nearest = cKDTree(vertices[known]).query(vertices[lost], workers=-1)
        values[lost] = values[known][nearest]
    return values
