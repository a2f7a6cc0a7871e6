"""ColouredMesh's shared helpers on tiny inputs."""
import numpy as np

from fabricate.mesh import ColouredMesh, distinct_colours


def test_distinct_colours_is_numpy_unique_of_rows():
    rng = np.random.default_rng(3)
    for channels in (3, 4):
        colours = (rng.integers(0, 3, (500, channels)) * 120).astype(np.uint8)
        expected, inverse = np.unique(colours, axis=0, return_inverse=True)
        found, index = distinct_colours(colours)
        assert np.array_equal(found, expected)
        assert np.array_equal(index, inverse.ravel())
        assert np.array_equal(found[index], colours)


def test_bounds_follow_the_vertices_of_a_copy():
    mesh = ColouredMesh(np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0]], float), np.array([[0, 1, 2]]))
    assert np.array_equal(mesh.bounds, [[0, 0, 0], [1, 2, 0]])
    moved = mesh.copy(vertices=mesh.vertices + 5)
    assert np.array_equal(moved.bounds, [[5, 5, 5], [6, 7, 5]])
    assert np.array_equal(mesh.copy(face_colours=np.zeros((1, 3), np.uint8)).extents, [1, 2, 0])
