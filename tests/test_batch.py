"""`fabricate batch`: a folder of photos to models, a summary naming failures, resumable."""
from __future__ import annotations

import csv
import json
import shutil

import pytest

from conftest import SAMPLES, assert_printable_3mf, run_cli

PRINTER = "bambu-a1"


@pytest.fixture
def photo_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for sample in SAMPLES[:5]:
        shutil.copy(sample, folder / sample.name)
    (folder / "not-a-photo.jpg").write_text("this is a shopping list, not a JPEG\n")
    return folder


@pytest.mark.slow
def test_batch_makes_every_photo_names_the_bad_one_and_resumes(photo_folder, tmp_path):
    out = tmp_path / "models"
    args = ("batch", photo_folder, "--printer", PRINTER, "-o", out, "--resolution", "128", "--quiet")
    first = run_cli(*args)
    assert first.returncode == 2, first.stderr  # one item failed: bad input
    models = sorted(out.glob("*.3mf"))
    assert [m.stem for m in models] == sorted(s.stem for s in SAMPLES[:5])
    for model in models:
        assert (out / f"{model.stem}.report.json").is_file()
    assert_printable_3mf(models[0], PRINTER)

    rows = json.loads((out / "summary.json").read_text())
    assert len(rows) == 6
    by_name = {row["name"]: row for row in rows}
    assert by_name["not-a-photo"]["error"] and "not-a-photo" not in {m.stem for m in models}
    for sample in SAMPLES[:5]:
        row = by_name[sample.stem]
        assert row["error"] is None and row["triangles"] > 0 and row["colours"] >= 1 and row["seconds"] > 0
        assert len(row["size_mm"].split(" x ")) == 3
    with open(out / "summary.csv", newline="") as stream:
        table = list(csv.DictReader(stream))
    assert [r["name"] for r in table] == [r["name"] for r in rows]
    assert "not-a-photo" in first.stdout and "failed: not-a-photo" in first.stdout

    written = {p.name: p.stat().st_mtime_ns for p in out.glob("*") if not p.name.startswith("summary.")}
    second = run_cli(*args)
    assert second.returncode == 2, second.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*") if not p.name.startswith("summary.")} == written
    again = {row["name"]: row for row in json.loads((out / "summary.json").read_text())}
    assert again.keys() == by_name.keys() and again["not-a-photo"]["error"]
    assert again[SAMPLES[0].stem]["triangles"] == by_name[SAMPLES[0].stem]["triangles"]


def test_batch_folders_of_one_object_take_their_views(tmp_path):
    from fabricate.jobs.batch import BatchItem, find_items

    (tmp_path / "chair").mkdir()
    for name in ("1-front.png", "2-back.png"):
        shutil.copy(SAMPLES[0], tmp_path / "chair" / name)
    (tmp_path / "chair" / "views.txt").write_text("front,back\n")
    shutil.copy(SAMPLES[1], tmp_path / "single.png")
    (tmp_path / ".hidden").write_text("")
    items = find_items(tmp_path)
    assert [item.name for item in items] == ["chair", "single"]
    assert items[0].views == "front,back" and [p.rsplit("/", 1)[1] for p in items[0].photos] == ["1-front.png",
                                                                                                 "2-back.png"]
    assert items[0].options({"views": None, "printer": PRINTER})["views"] == "front,back"
    assert BatchItem("single", ("x",)).options({"views": "front"})["views"] == "front"
