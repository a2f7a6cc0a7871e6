import numpy as np
import pytest
import trimesh

from fabricate.export import load_mesh_file, read_3mf, write_3mf, write_glb, write_stl
from fabricate.mesh import ColouredMesh

from conftest import read_3mf_with_lib3mf


def coloured_sphere():
    s = trimesh.creation.icosphere(3)
    colours = np.where(s.vertices[:, :1] > 0, [220, 30, 30], [30, 30, 220]).astype(np.uint8)
    return ColouredMesh(s.vertices * 20 + 50, s.faces, colours).with_face_colours_from_vertices()


def test_3mf_round_trip_with_lib3mf(tmp_path):
    import lib3mf

    mesh = coloured_sphere()
    path = tmp_path / "ball.3mf"
    write_3mf(path, mesh, title="Ball", source="ball.png")
    vertices, faces, colours, unit = read_3mf_with_lib3mf(path)
    assert unit == lib3mf.ModelUnit.MilliMeter
    assert np.allclose(vertices, mesh.vertices, atol=1e-4)
    assert np.array_equal(faces, mesh.faces)
    assert {(220, 30, 30), (30, 30, 220)} <= colours
    back = read_3mf(path)
    assert np.array_equal(back.face_colours, mesh.face_colours)
    assert back.metadata["Title"] == "Ball" and back.metadata["SourcePhoto"] == "ball.png"
    assert back.metadata["Application"].startswith("fabricate ")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    from fabricate.export import threemf

    path = tmp_path / "x.3mf"
    bad = coloured_sphere()
    bad = bad.copy(faces=bad.faces + 10_000)  # indices beyond the vertices: lib3mf refuses
    with pytest.raises(Exception):
        threemf.write_3mf(path, bad)
    assert list(tmp_path.iterdir()) == []


def test_stl_and_glb(tmp_path):
    mesh = coloured_sphere()
    write_stl(tmp_path / "a.stl", mesh)
    write_glb(tmp_path / "a.glb", mesh)
    stl = load_mesh_file(tmp_path / "a.stl")
    assert len(stl.faces) == len(mesh.faces) and len(stl.vertices) == len(mesh.vertices)
    glb = trimesh.load(tmp_path / "a.glb", force="mesh", process=False)
    assert glb.visual.kind == "vertex"
    assert len(np.unique(np.asarray(glb.visual.vertex_colors)[:, :3], axis=0)) >= 2
