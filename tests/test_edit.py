"""Conversational edits (issue 18): the parser's corpus, the language-model path, each operation's
measured effect on a real made model, the history and undo, the CLI."""
from __future__ import annotations

import json
import shutil

import manifold3d
import numpy as np
import pytest

from fabricate.edit import edit_model, load_model, write_model
from fabricate.edit.operations import OPERATIONS, checked_operation
from fabricate.edit.parse import parse_builtin
from fabricate.errors import BadOption
from fabricate.export.threemf import read_3mf

from conftest import ROOT, QuietHandler, assert_printable_3mf, run_cli, serve_in_background

PRINTER = "bambu-a1"

# (instruction, expected [(operation, the parameters that must match)]).
CORPUS = [
    ("make it 20% taller", [("stretch", {"dimension": "height", "factor": 1.2})]),
    ("make it 10 percent wider", [("stretch", {"dimension": "width", "factor": 1.1})]),
    ("make it a bit taller", [("stretch", {"dimension": "height", "factor": 1.1})]),
    ("make it much slimmer", [("stretch", {"dimension": "width", "factor": 0.5})]),
    ("make it slightly shorter", [("stretch", {"dimension": "height", "factor": 0.9})]),
    ("make it 5 mm deeper", [("stretch", {"dimension": "depth", "by_mm": 5.0})]),
    ("make it 1 cm taller", [("stretch", {"dimension": "height", "by_mm": 10.0})]),
    ("make it 120 mm tall", [("resize", {"dimension": "height", "size_mm": 120.0})]),
    ("make it 8 cm wide", [("resize", {"dimension": "width", "size_mm": 80.0})]),
    ("scale it to 2 inches tall", [("resize", {"dimension": "height", "size_mm": 50.8})]),
    ("set the height to 90 mm", [("resize", {"dimension": "height", "size_mm": 90.0})]),
    ("height 75mm", [("resize", {"dimension": "height", "size_mm": 75.0})]),
    ("scale to 50%", [("scale", {"factor": 0.5})]),
    ("scale it by 1.5", [("scale", {"factor": 1.5})]),
    ("make it twice as big", [("scale", {"factor": 2.0})]),
    ("half the size", [("scale", {"factor": 0.5})]),
    ("double the size", [("scale", {"factor": 2.0})]),
    ("make it 20% bigger", [("scale", {"factor": 1.2})]),
    ("make it a lot smaller", [("scale", {"factor": 0.5})]),
    ("shrink it by 25%", [("scale", {"factor": 0.75})]),
    ("stretch it vertically by 30%", [("stretch", {"dimension": "height", "factor": 1.3})]),
    ("flatten the base", [("flatten_base", {"cut_mm": 1.0})]),
    ("flatten the bottom by 2 mm", [("flatten_base", {"cut_mm": 2.0})]),
    ("give it a flat base", [("flatten_base", {})]),
    ("cut 3 mm off the bottom", [("flatten_base", {"cut_mm": 3.0})]),
    ("add a plinth", [("plinth", {"shape": "disc", "height_mm": 3.0})]),
    ("add a 5 mm square plinth", [("plinth", {"shape": "box", "height_mm": 5.0})]),
    ("put it on a round base", [("plinth", {"shape": "disc"})]),
    ("add a black plinth", [("plinth", {"colour": "#000000"})]),
    ("add a plinth 4 mm thick with a 6 mm margin", [("plinth", {"height_mm": 4.0, "margin_mm": 6.0})]),
    ("make it red", [("recolour", {"source": "all", "colour": "#D02020"})]),
    ("paint everything #00ff00", [("recolour", {"source": "all", "colour": "#00FF00"})]),
    ("make the brown parts white", [("recolour", {"source": "#7B4A20", "colour": "#FFFFFF"})]),
    ("make filament 2 blue", [("recolour", {"source": "2", "colour": "#2040D0"})]),
    ("change the dark brown to orange", [("recolour", {"source": "#3B2314", "colour": "#FF8000"})]),
    ("replace red with light blue", [("recolour", {"source": "#D02020", "colour": "#80C0FF"})]),
    ("merge the red and the brown", [("merge_colours", {"source": "#D02020", "into": "#7B4A20"})]),
    ("merge filament 3 into filament 1", [("merge_colours", {"source": "3", "into": "1"})]),
    ("mirror it", [("mirror", {"dimension": "width"})]),
    ("flip it front to back", [("mirror", {"dimension": "depth"})]),
    ("rotate it 90 degrees", [("rotate", {"degrees": 90.0, "dimension": "height"})]),
    ("rotate by 45 degrees clockwise", [("rotate", {"degrees": -45.0})]),
    ("turn it upside down", [("rotate", {"degrees": 180.0, "dimension": "width"})]),
    ("lay it flat", [("lay_flat", {})]),
    ("add a keyring hole", [("hole", {"diameter_mm": 4.0, "position": "top"})]),
    ("add a 5 mm keyring loop", [("hole", {"diameter_mm": 5.0})]),
    ("drill a 3mm hole through the middle", [("hole", {"diameter_mm": 3.0, "position": "centre"})]),
    ("add a vertical hole of 6 mm", [("hole", {"diameter_mm": 6.0, "dimension": "height", "position": "centre"})]),
    ("simplify to 50k triangles", [("simplify", {"triangles": 50000})]),
    ("reduce it to 20,000 faces", [("simplify", {"triangles": 20000})]),
    ("make it 20% taller and flatten the base", [("stretch", {"factor": 1.2}), ("flatten_base", {})]),
    ("make it taller and wider", None),  # "taller and wider" is one clause no rule reads: refused, not guessed
    ("scale to 50%, then add a plinth", [("scale", {"factor": 0.5}), ("plinth", {})]),
    ("please mirror it left to right", [("mirror", {"dimension": "width"})]),
]


