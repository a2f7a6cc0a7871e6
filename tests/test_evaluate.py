import pytest
import trimesh

from fabricate.evaluate import sample_surface, surface_scores, volume_iou
from fabricate.evaluate.run import render_cases, score_case

from conftest import SHARED, run_cli


def test_scores_of_identical_and_shifted_surfaces():
    sphere = trimesh.creation.icosphere(4)
    p, n = sample_surface(sphere.vertices, sphere.faces, 20000, seed=0)
    q, m = sample_surface(sphere.vertices, sphere.faces, 20000, seed=1)
    same = surface_scores(p, n, q, m, scale=2.0)
    assert same["chamfer_l1"] < 0.01 and same["f_score_2"] > 0.97 and same["normal_consistency"] > 0.98
    moved = surface_scores(p + [0.2, 0, 0], n, q, m, scale=2.0)
    assert moved["f_score_1"] < 0.5 * same["f_score_1"] and moved["chamfer_l1"] > 3 * same["chamfer_l1"]
    assert volume_iou(sphere.vertices, sphere.faces, sphere.vertices, sphere.faces, 32) == pytest.approx(1.0)
    assert volume_iou(sphere.vertices + [1.0, 0, 0], sphere.faces, sphere.vertices, sphere.faces, 48) < 0.5


@pytest.mark.slow  # reconstructs and scores
def test_reconstruction_lands_where_the_camera_saw_it(tmp_path):
    """The classical model of a rendered ball sits on the truth once mapped by the camera."""
    ball = trimesh.creation.icosphere(4)
    ball.export(tmp_path / "ball.obj")
    case = render_cases(tmp_path, views=1, size=256, seed=3)[0]
    scores = score_case(case, "classical", 128, points=5000)
    assert scores["printable"] == 1.0
    assert scores["volume_iou"] > 0.6 and scores["f_score_2"] > 0.4


@pytest.mark.skipif(not (SHARED / "meshes" / "heldout").is_dir(), reason="../shared/meshes is not here")
@pytest.mark.slow  # the eval command end to end
def test_eval_command_prints_the_table(tmp_path):
    meshes = tmp_path / "heldout"
    meshes.mkdir()
    (meshes / "cow.obj").write_bytes((SHARED / "meshes" / "heldout" / "cow.obj").read_bytes())
    result = run_cli("eval", "--meshes", meshes, "--views", "1", "--json", tmp_path / "scores.json")
    assert result.returncode == 0, result.stderr
    assert "| classical |" in result.stdout and "F-score@2%" in result.stdout
    assert (tmp_path / "scores.json").exists()


def test_meshes_to_score_come_from_a_folder_of_obj_and_ply_or_a_list(tmp_path):
    from fabricate.evaluate.run import mesh_files

    ball = trimesh.creation.icosphere(2)
    ball.export(tmp_path / "b.ply")
    ball.export(tmp_path / "a.obj")
    (tmp_path / "notes.txt").write_text("not a mesh")
    assert [p.name for p in mesh_files(tmp_path)] == ["a.obj", "b.ply"]
    cases = render_cases([tmp_path / "b.ply"], views=2, size=64)
    assert [c.name for c in cases] == ["b#0", "b#1"]
