import numpy as np
import pytest

from fabricate.errors import InputError
from fabricate.image import extract_foreground, load_photo
from fabricate.reconstruct import ClassicalReconstructor, Reconstructor, get_reconstructor
from fabricate.reconstruct.classical import poisson_height

from conftest import SAMPLES, directed_edges_all_twinned


@pytest.fixture(scope="module")
def hamburger():
    return extract_foreground(load_photo([p for p in SAMPLES if p.stem == "hamburger"][0]))


def test_poisson_height_is_round_across_a_strip():
    mask = np.zeros((60, 200), bool)
    mask[10:51, :] = True  # a strip 41 px tall; the solver's boundary is at rows 9 and 51
    height = poisson_height(mask)[:, 100]
    half = (51 - 9) / 2
    rows = np.arange(10, 51)
    circle = np.sqrt(np.maximum(half ** 2 - (rows - 30) ** 2, 0))
    assert np.max(np.abs(height[rows] - circle)) < 1.0


def test_classical_is_a_reconstructor():
    model = get_reconstructor("classical")
    assert isinstance(model, Reconstructor) and model.name == "classical"
    with pytest.raises(InputError):
        get_reconstructor("nope")


@pytest.mark.parametrize("back", ["mirror", "thin", "flat"])
def test_back_surfaces_make_closed_solids(hamburger, back):
    import manifold3d

    rec = ClassicalReconstructor(back=back).reconstruct(hamburger, 128)
    vertices, faces = rec.volume.extract_surface()
    assert directed_edges_all_twinned(faces)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError and solid.volume() > 0


def test_thin_back_is_shallower_than_mirror(hamburger):
    depths = {}
    for back in ("mirror", "thin"):
        vertices, _ = ClassicalReconstructor(back=back).reconstruct(hamburger, 128).volume.extract_surface()
        depths[back] = np.ptp(vertices[:, 1])
    assert depths["thin"] < 0.85 * depths["mirror"]


def test_relief_follows_shading(hamburger):
    def front_depth(relief):
        model = ClassicalReconstructor(relief=relief)
        volume = model.dense_volume(hamburger, 128)
        inside = volume < 0
        has = inside.any(axis=1)
        return np.where(has, np.argmax(inside, axis=1), -1), has  # first inside voxel along depth, per (x, z)

    flat, has = front_depth(0)
    relief, _ = front_depth(2)
    moved = np.abs(relief - flat)[has]
    assert moved.max() >= 1  # the front surface moves with the shading...
    assert np.mean(moved) < 3  # ...gently


def test_colours_come_from_the_photo(hamburger):
    rec = ClassicalReconstructor().reconstruct(hamburger, 128)
    vertices, _ = rec.volume.extract_surface()
    colours = rec.vertex_colours(vertices)
    assert colours.shape == (len(vertices), 3) and colours.dtype == np.uint8
    assert len(np.unique(colours // 32, axis=0)) > 10


def test_sparse_volume_is_much_smaller_than_dense(hamburger):
    rec = ClassicalReconstructor().reconstruct(hamburger, 256)
    dense = np.prod(rec.volume.shape) * 4
    assert rec.volume.nbytes * 5 < dense


@pytest.mark.parametrize("kwargs", [dict(back="wobbly"), dict(back_ratio=0), dict(depth_scale=9), dict(relief=-1)])
def test_bad_options(kwargs):
    with pytest.raises(InputError):
        ClassicalReconstructor(**kwargs)


def test_bad_resolution(hamburger):
    with pytest.raises(InputError, match="resolution"):
        ClassicalReconstructor().reconstruct(hamburger, 300)


def test_sparse_and_dense_volumes_give_the_same_surface(hamburger):
    from skimage.measure import marching_cubes

    model = ClassicalReconstructor()
    vertices, faces = model.reconstruct(hamburger, 128).volume.extract_surface()
    dense = model.dense_volume(hamburger, 128)
    dense_vertices, dense_faces, _, _ = marching_cubes(np.pad(dense, 1, constant_values=3.0), 0.0)
    assert abs(len(faces) - len(dense_faces)) <= 0.002 * len(dense_faces)
    volume = lambda v, f: np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert volume(vertices, faces) == pytest.approx(volume(dense_vertices, dense_faces), rel=0.003)


def test_the_column_field_gives_the_same_values_by_blocks_and_slabs():
    """ColumnField reads each column's maps once per block or slab; the values are the per-sample ones."""
    from fabricate.reconstruct.classical import distance_field
    from fabricate.reconstruct.sparse_volume import BLOCK

    x, z = np.meshgrid(np.arange(32), np.arange(24), indexing="ij")
    mask = (x - 16) ** 2 + (z - 12) ** 2 < 80
    front = np.where(mask, 6.0 + 0.1 * x, 0.0).astype(np.float32)
    back = np.where(mask, 4.0 + 0.05 * z, 0.0).astype(np.float32)
    shape, sdf, candidates, _, _ = distance_field(mask, front, back)
    offsets = np.stack(np.meshgrid(*(np.arange(BLOCK),) * 3, indexing="ij"), axis=-1)
    blocks = candidates.astype(np.int64)
    assert np.array_equal(sdf.blocks(blocks), sdf(blocks[:, None, None, None, :] * BLOCK + offsets[None]))
    ys = np.arange(shape[1])
    yz = np.stack(np.meshgrid(ys, np.arange(shape[2]), indexing="ij"), -1)
    for row in (0, 13, shape[0] - 1):
        positions = np.concatenate([np.full(yz.shape[:2] + (1,), row), yz], axis=-1)
        assert np.array_equal(sdf.slab(row, ys), sdf(positions))
