import numpy as np
import pytest
from skimage.measure import marching_cubes

from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF

from conftest import directed_edges_all_twinned


def sphere_volume(n, radius_share=0.37, band=3.0):
    centre, radius = n / 2 + 0.13, n * radius_share
    grid = n // BLOCK
    blocks = np.stack(np.meshgrid(*(np.arange(grid),) * 3, indexing="ij"), -1).reshape(-1, 3)
    distance = np.linalg.norm((blocks + 0.5) * BLOCK - centre, axis=1) - radius
    candidates = blocks[np.abs(distance) < BLOCK]
    sign = np.where(distance < 0, -1, 1).astype(np.int8).reshape(grid, grid, grid)
    sdf = lambda p: (np.linalg.norm(p - centre, axis=-1) - radius).astype(np.float32)
    return SparseSDF.from_function((n,) * 3, candidates, sign, sdf, fill=band), centre, radius


def test_only_blocks_near_the_surface_are_stored():
    volume, _, _ = sphere_volume(128)
    dense_bytes = 128 ** 3 * 4
    assert volume.nbytes * 4 < dense_bytes  # the ratio grows with resolution: about 15x at 512
    assert len(volume.block_coords) < (128 // BLOCK) ** 3 / 4


def test_dense_view_matches_the_function_on_allocated_blocks():
    volume, centre, radius = sphere_volume(64)
    dense = volume.to_dense()
    idx = np.stack(np.meshgrid(*(np.arange(64),) * 3, indexing="ij"), -1)
    exact = np.linalg.norm(idx - centre, axis=-1) - radius
    near = np.abs(exact) < 2
    assert np.allclose(dense[near], exact[near], atol=1e-4)
    assert np.array_equal(np.sign(dense), np.sign(exact))


@pytest.mark.parametrize("n", [64, 128])
def test_extraction_is_closed_oriented_and_matches_dense_marching_cubes(n):
    import manifold3d

    volume, centre, radius = sphere_volume(n)
    vertices, faces = volume.extract_surface()
    assert directed_edges_all_twinned(faces)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError
    assert solid.genus() == 0
    dense_vertices, dense_faces, _, _ = marching_cubes(volume.to_dense(), 0.0)
    # Same iso-surface as one dense marching-cubes call: same triangle count and volume.
    assert abs(len(faces) - len(dense_faces)) <= 0.001 * len(dense_faces)
    assert solid.volume() == pytest.approx(4 / 3 * np.pi * radius ** 3, rel=0.01)
