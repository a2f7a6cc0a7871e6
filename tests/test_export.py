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


def slicer_ready(mesh):
    from fabricate.export.slicer_parts import SlicerParts
    from fabricate.printing import get_printer
    from fabricate.printing.settings import Filament, build_settings

    printer = get_printer("prusa-mk4s-mmu3")
    palette, filament = np.unique(mesh.face_colours, axis=0, return_inverse=True)
    filaments = [Filament("#%02X%02X%02X" % tuple(int(c) for c in colour)) for colour in palette]
    return SlicerParts(filament.ravel(), build_settings(printer, "standard", filaments=filaments), printer)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_written_files_have_the_permissions_of_a_new_file(tmp_path, mask):
    import os
    import stat

    from fabricate.export import write_mesh

    mesh = coloured_sphere()
    previous = os.umask(mask)
    try:
        write_mesh(tmp_path / "ready.3mf", mesh, title="Ball", slicer_parts=slicer_ready(mesh))
        for extension in ("3mf", "stl", "glb"):
            write_mesh(tmp_path / f"plain.{extension}", mesh)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["ready.3mf", "plain.3mf", "plain.stl", "plain.glb"], 0o666 & ~mask)


def test_exporters_write_to_any_binary_stream(tmp_path):
    import io

    from fabricate.export import EXPORTERS, export_3mf

    class WriteOnly(io.RawIOBase):  # a pipe or an HTTP response: no seek, no tell
        def __init__(self):
            self.chunks = []

        def writable(self):
            return True

        def write(self, data):
            self.chunks.append(bytes(data))
            return len(data)

    mesh = coloured_sphere()
    assert EXPORTERS["3mf"] is export_3mf and {"stl", "glb"} <= set(EXPORTERS)
    stream = WriteOnly()
    export_3mf(mesh, stream, title="Ball", slicer_parts=slicer_ready(mesh))
    path = tmp_path / "streamed.3mf"
    path.write_bytes(b"".join(stream.chunks))
    vertices, faces, colours, _ = read_3mf_with_lib3mf(path)
    assert np.array_equal(faces, mesh.faces) and len(colours) == len(np.unique(mesh.face_colours, axis=0))


def test_3mf_holds_exactly_the_float32_vertices_and_every_triangle_colour(tmp_path):
    mesh = coloured_sphere()
    mesh = mesh.copy(vertices=mesh.vertices + np.random.default_rng(0).normal(0, 3, mesh.vertices.shape))
    write_3mf(tmp_path / "ball.3mf", mesh)
    vertices, _, _, _ = read_3mf_with_lib3mf(tmp_path / "ball.3mf")
    assert np.array_equal(vertices.astype(np.float32), mesh.vertices.astype(np.float32))
    assert np.array_equal(read_3mf(tmp_path / "ball.3mf").face_colours, mesh.face_colours)


def test_triangle_using_a_vertex_twice_is_refused(tmp_path):
    mesh = coloured_sphere()
    faces = mesh.faces.copy()
    faces[5, 1] = faces[5, 0]
    with pytest.raises(ValueError):
        write_3mf(tmp_path / "x.3mf", mesh.copy(faces=faces))
    assert list(tmp_path.iterdir()) == []


def test_plate_of_objects_and_parts_is_valid_for_lib3mf_and_reads_back_merged(tmp_path):
    """The plate path of the writer (several objects, one of two parts) as an independent reader sees it."""
    import lib3mf

    from fabricate.export.plate import Plate, PlateObject, PlatePart
    from fabricate.export.threemf import export_plate_3mf

    ball = coloured_sphere()
    box = trimesh.creation.box((10, 10, 10))
    plate = Plate([PlateObject("Ball", [PlatePart("Ball", ball)]),
                   PlateObject("Tower", [PlatePart("Base", ColouredMesh(box.vertices + [120, 0, 5], box.faces)),
                                         PlatePart("Top", ColouredMesh(box.vertices + [120, 0, 15], box.faces))])])
    path = tmp_path / "plate.3mf"
    with open(path, "wb") as stream:
        export_plate_3mf(plate, stream, title="Two")
    model = lib3mf.get_wrapper().CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(path))
    items, names = model.GetBuildItems(), []
    while items.MoveNext():
        names.append(items.GetCurrent().GetObjectResource().GetName())
    assert names == ["Ball", "Tower"]
    meshes = model.GetMeshObjects()
    count = 0
    while meshes.MoveNext():
        count += 1
    assert count == 3  # Ball, Base, Top; Tower is their components object
    merged = read_3mf(path)
    assert len(merged.faces) == len(ball.faces) + 24 and merged.metadata["Title"] == "Two"
