"""Boundary loops on tiny meshes."""
import numpy as np
import trimesh

from fabricate.mesh.boundary_loops import boundary_loops


def loop_edges(loop):
    return {(int(a), int(b)) for a, b in zip(loop, np.roll(loop, -1))}


def face_edges(faces):
    return {(int(f[k]), int(f[(k + 1) % 3])) for f in faces for k in range(3)}


def cube_faces():
    box = trimesh.creation.box()
    return np.asarray(box.faces), np.asarray(box.face_normals)


def test_a_square_of_two_triangles_has_one_loop_of_four_along_its_triangles():
    square = np.array([[0, 1, 2], [0, 2, 3]])
    (loop,) = boundary_loops(square, 4)
    assert sorted(loop) == [0, 1, 2, 3]
    assert loop_edges(loop) == {(0, 1), (1, 2), (2, 3), (3, 0)}  # the triangles' own direction


def test_a_closed_cube_has_none_and_an_open_box_has_its_missing_face():
    faces, normals = cube_faces()
    assert boundary_loops(faces, 8) == []
    top = np.isclose(normals[:, 2], 1.0)
    (loop,) = boundary_loops(faces[~top], 8)
    assert sorted(loop) == sorted(np.unique(faces[top]))
    assert loop_edges(loop) <= face_edges(faces[~top])


def test_a_tube_has_a_loop_at_each_end():
    faces, normals = cube_faces()
    ends = np.isclose(np.abs(normals[:, 2]), 1.0)
    loops = boundary_loops(faces[~ends], 8)
    assert sorted(len(loop) for loop in loops) == [4, 4]
    assert set(np.concatenate(loops)) == set(range(8))


def test_holes_touching_at_a_vertex_use_every_boundary_edge_once():
    bowtie = np.array([[0, 1, 2], [0, 3, 4]])  # two triangles sharing vertex 0
    loops = boundary_loops(bowtie, 5)
    walked = [edge for loop in loops for edge in loop_edges(loop)]
    assert sorted(walked) == sorted(face_edges(bowtie))


def test_no_triangles_no_loops():
    assert boundary_loops(np.zeros((0, 3), int), 0) == []
