import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabricate.color.lab import lab_to_srgb, parse_hex_colours, srgb_to_lab
from fabricate.color.palette import assign_filaments
from fabricate.errors import InputError
from fabricate.export.painting import paint_code
from fabricate.pipeline import MakeOptions, make_model

from conftest import SAMPLES


@pytest.fixture(scope="module")
def sample_meshes():
    return {p.stem: make_model(p, MakeOptions(printer="bambu-a1", resolution=128, colors=1)).mesh for p in SAMPLES}


def islands(faces, labels):
    """Sizes of same-label regions connected through shared edges (computed independently)."""
    edge_faces = {}
    for f, tri in enumerate(faces):
        for a, b in ((tri[0], tri[1]), (tri[1], tri[2]), (tri[2], tri[0])):
            edge_faces.setdefault((min(a, b), max(a, b)), []).append(f)
    pairs = np.array([fs for fs in edge_faces.values() if len(fs) == 2 and labels[fs[0]] == labels[fs[1]]])
    m = len(faces)
    graph = sparse.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    _, region = connected_components(graph, directed=False)
    return np.bincount(region)


def test_lab_round_trip():
    rgb = np.random.default_rng(0).integers(0, 256, (500, 3)).astype(np.uint8)
    assert np.abs(lab_to_srgb(srgb_to_lab(rgb)).astype(int) - rgb).max() <= 1
    assert np.allclose(srgb_to_lab(np.array([[255, 255, 255]])), [[100, 0, 0]], atol=0.01)


def test_paint_codes_match_the_slicers_table():
    assert [paint_code(i) for i in range(8)] == ["", "4", "8", "0C", "1C", "2C", "3C", "4C"]
    assert paint_code(16) == "DC"


@pytest.mark.slow  # the whole pipeline on every sample
def test_reduction_is_deterministic_and_leaves_no_small_islands(sample_meshes):
    for name, mesh in sample_meshes.items():
        first = assign_filaments(mesh, 4)
        again = assign_filaments(mesh, 4)
        assert np.array_equal(first.face_filament, again.face_filament), name
        assert np.array_equal(first.palette, again.palette), name
        assert first.count >= 2, name
        assert islands(mesh.faces, first.face_filament).min() >= 20, name
        assert first.area_share.sum() == pytest.approx(1.0)
        assert np.all(np.diff(first.area_share) <= 1e-12)  # filament 1 is the main colour


@pytest.mark.slow  # the whole pipeline on every sample
def test_snapping_to_a_user_palette(sample_meshes):
    mesh = sample_meshes["hamburger"]
    palette = parse_hex_colours("#FFFFFF,#000000,#C03010,#E0B060,#20A020")
    result = assign_filaments(mesh, 3, palette)
    assert result.count <= 3
    assert all(any((c == p).all() for p in palette) for c in result.palette)


def test_bad_counts_and_palettes():
    with pytest.raises(ValueError):
        parse_hex_colours("#12345G")
    mesh = None
    with pytest.raises(InputError):
        assign_filaments(mesh, 17)


def test_kmeans_distances_and_label_votes_match_the_plain_formulas():
    # The fast forms must give the very numbers of the plain ones (outputs stay bit for bit the same).
    from fabricate.color.palette import _squared_distances
    from fabricate.color.regions import face_neighbours, smooth_labels
    import trimesh

    rng = np.random.default_rng(5)
    for dimension in (3, 2):  # colours, and the delighting's 2-D colour features
        points, centres = rng.normal(0, 40, (2000, dimension)), rng.normal(0, 40, (6, dimension))
        plain = ((points[:, None, :] - centres[None]) ** 2).sum(-1)
        assert np.array_equal(_squared_distances(np.ascontiguousarray(points.T), centres), plain)
    sphere = trimesh.creation.icosphere(3)
    pairs = face_neighbours(np.asarray(sphere.faces), len(sphere.vertices))
    labels = rng.integers(0, 4, len(sphere.faces))
    expected = labels.copy()
    for _ in range(2):  # the majority filter written with np.add.at, as it was
        votes = np.zeros((len(expected), 4), np.int32)
        np.add.at(votes, (pairs[:, 0], expected[pairs[:, 1]]), 1)
        np.add.at(votes, (pairs[:, 1], expected[pairs[:, 0]]), 1)
        best = np.argmax(votes, axis=1)
        change = (votes[np.arange(len(expected)), best] >= 2) & (best != expected)
        expected[change] = best[change]
    assert np.array_equal(smooth_labels(labels, pairs, 2), expected)
