"""Work done once and shared: a job proves its mesh once, and the analysis shortcuts agree with the full answers."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from conftest import ROOT, assert_printable_3mf
from fabricate.mesh import ColouredMesh


@pytest.mark.slow
def test_a_web_job_proves_its_mesh_once(tmp_path, monkeypatch):
    """build_files (every runner's build step) runs the self-intersection test and manifold3d once each.

    The library proves the placed mesh in make_model; nothing after it (the other formats,
    the preview, the report) measures it again. The real checks run: they are only counted.
    """
    import fabricate.mesh.validate as validate
    from fabricate.jobs.runner import build_files

    calls = {"self_intersections": 0, "manifold3d": 0}
    real_intersections, real_manifold = validate.find_self_intersections, validate.manifold3d_check

    def counted_intersections(*args):
        calls["self_intersections"] += 1
        return real_intersections(*args)

    def counted_manifold(*args):
        calls["manifold3d"] += 1
        return real_manifold(*args)

    monkeypatch.setattr(validate, "find_self_intersections", counted_intersections)
    monkeypatch.setattr(validate, "manifold3d_check", counted_manifold)
    result = build_files([ROOT / "samples" / "hamburger.png"], {"printer": "bambu-a1", "resolution": 128},
                         tmp_path / "model.3mf", also=("stl", "glb"), preview=tmp_path / "preview.png")
    assert result.validation.ok and not result.repairs
    assert calls == {"self_intersections": 1, "manifold3d": 1}
    assert_printable_3mf(tmp_path / "model.3mf", "bambu-a1")


def test_support_area_from_the_rotations_last_row_equals_the_rotated_mesh():
    """candidate_poses rotates only heights and normals' z; rotating the whole mesh gives the same support area."""
    from fabricate.printing.analysis import candidate_poses, face_normals_areas, overhang_mask
    from fabricate.printing.stable_pose import rotation_to_floor, stable_poses

    mesh = trimesh.creation.annulus(0.3, 1.0, 0.6, sections=64)
    mesh.apply_transform(trimesh.transformations.rotation_matrix(0.7, [1, 0.3, 0]))
    placed = ColouredMesh(np.asarray(mesh.vertices) * 40.0, np.asarray(mesh.faces))
    downs, _ = stable_poses(placed.vertices, placed.faces)
    rotations = [np.eye(3)] + [rotation_to_floor(d) for d in downs[:6]]
    options = candidate_poses(placed, 41.3)  # 45 would put a face exactly on the threshold
    assert len(options) == len(rotations)
    for option, rotation in zip(options, rotations):
        v = placed.vertices @ rotation.T
        normals, area = face_normals_areas(v, placed.faces)
        lowest = v[placed.faces][:, :, 2].min(axis=1)
        full = float(area[overhang_mask(normals[:, 2], lowest, 41.3, v[:, 2].min())].sum())
        assert option.support_area_mm2 == pytest.approx(full, abs=0.006)


def test_stable_poses_from_the_vertex_sample_agree_with_all_vertices():
    """Stable poses use the hull of at most 20,000 sampled vertices (a proxy): on a 160k-vertex mesh
    the top poses point within 2 degrees of those from every vertex, with likelihoods within 0.02."""
    from fabricate.printing.stable_pose import stable_poses

    rng = np.random.default_rng(5)
    solid = trimesh.convex.convex_hull(rng.normal(size=(40, 3)) * (3.0, 2.0, 1.0))  # facets of unequal sizes
    solid = solid.subdivide_to_size(0.02)
    vertices, faces = np.asarray(solid.vertices), np.asarray(solid.faces)
    assert len(vertices) > 100_000
    sampled, p_sampled = stable_poses(vertices, faces)
    full, p_full = stable_poses(vertices, faces, max_points=len(vertices))
    for k in range(3):
        angle = np.degrees(np.arccos(np.clip(sampled[k] @ full[k], -1, 1)))
        assert angle < 2.0, (k, angle)
        assert abs(p_sampled[k] - p_full[k]) < 0.02


class _TwoBalls:
    """A reconstructor whose field is a ball and a far smaller one beside it (a loose fragment)."""

    def reconstruct_views(self, views, resolution, report=None):
        from fabricate.reconstruct.base import Reconstruction
        from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF

        grid = 48 // BLOCK
        blocks = np.stack(np.meshgrid(*(np.arange(grid),) * 3, indexing="ij"), axis=-1).reshape(-1, 3)

        def field(points):
            big = np.linalg.norm(points - 20.0, axis=-1) - 14.0
            small = np.linalg.norm(points - np.array([40.0, 40.0, 40.0]), axis=-1) - 3.0
            return np.minimum(big, small).astype(np.float32)

        volume = SparseSDF.from_function((48, 48, 48), blocks, np.ones((grid,) * 3, np.int8), field, 8.0)
        return Reconstruction(volume, lambda points: np.full((len(points), 3), 200, np.uint8))


def test_the_fresh_surface_loses_its_debris_and_needs_no_repair():
    """The extraction is closed by construction: the mesh stage only drops loose fragments, then
    simplifies; the fresh surface passes the full validation as it comes."""
    from fabricate.mesh import validate_mesh
    from fabricate.mesh.simplify import simplify_mesh
    from fabricate.mesh.surface import drop_debris, reconstruct_surface

    model = _TwoBalls()
    surface = reconstruct_surface([ROOT / "samples" / "robot.png"], model, (0.0,), 48, 1500)
    assert surface.repairs == ["removed 1 loose fragments under 1% of the volume"]
    vertices, faces = model.reconstruct_views(None, 48).volume.extract_surface()
    fresh = ColouredMesh(vertices, faces)
    report = validate_mesh(fresh)
    assert report.problems == [] and report.components == 2  # the ball and its debris, both closed
    actions = []
    expected = simplify_mesh(drop_debris(fresh, actions), 1500)
    assert actions == surface.repairs
    assert np.array_equal(surface.mesh.vertices, expected.vertices)
    assert np.array_equal(surface.mesh.faces, expected.faces)
    assert len(np.unique(surface.mesh.topology.face_components)) == 1


def _open_box_report():
    from fabricate.mesh import validate_mesh

    box = trimesh.creation.box((10, 10, 10))
    report = validate_mesh(ColouredMesh(box.vertices, box.faces[1:]))
    assert not report.ok
    return report


@pytest.mark.parametrize("failures", [1, 2])
def test_a_placed_mesh_the_proof_fails_is_repaired_and_proved_again(monkeypatch, failures):
    """make_model's repair path, beside the colours: the proof's first verdict (or both) is replaced by
    a real failing report (an open box's): a stand-in for a mesh that comes out broken, which the
    samples never do. One failure: repaired, proved again, filaments and analysis on the repaired
    mesh. Two: the job stops with the proof's problems."""
    import fabricate.pipeline as pipeline
    from fabricate.errors import MeshError
    from fabricate.pipeline import MakeOptions, make_model

    real, failing, calls = pipeline.validate_mesh, _open_box_report(), []

    def proof(mesh):
        calls.append(len(mesh.faces))
        return failing if len(calls) <= failures else real(mesh)

    monkeypatch.setattr(pipeline, "validate_mesh", proof)
    options = MakeOptions(printer="bambu-a1", resolution=128)
    if failures == 2:
        with pytest.raises(MeshError, match="open .boundary. edges"):
            make_model(ROOT / "samples" / "hamburger.png", options)
        return
    result = make_model(ROOT / "samples" / "hamburger.png", options)
    assert len(calls) == 2 and result.validation.ok
    assert result.analysis is not None and result.filaments is not None
    assert len(result.filaments.face_filament) == len(result.mesh.faces) == calls[1]