def _matches(text, expected) -> bool:
    try:
        operations = parse_builtin(text)
    except BadOption:
        return expected is None
    if expected is None or len(operations) != len(expected):
        return False
    return all(op.name == name and all(op.parameters[k] == pytest.approx(v) for k, v in params.items())
               for op, (name, params) in zip(operations, expected))


def test_corpus_maps_to_the_expected_operations():
    assert len(CORPUS) >= 40
    misses = [text for text, expected in CORPUS if not _matches(text, expected)]
    assert 1 - len(misses) / len(CORPUS) >= 0.9, misses
    assert not misses, f"hit rate {1 - len(misses) / len(CORPUS):.0%}; missed {misses}"


def test_every_operation_example_parses_to_its_operation():
    for spec in OPERATIONS.values():
        assert [op.name for op in parse_builtin(spec.example)] == [spec.name], spec.example


@pytest.mark.parametrize("text", ["make it sparkle", "delete the universe", "import os; os.system('x')", ""])
def test_unknown_instructions_list_what_works(text):
    with pytest.raises(BadOption) as info:
        parse_builtin(text) if text else edit_model(None, text)
    assert "Edits that work" in str(info.value) or "no instruction" in str(info.value)


def test_checked_operations_refuse_bad_values():
    for name, params in [("scale", {"factor": -1}), ("scale", {"factor": "2"}), ("hole", {"diameter_mm": 5, "x": 1}),
                         ("recolour", {"source": "all", "colour": "red; rm"}), ("exec", {}), ("resize", {})]:
        with pytest.raises(BadOption):
            checked_operation(name, params)


class _ToolCallServer(QuietHandler):
    """Stands in for the real OpenAI-compatible endpoint (llama.cpp, Ollama): answers with fixed tool calls."""

    reply_calls: list = []
    seen: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        message = {"role": "assistant", "content": None,
                   "tool_calls": [{"id": f"c{i}", "type": "function",
                                   "function": {"name": name, "arguments": json.dumps(args)}}
                                  for i, (name, args) in enumerate(type(self).reply_calls)]}
        self.send_body(200, json.dumps({"choices": [{"message": message}]}).encode())


