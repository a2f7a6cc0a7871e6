"""The command line end to end, run as a separate process like a maker would."""
import io
import json

import numpy as np
import pytest
import trimesh
from PIL import Image

from conftest import SAMPLES, assert_printable_3mf, run_cli

# Slow: commands run end to end in their own process, most through the whole pipeline.
pytestmark = pytest.mark.slow

PRINTERS = ["bambu-a1", "prusa-mk4s-mmu3", "bambu-a1-mini", "creality-k1", "prusa-mini-plus", "voron-2.4-300"]


@pytest.mark.parametrize("photo,printer", list(zip(SAMPLES, PRINTERS)), ids=[p.stem for p in SAMPLES])
def test_make_writes_a_printable_coloured_3mf(tmp_path, photo, printer):
    out = tmp_path / f"{photo.stem}.3mf"
    result = run_cli("make", photo, "--printer", printer, "-o", out, "--also", "glb")
    assert result.returncode == 0, result.stderr
    assert "watertight: yes" in result.stdout
    assert_printable_3mf(out, printer)
    report = json.loads((tmp_path / f"{photo.stem}.report.json").read_text())
    assert report["validation"]["ok"] and report["fit"]["printer"] == printer
    assert (tmp_path / f"{photo.stem}.glb").stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial-")]


def test_height_option(tmp_path):
    out = tmp_path / "h.3mf"
    result = run_cli("make", SAMPLES[0], "--printer", "prusa-mk4s-mmu3", "--height-mm", "60", "--resolution", "128", "-o", out)
    assert result.returncode == 0, result.stderr
    vertices, _, _ = assert_printable_3mf(out, "prusa-mk4s-mmu3")
    assert np.ptp(vertices[:, 2]) == pytest.approx(60.0, abs=0.01)


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bad_inputs(tmp_path):
    good = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8)))
    wall = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), np.uint8)).convert("RGBA")
    alpha = np.full((300, 300), 255, np.uint8)
    alpha[100:200, 100:200] = 0
    wall.putalpha(Image.fromarray(alpha))
    files = {
        "not an image": b"just some text, not pixels",
        "truncated": good[: len(good) // 3],
        "megapixels": png_bytes(Image.new("L", (8000, 5100))),
        "at least 64": png_bytes(Image.new("RGB", (40, 40), (255, 0, 0))),
        "no object": png_bytes(Image.new("RGB", (300, 300), (250, 250, 250))),
        "every border": png_bytes(wall),
    }
    paths = {}
    for message, data in files.items():
        path = tmp_path / (message.replace(" ", "_") + ".png")
        path.write_bytes(data)
        paths[message] = path
    return paths


def test_bad_inputs_exit_2_with_one_line_and_no_output(tmp_path):
    for message, photo in bad_inputs(tmp_path).items():
        out = tmp_path / "out" / "model.3mf"
        result = run_cli("make", photo, "--printer", "bambu-a1", "-o", out)
        assert result.returncode == 2, (message, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.stderr, (message, lines)
        assert not out.exists() and not (tmp_path / "out" / "model.report.json").exists()


def test_bad_options_exit_2(tmp_path):
    result = run_cli("make", SAMPLES[0], "--printer", "no-such-printer", "-o", tmp_path / "a.3mf")
    assert result.returncode == 2 and "unknown printer" in result.stderr
    result = run_cli("make", SAMPLES[0], "--printer", "bambu-a1-mini", "--height-mm", "900", "-o", tmp_path / "a.3mf")
    assert result.returncode == 2 and "largest height that fits" in result.stderr
    result = run_cli("make", SAMPLES[0], "--printer", "bambu-a1", "-o", tmp_path / "a.obj")
    assert result.returncode == 2
    assert not list(tmp_path.iterdir())


def test_printers_lists_profiles():
    result = run_cli("printers")
    assert result.returncode == 0
    assert "bambu-a1-mini" in result.stdout and "prusa-mk4s" in result.stdout
    listed = json.loads(run_cli("printers", "--json").stdout)
    assert len(listed) >= 15


def broken_stl(path):
    s = trimesh.creation.icosphere(3)
    s.apply_scale(20)
    f = np.delete(s.faces, [0, 1, 2, 40], axis=0)  # holes
    f[100:110] = f[100:110, ::-1]  # flipped faces
    f = np.vstack([f, f[200:205]])  # duplicate faces
    trimesh.Trimesh(s.vertices, f, process=False).export(path)


def test_check_reports_each_defect_and_repair_fixes_it(tmp_path):
    path = tmp_path / "broken.stl"
    broken_stl(path)
    result = run_cli("check", path)
    assert result.returncode == 2
    out = result.stdout
    assert "NOT printable" in out
    assert "open (boundary) edges" in out
    assert "flipped or inconsistently wound" in out
    assert "5 duplicate triangles" in out
    fixed = tmp_path / "fixed.stl"
    result = run_cli("check", path, "--repair", "-o", fixed)
    assert result.returncode == 0, result.stderr
    assert "filled holes" in result.stdout and "re-oriented" in result.stdout
    assert run_cli("check", fixed).returncode == 0


def test_check_reads_our_3mf_and_glb(tmp_path):
    out = tmp_path / "m.3mf"
    assert run_cli("make", SAMPLES[0], "--printer", "bambu-a1", "--resolution", "128", "-o", out,
                   "--also", "glb", "--also", "stl").returncode == 0
    for name in ("m.3mf", "m.glb", "m.stl"):
        result = run_cli("check", tmp_path / name)
        assert result.returncode == 0 and "printable" in result.stdout, (name, result.stdout)


def test_check_bad_file(tmp_path):
    path = tmp_path / "junk.3mf"
    path.write_bytes(b"not a zip")
    result = run_cli("check", path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
