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