@pytest.fixture
def llm_endpoint(monkeypatch):
    url, server = serve_in_background(_ToolCallServer)
    monkeypatch.setenv("FABRICATE_LLM_URL", f"{url}/v1/chat/completions")
    yield _ToolCallServer
    server.shutdown()


def test_language_model_tool_calls_are_checked_before_use(llm_endpoint):
    from fabricate.edit.parse import parse_instructions

    llm_endpoint.reply_calls = [("stretch", {"dimension": "height", "factor": 1.25}), ("flatten_base", {"cut_mm": 2})]
    operations = parse_instructions("make it a quarter taller and give it a flat bottom")
    assert [(op.name, op.parameters.get("factor", op.parameters.get("cut_mm"))) for op in operations] == \
        [("stretch", 1.25), ("flatten_base", 2.0)]
    request = llm_endpoint.seen[-1]
    assert {tool["function"]["name"] for tool in request["tools"]} == set(OPERATIONS)
    for calls in ([("run_python", {"code": "import os"})], [("scale", {"factor": 1e9})], []):
        llm_endpoint.reply_calls = calls
        with pytest.raises(BadOption):
            parse_instructions("do something")


# --- measured on a real made model ----------------------------------------------------------

@pytest.fixture(scope="session")
def made_model(tmp_path_factory):
    from fabricate.pipeline import MakeOptions, make_model, write_outputs

    # 60 mm tall so that the enlarging edits still fit the A1's bed; four filaments for the colour edits.
    result = make_model(str(ROOT / "samples" / "hamburger.png"),
                        MakeOptions(printer=PRINTER, resolution=128, height_mm=60, colors=4))
    path = tmp_path_factory.mktemp("edit") / "hamburger.3mf"
    write_outputs(result, path, report_json=False)
    return path


def _edited(made_model, tmp_path, text):
    result = edit_model(load_model(made_model, PRINTER), text)
    out = tmp_path / "edited.3mf"
    write_model(result, out)
    assert_printable_3mf(out, PRINTER)
    return load_model(out).mesh, result


def _horizontal(extents):
    return np.sort(extents[:2])  # placement may turn the model a quarter to fit the bed


@pytest.mark.slow
@pytest.mark.parametrize("text,factors", [("make it 20% taller", (1, 1, 1.2)), ("make it 30% wider", (1.3, 1, 1)),
                                          ("scale to 80%", (0.8, 0.8, 0.8)), ("make it 10% slimmer", (0.9, 1, 1))])
def test_sizes_within_half_a_percent(made_model, tmp_path, text, factors):
    before = load_model(made_model, PRINTER).mesh.extents
    after, _ = _edited(made_model, tmp_path, text)
    wanted = before * np.array(factors)
    assert after.extents[2] == pytest.approx(wanted[2], rel=0.005)
    assert _horizontal(after.extents) == pytest.approx(_horizontal(wanted), rel=0.005)


@pytest.mark.slow
def test_absolute_height(made_model, tmp_path):
    after, _ = _edited(made_model, tmp_path, "make it 45 mm tall")
    assert after.extents[2] == pytest.approx(45.0, rel=0.005)


