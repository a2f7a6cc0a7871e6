"""The marching-cubes table: every pattern closed, oriented, and free of triangles lying in a face."""
import manifold3d
import numpy as np
import pytest
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes

from conftest import directed_edges_all_twinned
from fabricate.reconstruct.cube_table import edge_corners, edge_start, triangle_table
from fabricate.reconstruct.sparse_volume import BLOCK, LEVEL_GAP, SparseSDF


def dense_as_sparse(values: np.ndarray) -> SparseSDF:
    """Every block of a small dense field stored (the border outside)."""
    n = values.shape[0]
    grid = n // BLOCK
    blocks = np.stack(np.meshgrid(*(np.arange(grid),) * 3, indexing="ij"), -1).reshape(-1, 3)
    field = values.astype(np.float32)
    return SparseSDF.from_function(values.shape, blocks, np.ones((grid,) * 3, np.int8),
                                   lambda p: field[p[..., 0], p[..., 1], p[..., 2]], fill=1e9)


def test_each_pattern_crosses_exactly_its_sign_changing_edges():
    table = triangle_table()
    for pattern in range(256):
        used = {int(e) for e in table[pattern] if e >= 0}
        crossing = {e for e in range(12) if (pattern >> edge_corners(e)[0] & 1) != (pattern >> edge_corners(e)[1] & 1)}
        assert used == crossing, pattern


def test_no_triangle_lies_in_a_cube_face():
    """Such a triangle could coincide with the neighbouring cube's, in the shared face."""
    def faces_of(edge):
        axis, offset = edge_start(edge)
        return {(a, offset[a]) for a in range(3) if a != axis}

    for pattern, row in enumerate(triangle_table()):
        edges = [int(e) for e in row if e >= 0]
        for triangle in np.reshape(edges, (-1, 3)):
            assert not set.intersection(*map(faces_of, triangle)), pattern


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_extracts_a_closed_oriented_solid(seed):
    """Random samples make every ambiguous face and cube pattern; the mesh must still be closed."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(32, 32, 32)) + 0.3
    values[[0, -1], :, :] = values[:, [0, -1], :] = values[:, :, [0, -1]] = 1.0  # closed at the border
    vertices, faces = dense_as_sparse(values).extract_surface()
    assert len(faces) > 5000
    assert directed_edges_all_twinned(faces)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError
    assert solid.volume() > 0
    # The vertices are exactly the sign-changing edges' crossings, as one dense marching-cubes call
    # finds them (Lewiner's method adds points inside some ambiguous cells; those are not on edges).
    off_level = np.where(np.abs(values) < LEVEL_GAP, np.where(values < 0, -LEVEL_GAP, LEVEL_GAP), values)
    dense_vertices, _, _, _ = marching_cubes(off_level, 0.0)
    on_edges = dense_vertices[(np.abs(dense_vertices - np.round(dense_vertices)) > 1e-4).sum(axis=1) <= 1]
    assert len(on_edges) == len(vertices)
    assert cKDTree(on_edges).query(vertices)[0].max() < 1e-4


def test_a_diagonal_wall_stays_one_piece():
    """Inside corners on a face's diagonal are joined: a one-sample-thin diagonal wall is one solid."""
    n = 16
    x, y, z = np.meshgrid(*(np.arange(n),) * 3, indexing="ij")
    values = np.where((x == y) & (x > 2) & (x < 13) & (z > 2) & (z < 13), -1.0, 1.0)
    vertices, faces = dense_as_sparse(values).extract_surface()
    assert directed_edges_all_twinned(faces)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError
    assert len(solid.decompose()) == 1


def test_unallocated_blocks_of_opposite_sides_meet_in_a_closed_wall():
    """A field that jumps past its band leaves no hole: the blocks' fill values close it, boxy."""
    sign = np.ones((4, 4, 4), np.int8)
    sign[1:3, 1, 1:3] = -1  # inside blocks no candidate covers
    volume = SparseSDF((32,) * 3, np.zeros((0, 3), np.int32), np.zeros((0, BLOCK, BLOCK, BLOCK), np.float32), sign,
                       fill=3.0)
    vertices, faces = volume.extract_surface()
    assert directed_edges_all_twinned(faces)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError
    assert solid.volume() == pytest.approx(16 * 8 * 16, rel=0.05)
