"""fabricate/printing/plane_cut.py on small closed meshes: a sphere, a ring (a cap with a hole), a torus (two caps)."""
import numpy as np
import pytest
import trimesh

from fabricate.manifold import as_manifold
from fabricate.printing.plane_cut import cut_below


def _closed_solid(vertices, faces):
    """Every directed edge has exactly one reverse twin, manifold3d accepts it, positive volume."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    keys = edges[:, 0] * len(vertices) + edges[:, 1]
    unique, counts = np.unique(keys, return_counts=True)
    reverse = edges[:, 1] * len(vertices) + edges[:, 0]
    twinned = (counts == 1).all() and np.isin(reverse, unique).all()
    solid = as_manifold(vertices, faces)
    return twinned and solid.status().name == "NoError" and solid.volume() > 0, solid.volume()


@pytest.mark.parametrize("shape", ["sphere", "ring", "torus"])
@pytest.mark.parametrize("share", [0.03, 0.5])
def test_the_cut_is_a_closed_solid_with_the_volume_manifold3d_cuts(shape, share):
    mesh = {"sphere": lambda: trimesh.creation.icosphere(4),
            "ring": lambda: trimesh.creation.annulus(0.3, 1.0, 0.6, sections=48),
            "torus": lambda: trimesh.creation.torus(1.0, 0.3)}[shape]()
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    z = vertices[:, 2]
    plane = z.min() + share * (z.max() - z.min())
    cut = cut_below(vertices, faces, plane)
    closed, volume = _closed_solid(cut.vertices, cut.faces)
    assert closed
    expected = as_manifold(vertices, faces).trim_by_plane([0.0, 0.0, 1.0], plane).volume()
    assert volume == pytest.approx(expected, rel=1e-6)
    # The cap lies flat on the plane (moved up a hair where vertices lie on it) and faces down.
    bottom = cut.vertices[:, 2].min()
    assert plane <= bottom < plane + 1e-5 * (z.max() - z.min())
    on_plane = np.all(cut.vertices[cut.faces][:, :, 2] == bottom, axis=1)
    corners = cut.vertices[cut.faces[on_plane]]
    assert on_plane.any() and (np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])[:, 2] < 0).all()
    # Each vertex lies where its origin says: a kept vertex, or on the edge it was made on.
    assert np.allclose(cut.origin.carry(vertices), cut.vertices, atol=1e-12)
    assert ((cut.origin.weight == 0) == (cut.origin.first == cut.origin.second)).all()


def test_a_vertex_on_the_plane_moves_the_plane_past_it():
    box = trimesh.creation.box((2.0, 2.0, 2.0))
    box = box.subdivide()  # vertices at z = -1, 0, 1
    vertices, faces = np.asarray(box.vertices), np.asarray(box.faces)
    cut = cut_below(vertices, faces, 0.0)
    assert _closed_solid(cut.vertices, cut.faces)[0]
    assert 0.0 < cut.vertices[:, 2].min() < 1e-5  # a hair above the vertices it would have touched


def test_a_mesh_with_a_hole_or_nothing_above_is_not_cut():
    sphere = trimesh.creation.icosphere(3)
    vertices, faces = np.asarray(sphere.vertices), np.asarray(sphere.faces)
    bottom = np.flatnonzero(vertices[faces].mean(axis=1)[:, 2] < -0.9)
    assert cut_below(vertices, np.delete(faces, bottom[:1], axis=0), -0.95) is None  # open near the cut
    assert cut_below(vertices, faces, 2.0) is None