@pytest.mark.slow
def test_flattened_base_is_planar_at_zero_with_the_cut_section(made_model, tmp_path):
    before = load_model(made_model, PRINTER).mesh
    cut = 3.0
    section = manifold3d.Manifold(manifold3d.Mesh(np.array(before.vertices, np.float32), np.array(
        before.faces, np.uint32))).slice(float(before.vertices[:, 2].min()) + cut).area()
    after, _ = _edited(made_model, tmp_path, f"flatten the base by {cut:g} mm")
    assert after.extents[2] == pytest.approx(before.extents[2] - cut, abs=0.01)
    tri = after.vertices[after.faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    bottom = (normal[:, 2] < 0) & (np.abs(normal[:, 2]) > 0.999 * np.linalg.norm(normal, axis=1)) & \
        (tri[:, :, 2].max(axis=1) < 0.05)
    assert np.abs(tri[bottom][:, :, 2]).max() <= 0.05
    contact = np.linalg.norm(normal[bottom], axis=1).sum() / 2
    assert contact >= section * 0.999, (contact, section)


@pytest.mark.slow
@pytest.mark.parametrize("text,diameter,axis", [("add a 5 mm keyring hole", 5.0, 1),
                                                ("add a vertical hole of 6 mm", 6.0, 2)])
def test_hole_diameter_and_through(made_model, tmp_path, text, diameter, axis):
    before = load_model(made_model, PRINTER).mesh
    after, _ = _edited(made_model, tmp_path, text)
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(after.vertices, np.float32), np.array(after.faces, np.uint32)))
    assert solid.genus() == manifold3d.Manifold(manifold3d.Mesh(
        np.array(before.vertices, np.float32), np.array(before.faces, np.uint32))).genus() + 1
    # The hole's contour in the cross-section half-way along it: the smallest loop of the section.
    middle = [0.0, 0.0, 0.0]
    middle[axis] = -float(after.bounds[:, axis].mean())
    upright = solid.translate(middle).rotate({1: [-90, 0, 0], 2: [0, 0, 0]}[axis])
    contours = [np.asarray(p) for p in upright.slice(0.0).to_polygons()]

    def area(p):
        return abs(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1))) / 2

    hole_contour = min(contours, key=area)
    assert 2 * np.sqrt(area(hole_contour) / np.pi) == pytest.approx(diameter, abs=0.1)
    middle_of_hole = hole_contour.mean(axis=0)
    reach = np.linalg.norm(hole_contour - middle_of_hole, axis=1)
    assert 2 * reach.min() == pytest.approx(diameter, abs=0.1) and 2 * reach.max() == pytest.approx(diameter, abs=0.1)
    # Through: a rod a little thinner than the hole, longer than the model, meets no material.
    length = float(after.extents[axis]) + 40
    rod = manifold3d.Manifold.cylinder(length, diameter * 0.45, diameter * 0.45, 64).translate(
        [float(middle_of_hole[0]), float(middle_of_hole[1]), -length / 2])
    assert (upright ^ rod).volume() < 1e-6


@pytest.mark.slow
def test_plinth_recolour_merge_mirror_rotate_simplify(made_model, tmp_path):
    before = load_model(made_model, PRINTER).mesh
    after, _ = _edited(made_model, tmp_path, "add a 4 mm box plinth with a 5 mm margin")
    assert after.extents[2] == pytest.approx(before.extents[2] + 4.0, abs=0.01)
    assert _horizontal(after.extents) == pytest.approx(_horizontal(before.extents) + 10.0, abs=0.01)
    after, result = _edited(made_model, tmp_path, "make filament 2 #00FF00")
    assert "#00FF00" in [f["colour"] for f in result.filaments.summary()]
    after, result = _edited(made_model, tmp_path, "merge filament 4 into filament 1")
    assert result.filaments.count == 3
    after, _ = _edited(made_model, tmp_path, "mirror it")
    assert after.extents == pytest.approx(before.extents, abs=1e-3)
    after, _ = _edited(made_model, tmp_path, "rotate it 90 degrees")
    assert _horizontal(after.extents) == pytest.approx(_horizontal(before.extents), abs=1e-3)
    after, _ = _edited(made_model, tmp_path, "simplify to 10000 triangles")
    assert len(after.faces) <= 10000


