import numpy as np
import trimesh

from fabricate.mesh import ColouredMesh, validate_mesh
from fabricate.mesh.self_intersections import find_self_intersections
from fabricate.mesh.topology import non_manifold_vertices


def sphere(subdivisions=3, offset=(0, 0, 0)):
    s = trimesh.creation.icosphere(subdivisions)
    s.apply_translation(offset)
    return np.asarray(s.vertices), np.asarray(s.faces)


def test_clean_sphere_is_printable():
    v, f = sphere()
    report = validate_mesh(ColouredMesh(v, f))
    assert report.ok, report.problems
    assert report.genus == 0 and report.components == 1
    assert report.volume_mm3 > 0 and report.manifold3d_status == "NoError"
    assert report.size_mm == [2.0, 2.0, 2.0]


def test_each_defect_is_reported():
    v, f = sphere()
    hole = np.delete(f, [0], axis=0)
    assert validate_mesh(ColouredMesh(v, hole)).boundary_edges == 3
    flipped = f.copy()
    flipped[7] = flipped[7, ::-1]
    assert validate_mesh(ColouredMesh(v, flipped)).misoriented_edges == 6
    inverted = validate_mesh(ColouredMesh(v, f[:, ::-1]))
    assert inverted.volume_mm3 < 0 and not inverted.ok  # manifold3d alone would accept this
    duplicated = validate_mesh(ColouredMesh(v, np.vstack([f, f[:2]])))
    assert duplicated.duplicate_faces == 2 and duplicated.non_manifold_edges > 0


def test_four_faces_on_one_edge_is_not_manifold():
    # Two tetrahedra sharing one edge: manifold3d accepts it, we must not.
    v = np.array([[0, 0, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    tet = lambda a, b, c, d: [[a, c, b], [a, b, d], [a, d, c], [b, c, d]]
    f = np.array(tet(0, 1, 2, 3) + tet(0, 1, 4, 5))
    report = validate_mesh(ColouredMesh(v, f))
    assert not report.ok


def test_pinched_vertex():
    v1, f1 = sphere(1)
    v2, f2 = sphere(1, offset=(2.0, 0, 0))  # touches the first at (1, 0, 0)? make them share one vertex
    shared = np.argmax(v1[:, 0])
    other = np.argmin(v2[:, 0])
    v2 = v2 - v2[other] + v1[shared]
    v = np.vstack([v1, v2])
    f2 = f2 + len(v1)
    f2[f2 == other + len(v1)] = shared
    assert len(non_manifold_vertices(np.vstack([f1, f2]), len(v))) == 1


def test_self_intersections_of_overlapping_spheres():
    v1, f1 = sphere(3)
    v2, f2 = sphere(3, offset=(0.37, 0.11, 0.05))
    pairs = find_self_intersections(np.vstack([v1, v2]), np.vstack([f1, f2 + len(v1)]))
    assert len(pairs) > 50
    assert np.all(pairs[:, 0] < len(f1)) and np.all(pairs[:, 1] >= len(f1))
    report = validate_mesh(ColouredMesh(np.vstack([v1, v2]), np.vstack([f1, f2 + len(v1)])))
    assert report.self_intersections == len(pairs) and not report.ok and report.components == 2


def test_no_self_intersections_on_a_torus():
    torus = trimesh.creation.torus(1.0, 0.3)
    assert len(find_self_intersections(torus.vertices, torus.faces)) == 0
    assert validate_mesh(ColouredMesh(torus.vertices, torus.faces)).genus == 1


def test_invalid_numbers_name_the_problem():
    from fabricate.mesh.validate import invalid_numbers

    v, f = sphere(1)
    assert invalid_numbers(v, f) is None
    bad = v.copy()
    bad[3] = [np.nan, 0, np.inf]
    assert "vertex 3" in invalid_numbers(bad, f) and "non-finite" in invalid_numbers(bad, f)
    for index in (len(v), -1):
        faces = f.copy()
        faces[2, 1] = index
        assert f"uses vertex {index}" in invalid_numbers(v, faces)


def test_plate_report_judges_objects_apart_and_the_layout():
    from types import SimpleNamespace as Object

    from fabricate.mesh.validate import validate_plate
    from fabricate.printing import get_printer
    from fabricate.printing.fit import BuildVolume

    v, f = sphere(2, offset=(50, 50, 1))
    good = ColouredMesh(v, f)
    holed = ColouredMesh(v + [10, 0, -3], f[1:])
    part = lambda name, mesh, reason=None: Object(name=name, mesh=mesh, not_checked=reason)  # noqa: E731
    objects = [Object(name="Ball", parts=[part("Ball", good)]),
               Object(name="Broken", parts=[part("Broken", holed)]),
               Object(name="Lattice", parts=[part("Lattice", None, "beam lattice objects are not checked")])]
    report = validate_plate(objects)
    assert [o.status for o in report.objects] == ["printable", "NOT printable", "not checked"]
    assert report.status == "NOT printable" and not report.problems
    assert any('"Broken" reaches 3.00 mm below the bed' in w for w in report.warnings)
    fitted = validate_plate(objects[:1], BuildVolume(get_printer("bambu-a1")))
    assert fitted.ok and "plate: fits the bambu-a1" in fitted.summary_lines()
    far = validate_plate([Object(name="Far", parts=[part("Far", ColouredMesh(v + [900, 0, 0], f))])],
                         BuildVolume(get_printer("bambu-a1")))
    assert not far.ok and "outside the bambu-a1 build volume" in far.problems[0]
    assert [o["name"] for o in report.to_dict()["objects"]] == ["Ball", "Broken", "Lattice"]
