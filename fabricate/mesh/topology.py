"""Edge and vertex topology of triangle meshes (numpy only)."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def directed_edges(faces: np.ndarray) -> np.ndarray:
    """(3m, 2) directed edges (a -> b) in face order: edge k of face f is row 3f + k."""
    return np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)


def edge_keys(edges: np.ndarray, n_vertices: int) -> np.ndarray:
    """Unique int64 key of each (a, b) pair, order-sensitive."""
    return edges[:, 0].astype(np.int64) * max(int(n_vertices), 1) + edges[:, 1]


def undirected_edge_counts(faces: np.ndarray, n_vertices: int):
    """Unique undirected edges, how many faces use each, and each directed edge's index among them."""
    edges = np.sort(directed_edges(faces), axis=1)
    keys = edge_keys(edges, n_vertices)
    unique, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return unique, counts, inverse


def unmatched_directed_edges(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Mask of directed edges that do not have exactly one reverse twin, or that repeat.

    A closed, consistently oriented 2-manifold has every directed edge exactly once and its
    reverse exactly once.
    """
    edges = directed_edges(faces)
    keys = edge_keys(edges, n_vertices)
    reverse = edge_keys(edges[:, ::-1], n_vertices)
    unique, counts = np.unique(keys, return_counts=True)
    own = counts[np.searchsorted(unique, keys)]
    pos = np.searchsorted(unique, reverse)
    pos = np.minimum(pos, len(unique) - 1)
    twins = np.where(unique[pos] == reverse, counts[pos], 0)
    return (own != 1) | (twins != 1)


def face_components(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Label of the vertex-connected component of each face."""
    if len(faces) == 0:
        return np.zeros(0, np.int64)
    m = len(faces)
    rows = np.repeat(np.arange(m), 3)
    graph = sparse.csr_matrix((np.ones(3 * m), (rows, faces.ravel())), shape=(m, n_vertices))
    adjacency = graph @ graph.T
    _, labels = connected_components(adjacency, directed=False)
    return labels


def non_manifold_vertices(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Indices of vertices whose faces form more than one edge-connected fan (pinch points)."""
    m = len(faces)
    if m == 0:
        return np.zeros(0, np.int64)
    corner_vertex = faces.ravel()  # corner 3f + k sits at vertex faces[f, k]
    # Two faces sharing edge (u, w) join their corners at u and at w.
    edges = np.sort(directed_edges(faces), axis=1)
    keys = edge_keys(edges, n_vertices)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    same = sorted_keys[1:] == sorted_keys[:-1]
    first, second = order[:-1][same], order[1:][same]  # directed-edge rows 3f + k
    def corner_of(edge_row, vertex):
        face = edge_row // 3
        k = np.argmax(faces[face] == vertex[:, None], axis=1)
        return face * 3 + k
    u, w = edges[first, 0], edges[first, 1]
    a = np.concatenate([corner_of(first, u), corner_of(first, w)])
    b = np.concatenate([corner_of(second, u), corner_of(second, w)])
    graph = sparse.csr_matrix((np.ones(len(a)), (a, b)), shape=(3 * m, 3 * m))
    _, labels = connected_components(graph, directed=False)
    pairs = np.unique(np.stack([corner_vertex, labels], axis=1), axis=0)
    fans = np.bincount(pairs[:, 0], minlength=n_vertices)
    return np.flatnonzero(fans > 1)
