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


def test_dense_view_matches_the_function_wherever_the_surface_is():
    volume, centre, radius = sphere_volume(64)
    dense = volume.to_dense()
    idx = np.stack(np.meshgrid(*(np.arange(64),) * 3, indexing="ij"), -1)
    exact = (np.linalg.norm(idx - centre, axis=-1) - radius).astype(np.float32)
    assert np.array_equal(np.sign(dense), np.sign(exact))
    stored = np.zeros((64,) * 3, bool)
    for bx, by, bz in volume.block_coords:
        stored[bx * BLOCK:(bx + 1) * BLOCK, by * BLOCK:(by + 1) * BLOCK, bz * BLOCK:(bz + 1) * BLOCK] = True
    assert np.allclose(dense[stored], exact[stored], atol=1e-4)
    # Every sample of a marching-cubes cell with a sign change is stored exactly; blocks the
    # surface's cells do not touch keep only their side, even inside the band.
    negative = exact < 0
    cells = [negative[i:63 + i, j:63 + j, k:63 + k] for i in (0, 1) for j in (0, 1) for k in (0, 1)]
    changing = np.any(cells, axis=0) & ~np.all(cells, axis=0)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                assert stored[i:63 + i, j:63 + j, k:63 + k][changing].all()
    assert not stored[np.abs(exact) < 2].all()


def test_blocks_the_surface_does_not_touch_are_not_stored_and_change_nothing():
    """Storing only the side of band blocks no sign-changing cell touches gives the very same surface."""
    from fabricate.reconstruct import sparse_volume

    volume, _, _ = sphere_volume(128)
    vertices, faces = volume.extract_surface()
    original = sparse_volume._untouched_by_the_surface
    try:
        sparse_volume._untouched_by_the_surface = lambda coords, *rest: np.zeros(len(coords), bool)
        banded, _, _ = sphere_volume(128)
    finally:
        sparse_volume._untouched_by_the_surface = original
    assert len(volume.block_coords) < 0.9 * len(banded.block_coords)
    banded_vertices, banded_faces = banded.extract_surface()
    assert np.array_equal(vertices, banded_vertices) and np.array_equal(faces, banded_faces)


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
