"""Clean per-face labels on a mesh: smooth boundaries, merge small islands."""
from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabricate.mesh.topology import Topology


def face_neighbours(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(k, 2) pairs of faces sharing an edge (each pair once): the mesh topology's own pairs."""
    return Topology(faces, n_vertices).adjacent_faces


def smooth_labels(labels: np.ndarray, pairs: np.ndarray, iterations: int = 2) -> np.ndarray:
    """Majority filter: a face joins the label that at least two of its neighbours share."""
    labels = labels.copy()
    m = len(labels)
    n_labels = int(labels.max()) + 1
    for _ in range(iterations):
        # Each face's vote per label, counted in one pass (the counts np.add.at would make).
        cast = np.concatenate([pairs[:, 0] * n_labels + labels[pairs[:, 1]], pairs[:, 1] * n_labels + labels[pairs[:, 0]]])
        votes = np.bincount(cast, minlength=m * n_labels).reshape(m, n_labels)
        best = np.argmax(votes, axis=1)
        change = (votes[np.arange(m), best] >= 2) & (best != labels)
        if not change.any():
            break
        labels[change] = best[change]
    return labels


def merge_small_islands(labels: np.ndarray, pairs: np.ndarray, min_faces: int) -> np.ndarray:
    """Give every same-label region with fewer than ``min_faces`` faces to its main neighbour label.

    The neighbour label is the one sharing the most edges with the island; the loop
    repeats until no small island is left (merging only ever grows regions).
    """
    labels = labels.copy()
    m = len(labels)
    previous_small = None
    for _ in range(200):
        same = labels[pairs[:, 0]] == labels[pairs[:, 1]]
        inner = pairs[same]
        graph = sparse.csr_matrix((np.ones(len(inner)), (inner[:, 0], inner[:, 1])), shape=(m, m))
        count, region = connected_components(graph, directed=False)
        sizes = np.bincount(region, minlength=count)
        small = sizes[region] < min_faces
        if not small.any() or count == 1:
            break
        # For each small region, count shared edges with each neighbouring label.
        cross = pairs[~same]
        a, b = cross[:, 0], cross[:, 1]
        src = np.concatenate([region[a], region[b]])
        dst_label = np.concatenate([labels[b], labels[a]])
        keep = sizes[src] < min_faces
        if not keep.any():
            break
        n_labels = int(labels.max()) + 1
        tally = sparse.coo_matrix((np.ones(int(keep.sum())), (src[keep], dst_label[keep])),
                                  shape=(count, n_labels)).tocsr()
        target = np.asarray(tally.argmax(axis=1)).ravel()
        has_neighbour = np.asarray(tally.sum(axis=1)).ravel() > 0
        move = small & has_neighbour[region]
        small_count = int((sizes < min_faces).sum())
        if previous_small is not None and small_count >= previous_small:
            # Neighbouring small islands can swap labels forever (two of one size, each taking the
            # other's label): merge only one, the smallest movable region (the first of equals).
            movable = np.flatnonzero((sizes < min_faces) & has_neighbour)
            if len(movable):
                move &= region == movable[np.argmin(sizes[movable])]
        previous_small = small_count
        if not move.any():
            break
        labels[move] = target[region[move]]
    return labels


def clean_regions(faces: np.ndarray, n_vertices: int, labels: np.ndarray, min_faces: int = 20,
                  smoothing: int = 2, pairs: np.ndarray = None) -> np.ndarray:
    """Smooth label boundaries over the mesh graph, then merge islands below ``min_faces``.

    Parameters
    ----------
    faces : (m, 3) int
    n_vertices : int
    labels : (m,) int
        Filament index of each face.
    min_faces : int
        Smallest island allowed.
    smoothing : int
        Majority-filter passes.
    pairs : (k, 2) int, optional
        The faces' neighbour pairs when the caller has them (``mesh.topology.adjacent_faces``).

    Returns
    -------
    (m,) int
    """
    pairs = face_neighbours(faces, n_vertices) if pairs is None else pairs
    labels = smooth_labels(np.asarray(labels, np.int64), pairs, smoothing)
    return merge_small_islands(labels, pairs, min_faces)
