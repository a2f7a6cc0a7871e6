"""fabricate/rays.py on a tiny closed mesh: a 10 mm cube."""
import numpy as np
import trimesh

from fabricate.rays import RayScene


def _cube():
    box = trimesh.creation.box((10, 10, 10))
    return np.asarray(box.vertices), np.asarray(box.faces)


def test_first_hits_give_the_triangle_and_distance_and_stop_at_the_limit():
    vertices, faces = _cube()
    scene = RayScene(vertices, faces)
    origins = np.array([[0.0, 0.0, -20.0], [0.0, 0.0, 0.0], [30.0, 0.0, 0.0]])
    face, distance = scene.first_hits(origins, [0.0, 0.0, 1.0])
    assert np.allclose(distance[:2], [15.0, 5.0]) and face[2] == -1 and distance[2] == np.inf
    centres = vertices[faces[face[:2]]].mean(axis=1)
    assert np.allclose(centres[:, 2], [-5.0, 5.0])
    near, within = scene.first_hits(origins, [0.0, 0.0, 1.0], max_distance=10.0)
    assert near[0] == -1 and within[0] == np.inf and np.isclose(within[1], 5.0)


def test_any_hit_is_occlusion():
    scene = RayScene(*_cube())
    origins = np.array([[0.0, 0.0, -20.0], [0.0, 20.0, -20.0]])
    assert scene.any_hit(origins, [0.0, 0.0, 1.0]).tolist() == [True, False]


def test_our_embree_binding_answers_as_embreex_does():
    """The scene built through Embree's C API (our ray loops, our reading of its ray records) gives
    embreex's answers, ray for ray, on a mesh of 80k triangles and rays from everywhere (the limited ones hit less)."""
    from fabricate.rays import _EmbreexScene, _OwnScene, _embree, embree_library

    assert embree_library() is not None, "the embreex wheel's Embree library was not found: the slow path is in use"
    sphere = trimesh.creation.icosphere(6)
    vertices = (np.asarray(sphere.vertices) * [1.0, 0.6, 1.4]).astype(np.float32)
    faces = np.asarray(sphere.faces, np.int32)
    rng = np.random.default_rng(0)
    origins = (rng.normal(size=(50_000, 3)) * 0.8).astype(np.float32)
    directions = rng.normal(size=(50_000, 3)).astype(np.float32)
    ours, theirs = _OwnScene(_embree(), vertices, faces), _EmbreexScene(vertices, faces)
    for limit in (1e37, 0.3):
        (our_face, our_tfar), (their_face, their_tfar) = (s.first_hits(origins, directions, limit) for s in (ours, theirs))
        assert (our_face >= 0).sum() > 5_000
        assert np.array_equal(our_face, their_face) and np.array_equal(our_tfar, their_tfar)
    assert np.array_equal(ours.any_hit(origins, directions), theirs.any_hit(origins, directions))


def test_a_scene_without_triangles_is_hit_by_nothing():
    scene = RayScene(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
    face, distance = scene.first_hits(np.zeros((2, 3)), [0.0, 0.0, 1.0])
    assert face.tolist() == [-1, -1] and np.isinf(distance).all()
    assert not scene.any_hit(np.zeros((2, 3)), [0.0, 0.0, 1.0]).any()