@pytest.mark.slow
def test_cli_edit_history_undo_exact_and_refusals(made_model, tmp_path):
    first, second = tmp_path / "v1.3mf", tmp_path / "v2.3mf"
    run = run_cli("edit", made_model, "make it 20% taller", "--printer", PRINTER, "-o", first)
    assert run.returncode == 0, run.stderr
    run = run_cli("edit", first, "add a keyring hole and flatten the base", "-o", second)
    assert run.returncode == 0, run.stderr
    history = run_cli("edit", second, "--history")
    assert history.returncode == 0 and "version 2" in history.stdout and "keyring" in history.stdout
    back = tmp_path / "back.3mf"
    assert run_cli("edit", second, "--undo", "1", "-o", back).returncode == 0
    a, b = read_3mf(first), read_3mf(back)
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)
    assert np.array_equal(a.face_colours, b.face_colours)
    assert run_cli("edit", second, "--undo", "2", "-o", back).returncode == 0
    assert np.array_equal(read_3mf(back).vertices, read_3mf(made_model).vertices)
    refused = tmp_path / "refused.3mf"
    for args in (["make it sparkle"], ["--undo", "5"], ["make it 10 times bigger"]):
        run = run_cli("edit", second, *args, "-o", refused)
        assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1, run.stderr
        assert not refused.exists()
    assert "Edits that work" in run_cli("edit", second, "make it sparkle", "-o", refused).stderr
    undone = load_model(back)
    assert undone.version == 0


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("prusa-slicer"), reason="prusa-slicer is not installed")
def test_prusaslicer_slices_an_edited_file(made_model, tmp_path):
    from fabricate.export.slice import slice_3mf

    out = tmp_path / "sliced.3mf"
    write_model(edit_model(load_model(made_model, PRINTER), "add a keyring hole and add a plinth"), out)
    report = slice_3mf(str(out), str(tmp_path / "sliced.gcode"))
    assert (tmp_path / "sliced.gcode").stat().st_size > 0 and report is not None


@pytest.mark.slow
def test_web_edits_make_versions_undo_and_downloads(made_model, tmp_path):
    import httpx

    from fabricate.jobs import JobStore
    from fabricate.jobs.store import PhotoFile

    from conftest import live_server

    # A finished job whose model is the made one (no worker needed: the edits are what is tested).
    store = JobStore(tmp_path / "data")
    job = store.create([PhotoFile((ROOT / "samples" / "hamburger.png").read_bytes(), "png", "hamburger.png")],
                       {"printer": PRINTER})
    shutil.copy(made_model, store.job_dir(job.id) / "model.3mf")
    store.finish(job.id, {}, {})
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=120) as client:
        url = f"{base}/api/jobs/{job.id}"
        first = client.post(url + "/edits", json={"text": "make it 20% taller"})
        assert first.status_code == 201, first.text
        assert first.json()["version"] == 1 and "height x1.2" in first.json()["summary"][0]
        second = client.post(url + "/edits", json={"text": "add a keyring hole"})
        assert second.status_code == 201 and second.json()["version"] == 2
        refused = client.post(url + "/edits", json={"text": "make it sparkle"})
        assert refused.status_code == 422 and "Edits that work" in refused.json()["detail"]
        undone = client.post(url + "/edits", json={"undo": 1})
        assert undone.status_code == 201 and undone.json()["version"] == 1
        assert undone.json()["redo_available"] == 1 and undone.json()["report"]["validation"]["ok"]
        redone = client.post(url + "/edits", json={"redo": 1})
        assert redone.status_code == 201 and redone.json()["version"] == 2, redone.text
        nothing = client.post(url + "/edits", json={"redo": 1})  # nothing left to redo: refused, no new version
        assert nothing.status_code == 400 and "cannot redo" in nothing.json()["detail"]
        versions = client.get(url + "/versions").json()
        assert [v["version"] for v in versions] == [0, 1, 2, 1, 2]
        for step in (1, 3):
            path = tmp_path / f"step{step}.3mf"
            path.write_bytes(client.get(base + versions[step]["download"]).content)
            assert_printable_3mf(path, PRINTER)
        assert np.array_equal(read_3mf(tmp_path / "step1.3mf").vertices, read_3mf(tmp_path / "step3.3mf").vertices)
        step2, step4 = (tmp_path / f"step{n}.3mf" for n in (2, 4))
        for step, path in ((2, step2), (4, step4)):
            path.write_bytes(client.get(base + versions[step]["download"]).content)
        assert np.array_equal(read_3mf(step2).vertices, read_3mf(step4).vertices)
