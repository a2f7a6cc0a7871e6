import numpy as np
import pytest
import trimesh

from fabricate.mesh import ColouredMesh, repair_mesh, simplify_mesh, validate_mesh


def broken_sphere():
    s = trimesh.creation.icosphere(3)
    f = np.delete(s.faces, [0, 1, 2], axis=0)
    f[10:20] = f[10:20, ::-1]
    f = np.vstack([f, f[30:35]])
    return ColouredMesh(s.vertices, f, np.full((len(s.vertices), 3), 120, np.uint8))


@pytest.mark.slow  # re-meshes by winding number
def test_repair_fixes_holes_flips_and_duplicates():
    mesh = broken_sphere()
    before = validate_mesh(mesh)
    assert before.boundary_edges and before.misoriented_edges and before.duplicate_faces
    repaired, actions = repair_mesh(mesh)
    after = validate_mesh(repaired)
    assert after.ok, after.problems
    assert any("filled holes" in a for a in actions) and any("re-oriented" in a for a in actions)
    assert any("duplicate" in a for a in actions)


def test_repair_of_a_triangle_soup():
    s = trimesh.creation.icosphere(2)
    soup = s.vertices[s.faces].reshape(-1, 3)
    mesh = ColouredMesh(soup, np.arange(len(soup)).reshape(-1, 3))
    assert validate_mesh(mesh).boundary_edges > 0
    repaired, _ = repair_mesh(mesh)
    assert validate_mesh(repaired).ok


@pytest.mark.slow  # re-meshes by winding number
def test_overlapping_bodies_are_remeshed_into_one():
    a, b = trimesh.creation.icosphere(3), trimesh.creation.icosphere(3)
    b.apply_translation([0.37, 0.11, 0.05])
    both = trimesh.util.concatenate([a, b])
    repaired, actions = repair_mesh(ColouredMesh(both.vertices, both.faces))
    report = validate_mesh(repaired)
    assert report.ok and report.components == 1
    assert any("winding number" in a for a in actions)


def test_simplify_keeps_budget_validity_and_colours():
    s = trimesh.creation.icosphere(6)  # 81920 faces
    colours = np.where(s.vertices[:, :1] > 0, [250, 0, 0], [0, 0, 250]).astype(np.uint8)
    simple = simplify_mesh(ColouredMesh(s.vertices, s.faces, colours), 5000)
    assert len(simple.faces) <= 5000
    assert validate_mesh(simple).ok
    red = simple.vertex_colours[:, 0] > 128
    assert np.all(simple.vertices[red, 0] > -0.05) and np.all(simple.vertices[~red, 0] < 0.05)
    assert simple.face_colours is not None
