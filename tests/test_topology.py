"""The shared edge topology, the cached mesh facts and the self-intersection test, against plain references.

The references are written here the slow, obvious way (Python dictionaries, all pairs of
triangles), independently of fabricate/mesh/topology.py and self_intersections.py.
"""
from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest
import trimesh
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from fabricate.mesh import ColouredMesh, validate_mesh
from fabricate.mesh.self_intersections import DETERMINANT_EPS, TOLERANCE, find_self_intersections
from fabricate.mesh.topology import Topology


def sphere(subdivisions=2, offset=(0.0, 0.0, 0.0)):
    s = trimesh.creation.icosphere(subdivisions)
    return np.asarray(s.vertices) + offset, np.asarray(s.faces)


def defective_meshes():
    """(name, faces, vertex count): closed, holed, flipped, duplicated, pinched, fins, several parts, soup."""
    v, f = sphere(2)
    n = len(v)
    flipped = f.copy()
    flipped[[3, 40]] = flipped[[3, 40], ::-1]
    pinch = f + n
    pinch[pinch == n] = 0  # a second sphere sharing vertex 0
    pillow = np.array([[0, 1, 2], [0, 2, 1]]) + n
    rng = np.random.default_rng(3)
    return [
        ("closed", f, n),
        ("holes", np.delete(f, [0, 7, 30], axis=0), n),
        ("flipped", flipped, n),
        ("duplicates", np.vstack([f, f[:4], f[5:7, ::-1]]), n),
        ("pinched", np.vstack([f, pinch]), 2 * n),
        ("pinched and flipped", np.vstack([flipped, pinch]), 2 * n),
        ("fin", np.vstack([f, [[f[0, 0], f[0, 1], n]]]), n + 1),
        ("parts", np.vstack([f, f + n, f[::-1] + 2 * n]), 3 * n + 4),
        ("pillow", np.vstack([f, pillow]), n + 3),
        ("pillow at a vertex", np.vstack([f, [[0, n, n + 1], [0, n + 1, n]]]), n + 2),
        ("degenerate", np.vstack([f, [[0, 0, 1], [2, 2, 2]]]), n),
        ("soup", rng.integers(0, 200, (1500, 3)), 200),
    ]


def reference_counts(faces):
    directed = Counter((int(a), int(b)) for face in faces for a, b in zip(face, np.roll(face, -1)))
    undirected = Counter()
    for (a, b), k in directed.items():
        undirected[min(a, b), max(a, b)] += k
    return directed, undirected


def reference_components(faces, n):
    """Vertex-connected parts, numbered by their first face (faces joined through shared vertices)."""
    m = len(faces)
    graph = sparse.csr_matrix((np.ones(3 * m), (np.repeat(np.arange(m), 3), faces.ravel())), shape=(m, n))
    _, labels = connected_components(graph @ graph.T, directed=False)
    return labels


def reference_pinches(faces, n):
    """Vertices whose faces split into more than one group of faces joined across edges at that vertex."""
    pinched = []
    for vertex in range(n):
        around = [i for i, face in enumerate(faces) if vertex in face]
        if not around:
            continue
        groups = {i: i for i in around}

        def root(i):
            while groups[i] != i:
                i = groups[i]
            return i
        for i, j in itertools.combinations(around, 2):
            if len((set(faces[i]) & set(faces[j])) - {vertex}) >= 1:
                groups[root(i)] = root(j)
        if len({root(i) for i in around}) > 1:
            pinched.append(vertex)
    return np.array(pinched, np.int64)


@pytest.mark.parametrize("name, faces, n", defective_meshes(), ids=[c[0] for c in defective_meshes()])
def test_topology_matches_the_plain_references(name, faces, n):
    topology = Topology(faces, n)
    directed, undirected = reference_counts(faces)
    assert topology.boundary_edges == sum(1 for k in undirected.values() if k == 1)
    assert topology.non_manifold_edges == sum(1 for k in undirected.values() if k > 2)
    assert dict(zip(topology.unique_keys.tolist(), topology.counts.tolist())) == {
        a * max(n, 1) + b: k for (a, b), k in undirected.items()}
    unmatched = [directed[a, b] != 1 or directed.get((b, a), 0) != 1
                 for face in faces for a, b in zip(face.tolist(), np.roll(face, -1).tolist())]
    assert topology.unmatched_directed_edges.tolist() == unmatched
    assert np.array_equal(topology.face_components, reference_components(faces, n))
    sorted_faces = np.sort(faces, axis=1)
    assert topology.duplicate_faces == len(faces) - len(np.unique(sorted_faces, axis=0))
    if topology.non_manifold_edges == 0 and name != "soup":
        assert np.array_equal(topology.non_manifold_vertices(), reference_pinches(faces, n))
    pairs = topology.adjacent_faces
    proper = np.sort(faces, axis=1)
    proper = (proper[:, 0] != proper[:, 1]) & (proper[:, 1] != proper[:, 2])
    assert all(len(set(faces[i]) & set(faces[j])) >= 2 for i, j in pairs if i != j and proper[i] and proper[j])
    from fabricate.color.regions import face_neighbours  # what the colour regions use: the same pairs

    assert np.array_equal(pairs, face_neighbours(faces, n))


