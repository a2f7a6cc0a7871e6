"""The same input gives the same mesh, bit for bit, across speed work that keeps the algorithm.

Each hash below was computed with the code as it was *before* the speed work of issue 21
(shared topology, the grid broad phase of the self-intersection test, the validation
gate of the mesh stage), on this project's pinned numpy/scipy/scikit-image/manifold3d/
fast-simplification versions. The sparse volume's extraction changed algorithm once since
(issue 21, fifth pass: compiled marching cubes with this project's own table, which joins
the inside across an ambiguous face where scikit-image's Lewiner method decides per cell and
adds a point inside some cells; robot at 128: 36,054 -> 36,050 vertices, the same vertices
on the grid edges), and every hash downstream of it was pinned again then; the flat-base cut
changed once (our own plane cut, sixth pass), and the placed mesh was pinned again. A change
that alters one of these meshes changes the algorithm and must say so (and update the hash in
the same change). The hashes cover the raw float64 vertex and int64 face arrays, so they also
pin vertex and face order.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest
import trimesh

from conftest import ROOT
from fabricate.image import extract_foreground, load_photo
from fabricate.mesh import ColouredMesh, validate_mesh
from fabricate.mesh.self_intersections import find_self_intersections
from fabricate.mesh.surface import reconstruct_surface
from fabricate.reconstruct import ClassicalReconstructor
from fabricate.reconstruct.base import PhotoView

ROBOT = ROOT / "samples" / "robot.png"


def digest(*arrays) -> str:
    hasher = hashlib.sha256()
    for array in arrays:
        hasher.update(np.ascontiguousarray(array).tobytes())
    return hasher.hexdigest()[:16]


@pytest.fixture(scope="module")
def robot_surface():
    model = ClassicalReconstructor()
    return reconstruct_surface([ROBOT], model, (0.0,), 128, 20_000)


def test_classical_extraction_is_pinned():
    volume = ClassicalReconstructor().reconstruct(extract_foreground(load_photo(ROBOT)), 128).volume
    vertices, faces = volume.extract_surface()
    assert (len(vertices), len(faces)) == PINNED["classical_128_counts"]
    assert digest(vertices, faces) == PINNED["classical_128"]


def test_mesh_stage_output_is_pinned(robot_surface):
    mesh = robot_surface.mesh
    assert len(mesh.faces) <= 20_000
    assert digest(mesh.vertices, mesh.faces) == PINNED["surface_128_20k"]


def test_validation_report_is_pinned(robot_surface):
    report = validate_mesh(robot_surface.mesh).to_dict()
    assert report == PINNED["surface_128_20k_report"]


def overlapping_spheres():
    first = trimesh.creation.icosphere(3)
    second = trimesh.creation.icosphere(3)
    second.apply_translation((0.37, 0.11, 0.05))
    vertices = np.vstack([first.vertices, second.vertices])
    faces = np.vstack([first.faces, second.faces + len(first.vertices)])
    return vertices, faces


def test_self_intersection_pairs_are_pinned():
    vertices, faces = overlapping_spheres()
    pairs = find_self_intersections(vertices, faces)
    assert pairs.dtype == np.int64 and pairs.shape == (PINNED["spheres_pairs"], 2)
    assert digest(pairs) == PINNED["spheres_pairs_digest"]
    report = validate_mesh(ColouredMesh(vertices, faces)).to_dict()
    assert report == PINNED["spheres_report"]


def box_views():
    from test_multiview import AZIMUTHS, LABELS, box_with_cylinder, handheld_view

    vertices, faces = box_with_cylinder()
    rng = np.random.default_rng(11)
    return [handheld_view(vertices, faces, a, rng, f"box_{label}.png") for a, label in zip(AZIMUTHS, LABELS)]


def test_multiview_extraction_is_pinned():
    from fabricate.reconstruct.multiview import reconstruct_multiview

    volume = reconstruct_multiview(box_views(), 128).volume
    vertices, faces = volume.extract_surface()
    assert (len(vertices), len(faces)) == PINNED["multiview_128_counts"]
    assert digest(vertices, faces) == PINNED["multiview_128"]


@pytest.mark.slow
def test_placed_model_is_pinned():
    from fabricate.pipeline import MakeOptions, make_model

    for delight, pinned in (("off", "placed_128_filaments"), ("auto", "placed_128_filaments_delit")):
        result = make_model(ROBOT, MakeOptions(printer="bambu-a1", resolution=128, delight=delight))
        assert digest(result.mesh.vertices, result.mesh.faces) == PINNED["placed_128"]
        assert result.validation.to_dict() == PINNED["placed_128_report"]
        filaments = result.filaments
        assert digest(filaments.face_filament, filaments.palette, filaments.area_share) == PINNED[pinned], delight


#: Computed before the speed work (see the module docstring).
PINNED = {
    'classical_128_counts': (36050, 72108),
    'classical_128': '532ace4da89f0e2d',
    'surface_128_20k': '01c6c0d50f7bbfe3',
    'surface_128_20k_report': {'vertices': 9996,
                               'faces': 20000,
                               'boundary_edges': 0,
                               'non_manifold_edges': 0,
                               'non_manifold_vertices': 0,
                               'misoriented_edges': 0,
                               'duplicate_faces': 0,
                               'degenerate_faces': 0,
                               'self_intersections': 0,
                               'components': 1,
                               'volume_mm3': 243717.10931156084,
                               'area_mm2': 24408.9477,
                               'genus': 3,
                               'bbox_min_mm': [7.4998, 8.37, 7.5087],
                               'bbox_max_mm': [112.4998, 79.1671, 119.4972],
                               'manifold3d_status': 'NoError',
                               'problems': [],
                               'warnings': [],
                               'ok': True,
                               'size_mm': [105.0, 70.8, 111.99]},
    'spheres_pairs': 186,
    'spheres_pairs_digest': 'd27e09948f18bfab',
    'spheres_report': {'vertices': 1284,
                       'faces': 2560,
                       'boundary_edges': 0,
                       'non_manifold_edges': 0,
                       'non_manifold_vertices': 0,
                       'misoriented_edges': 0,
                       'duplicate_faces': 0,
                       'degenerate_faces': 0,
                       'self_intersections': 186,
                       'components': 2,
                       'volume_mm3': 8.305481634186116,
                       'area_mm2': 25.013,
                       'genus': 0,
                       'bbox_min_mm': [-1.0, -1.0, -1.0],
                       'bbox_max_mm': [1.37, 1.11, 1.05],
                       'manifold3d_status': 'NoError',
                       'problems': ['186 pairs of self-intersecting triangles'],
                       'warnings': ['2 separate parts'],
                       'ok': False,
                       'size_mm': [2.37, 2.11, 2.05]},
    'multiview_128_counts': (46602, 93200),
    'multiview_128': 'a4da22587be0ffaa',
    'placed_128': '6987a7cb31c632ef',
    # The placed mesh and its filaments were pinned again when the flat-base cut became our own
    # (issue 21, sixth pass: plane_cut.py instead of manifold3d's trim_by_plane; the same solid,
    # volume equal to 1e-9, a cap triangulated by the same triangulator from the loops, float64
    # vertices where manifold3d gave float32).
    'placed_128_filaments': 'bf1ba35b298a9728',
    # With delighting (the default since issue 16's region evening-out): pinned when it was made.
    'placed_128_filaments_delit': 'f95eb46672d38efd',
    'placed_128_report': {'vertices': 35865,
                          'faces': 71738,
                          'boundary_edges': 0,
                          'non_manifold_edges': 0,
                          'non_manifold_vertices': 0,
                          'misoriented_edges': 0,
                          'duplicate_faces': 0,
                          'degenerate_faces': 0,
                          'self_intersections': 0,
                          'components': 1,
                          'volume_mm3': 3111580.611944992,
                          'area_mm2': 133052.169,
                          'genus': 3,
                          'bbox_min_mm': [5.2528, 45.2282, 0.0],
                          'bbox_max_mm': [250.7472, 210.7718, 254.0],
                          'manifold3d_status': 'NoError',
                          'problems': [],
                          'warnings': [],
                          'ok': True,
                          'size_mm': [245.49, 165.54, 254.0]},
}
