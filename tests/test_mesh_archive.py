"""fabricate/mesh/archive.py on a tiny mesh: a round trip, and damaged archives refused in words."""
import numpy as np
import pytest

from fabricate.errors import InputError
from fabricate.mesh import ColouredMesh
from fabricate.mesh.archive import mesh_from_npz, mesh_to_npz


def _tetrahedron():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) + 0.1
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return ColouredMesh(vertices, faces, np.arange(12, dtype=np.uint8).reshape(4, 3),
                        np.full((4, 3), 200, np.uint8))


def test_a_round_trip_keeps_every_array():
    mesh = _tetrahedron()
    back = mesh_from_npz(mesh_to_npz(mesh), "the kept surface")
    assert np.array_equal(back.vertices, mesh.vertices) and np.array_equal(back.faces, mesh.faces)
    assert np.array_equal(back.vertex_colours, mesh.vertex_colours)
    assert np.array_equal(back.face_colours, mesh.face_colours)
    plain = mesh_from_npz(mesh_to_npz(mesh.copy(face_colours=None), np.float32, vertex_colours=False), "a version")
    assert plain.vertex_colours is None and plain.face_colours is None
    assert np.array_equal(plain.vertices, mesh.vertices.astype(np.float32))


def test_damaged_archives_are_refused_naming_what_they_held():
    data = mesh_to_npz(_tetrahedron())
    with pytest.raises(InputError, match="the kept surface is damaged"):
        mesh_from_npz(data[: len(data) // 2], "the kept surface")
    bad = _tetrahedron().copy(faces=np.array([[0, 1, 9]]), face_colours=None)
    with pytest.raises(InputError, match="do not form a mesh"):
        mesh_from_npz(mesh_to_npz(bad), "the kept surface")


def test_extra_arrays_ride_beside_the_mesh_but_only_numbers():
    from fabricate.mesh.archive import mesh_and_extra_from_npz

    data = mesh_to_npz(_tetrahedron(), extra={"seen_0": np.array([0, 2]), "facing_0": np.array([0.5, 1.0])})
    mesh, extra = mesh_and_extra_from_npz(data, "the comparison")
    assert sorted(extra) == ["facing_0", "seen_0"] and extra["seen_0"].tolist() == [0, 2]
    assert np.array_equal(mesh.faces, _tetrahedron().faces)
    with pytest.raises(ValueError):
        mesh_to_npz(_tetrahedron(), extra={"faces": np.zeros(3)})  # no extra may shadow the mesh's own
    words = mesh_to_npz(_tetrahedron(), extra={"note": np.array(["hello"])})
    with pytest.raises(InputError, match="not numbers"):
        mesh_and_extra_from_npz(words, "the comparison")