def test_fan_shortcut_agrees_with_the_general_corner_graph():
    """On closed, oriented meshes pinches come from the corner permutation; the general path must agree."""
    v, f = sphere(3)
    n = len(v)
    for faces, count in ((f, n), (np.vstack([f, (f + n)]), 2 * n)):
        pinch = faces.copy()
        pinch[pinch == n] = 0 if count > n else n  # join the second sphere at vertex 0
        for case in (faces, pinch):
            topology = Topology(case, count)
            assert topology.closed_and_oriented
            fast = topology.non_manifold_vertices()
            topology.__dict__["unmatched_directed_edges"] = np.ones(3 * len(case), bool)  # force the general path
            assert np.array_equal(fast, topology.non_manifold_vertices())


def test_a_mesh_keeps_its_topology_and_report_while_its_arrays_stay():
    v, f = sphere(3)
    mesh = ColouredMesh(v, f)
    first = mesh.topology
    assert mesh.topology is first
    recoloured = mesh.copy(face_colours=np.zeros((len(f), 3), np.uint8))
    assert recoloured.topology is first  # same faces: shared
    moved = mesh.copy(vertices=v + 1.0)
    assert moved.topology is first and moved.face_geometry[1] is not mesh.face_geometry[1]
    other = mesh.copy(faces=f[:, ::-1].copy())
    assert other.topology is not first and other.topology.faces is other.faces
    report = validate_mesh(mesh)
    again = validate_mesh(recoloured)
    assert again == report and again is not report  # a copy: callers may change their report
    assert validate_mesh(other).to_dict() != report.to_dict()  # inverted: measured afresh
    import pickle

    assert "_topology" not in pickle.loads(pickle.dumps(mesh)).__dict__


def _segments_hit_triangles(p0, p1, a, b, c, eps=DETERMINANT_EPS):
    """Whether segment p0-p1 crosses triangle abc: the documented test, in numpy, as a reference."""
    d = p1 - p0
    e1, e2 = b - a, c - a
    h = np.cross(d, e2)
    det = np.einsum("ij,ij->i", e1, h)
    ok = np.abs(det) > eps * (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1) * np.linalg.norm(d, axis=1) + 1e-30)
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = p0 - a
    u = np.einsum("ij,ij->i", s, h) * inv
    q = np.cross(s, e1)
    v = np.einsum("ij,ij->i", d, q) * inv
    t = np.einsum("ij,ij->i", e2, q) * inv
    tol = TOLERANCE
    return ok & (u > tol) & (v > tol) & (u + v < 1 - tol) & (t > tol) & (t < 1 - tol)


def brute_force_intersections(vertices, faces):
    """Every pair of faces sharing no vertex, tested with the same exact segment test."""
    tri = vertices[faces]
    i, j = np.triu_indices(len(faces), 1)
    keep = ~(faces[i][:, :, None] == faces[j][:, None, :]).any(axis=(1, 2))
    i, j = i[keep], j[keep]
    hit = np.zeros(len(i), bool)
    for first, second in ((tri[i], tri[j]), (tri[j], tri[i])):
        for k in range(3):
            hit |= _segments_hit_triangles(first[:, k], first[:, (k + 1) % 3], second[:, 0], second[:, 1], second[:, 2])
    return np.stack([i[hit], j[hit]], axis=1)


def intersection_cases():
    rng = np.random.default_rng(7)
    v1, f1 = sphere(2)
    v2, f2 = sphere(2, (0.43, 0.1, -0.2))
    crumpled_v, crumpled_f = sphere(2)
    crumpled_v = crumpled_v + 0.15 * rng.normal(size=crumpled_v.shape)
    box = trimesh.creation.box()
    cap = trimesh.creation.cylinder(0.5, 1.0, sections=64)  # long thin cap triangles beside small ones
    small = trimesh.creation.icosphere(2, radius=0.2)
    small.apply_translation((0.0, 0.0, 0.45))
    return [
        ("two spheres", np.vstack([v1, v2]), np.vstack([f1, f2 + len(v1)])),
        ("crumpled", crumpled_v, crumpled_f),
        ("touching boxes", np.vstack([box.vertices, box.vertices + (1.0, 0.3, 0.0)]),
         np.vstack([box.faces, box.faces + 8])),
        ("cap and sphere", np.vstack([cap.vertices, small.vertices]), np.vstack([cap.faces, small.faces + len(cap.vertices)])),
        ("soup", rng.normal(size=(300, 3)), rng.integers(0, 300, (900, 3))),
    ]


@pytest.mark.parametrize("name, vertices, faces", intersection_cases(), ids=[c[0] for c in intersection_cases()])
def test_self_intersections_match_all_pairs(name, vertices, faces):
    expected = brute_force_intersections(np.asarray(vertices, np.float64), np.asarray(faces, np.int64))
    found = find_self_intersections(vertices, faces)
    assert np.array_equal(found, expected)
    if name in ("two spheres", "crumpled", "cap and sphere", "soup"):
        assert len(found) > 0


def test_a_corner_used_twice_is_not_closed():
    """Edge a -> a is its own reverse: the twin check passes it, closed_and_oriented must not."""
    v, f = sphere(2)
    far = int(np.argmax(np.linalg.norm(v - v[0], axis=1)))  # not a neighbour of vertex 0
    faces = np.vstack([f, [[0, 0, far]]])
    topology = Topology(faces, len(v))
    assert not topology.closed_and_oriented
    assert len(topology.non_manifold_vertices()) >= 0 and topology.duplicate_faces == 0
