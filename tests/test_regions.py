"""fabricate/color/regions.py on a tiny face graph: small islands that would swap labels forever still merge."""
import numpy as np

from fabricate.color.regions import merge_small_islands


def test_two_small_islands_that_prefer_each_other_still_merge_into_their_surroundings():
    # Faces 0-1 (filament 1) and 2-3 (filament 2) share three edges with each other and two each with
    # a band of 30 faces of filament 0: moved together, each takes the other's filament, forever.
    band = np.arange(10, 40)
    pairs = np.array([[0, 1], [2, 3], [0, 2], [1, 3], [0, 3], [0, 10], [1, 11], [2, 12], [3, 13]]
                     + [[a, a + 1] for a in band[:-1]])
    labels = np.zeros(40, np.int64)
    labels[[0, 1]], labels[[2, 3]] = 1, 2
    labels[4:10] = 0  # faces with no edges: a part of the mesh of its own, left as it is
    merged = merge_small_islands(labels, pairs, min_faces=20)
    assert (merged[:4] == 0).all()
    assert (merged[band] == 0).all()
