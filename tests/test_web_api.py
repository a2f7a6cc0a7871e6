"""The REST API over real HTTP: a uvicorn server in a thread, jobs built by real worker processes."""
import io
import json

import httpx
import numpy as np
import trimesh
import pytest
from PIL import Image

from fabricate.jobs import JobStore, run_job
from fabricate.jobs.store import PhotoFile
from fabricate.progress import STAGES

from conftest import SAMPLES, assert_printable_3mf, live_server, wait_for_job

# Slow: real worker processes build the jobs through the whole pipeline.
pytestmark = pytest.mark.slow

FAST = {"printer": "bambu-a1", "resolution": "128", "height_mm": "60", "colors": "3"}
HAMBURGER = [p for p in SAMPLES if p.stem == "hamburger"][0]


def post_job(client, base, photo=HAMBURGER, **fields):
    data = {**FAST, **fields}
    with open(photo, "rb") as handle:
        return client.post(f"{base}/api/jobs", data=data, files={"photo": (photo.name, handle, "image/png")})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One server, one job built to the end, shared by the lifecycle tests."""
    data_dir = tmp_path_factory.mktemp("data")
    with live_server(data_dir) as base, httpx.Client(timeout=60) as client:
        created = post_job(client, base)
        assert created.status_code == 202, created.text
        job = created.json()
        assert job["status"] in ("queued", "running") and len(job["id"]) >= 20
        events = []
        with client.stream("GET", base + job["links"]["events"], timeout=300) as stream:
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    if name == "done":
                        break
        final = wait_for_job(client, base + job["links"]["self"])
        files = {name: client.get(base + job["links"][name]) for name in
                 ("model.3mf", "model.stl", "model.glb", "preview.png", "report.json")}
        yield {"base": base, "job": final, "events": events, "files": files, "data_dir": data_dir,
               "client": client}


@pytest.mark.slow  # builds a model
def test_job_lifecycle_and_downloads(finished, tmp_path):
    job = finished["job"]
    assert job["status"] == "succeeded" and job["progress"] == 100 and job["error"] is None
    assert job["result"]["validation"]["ok"]
    files = finished["files"]
    assert all(r.status_code == 200 for r in files.values())
    path = tmp_path / "model.3mf"
    path.write_bytes(files["model.3mf"].content)
    assert_printable_3mf(path, "bambu-a1")
    assert "attachment" in files["model.3mf"].headers["content-disposition"]
    assert Image.open(io.BytesIO(files["preview.png"].content)).size == (512, 512)
    assert json.loads(files["report.json"].content)["fit"]["printer"] == "bambu-a1"
    # The GLB download is the textured PBR asset (a base-colour texture), not vertex colours.
    glb = trimesh.load(io.BytesIO(files["model.glb"].content), file_type="glb", force="mesh")
    assert glb.visual.kind == "texture"


@pytest.mark.slow  # builds a model
def test_events_arrive_in_order(finished):
    events = finished["events"]
    assert events[-1][0] == "done" and events[-1][1]["status"] == "succeeded"
    progress = [data["progress"] for name, data in events]
    assert progress == sorted(progress) and progress[-1] == 100
    stages = [data["stage"] for _, data in events if data["stage"]]
    order = [STAGES.index(s) for s in stages]
    assert order == sorted(order) and len(set(stages)) >= 4


@pytest.mark.slow  # builds a model
def test_restart_keeps_results_and_fails_interrupted_jobs(finished, tmp_path):
    data_dir = finished["data_dir"]
    job = finished["job"]
    store = JobStore(data_dir)
    interrupted = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "x.png")], {"printer": "bambu-a1"})
    store.mark_running(interrupted.id)  # as if a server died while building it
    with live_server(data_dir) as base, httpx.Client(timeout=60) as client:
        assert client.get(f"{base}/api/jobs/{job['id']}/model.3mf").status_code == 200
        again = client.get(f"{base}/api/jobs/{interrupted.id}").json()
        assert again["status"] == "failed" and "restart" in again["error"]


def test_bad_uploads_get_4xx_with_detail_and_leave_no_job(tmp_path):
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1200, 1200, 3), np.uint8)).save(big)
    text = tmp_path / "notes.png"
    text.write_text("not a picture at all")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1), (255, 0, 0)).save(tiny)
    with live_server(tmp_path / "data", max_upload_mb=1) as base, httpx.Client(timeout=60) as client:
        for photo, status, words in ((big, 413, "larger than"), (text, 415, "not an image"),
                                     (tiny, 400, "at least 64")):
            response = post_job(client, base, photo)
            assert response.status_code == status, (photo.name, response.text)
            assert words in response.json()["detail"]
        response = post_job(client, base, printer="no-such-printer")
        assert response.status_code == 422 and "unknown printer" in response.json()["detail"]
        assert client.get(f"{base}/api/jobs").json() == []
    assert not any((tmp_path / "data" / "jobs").iterdir())


@pytest.mark.slow  # builds a model
def test_queue_positions_delete_and_share_without_hub(tmp_path):
    with live_server(tmp_path / "data", workers=1) as base, httpx.Client(timeout=60) as client:
        first = post_job(client, base).json()
        second = post_job(client, base).json()
        assert second["queue_position"] == 2
        assert client.delete(f"{base}/api/jobs/{second['id']}").status_code == 204
        assert client.get(f"{base}/api/jobs/{second['id']}").status_code == 404
        done = wait_for_job(client, f"{base}/api/jobs/{first['id']}")
        assert done["status"] == "succeeded"
        shared = client.post(f"{base}/api/jobs/{first['id']}/share", json={"title": "Burger"})
        assert shared.status_code == 400 and "no hub is configured" in shared.json()["detail"]
        assert client.get(f"{base}/api/jobs/{first['id']}/model.obj").status_code == 404
        printers = client.get(f"{base}/api/printers").json()
        assert any(p["id"] == "bambu-a1" for p in printers)
        assert client.get(f"{base}/openapi.json").json()["paths"]["/api/jobs"]["post"]


def test_outline_of_the_object(tmp_path):
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        with open(HAMBURGER, "rb") as handle:
            response = client.post(f"{base}/api/outline", files={"photo": ("h.png", handle, "image/png")})
        body = response.json()
        assert response.status_code == 200 and body["source"] == "alpha"
        points = np.array(body["outline"])
        assert len(points) > 10
        assert 0 <= points[:, 0].min() and points[:, 0].max() < body["width"]


def post_photos(client, base, photos, **fields):
    """A job from several photos: the multipart field `photo` repeated, in order."""
    files = [("photo", (name, data, "image/png")) for name, data in photos]
    return client.post(f"{base}/api/jobs", data={**FAST, **fields}, files=files)


@pytest.mark.slow  # builds a model
def test_two_photos_make_one_model(tmp_path):
    photos = [("front.png", HAMBURGER.read_bytes()), ("back.png", HAMBURGER.read_bytes())]
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        created = post_photos(client, base, photos, views="front,back")
        assert created.status_code == 202, created.text
        assert created.json()["photo_names"] == ["front.png", "back.png"]
        job = wait_for_job(client, f"{base}/api/jobs/{created.json()['id']}")
        assert job["status"] == "succeeded", job["error"]
        assert [v["name"] for v in job["result"]["views"]] == ["front.png", "back.png"]
        assert job["result"]["source_photos"] == ["front.png", "back.png"]
        path = tmp_path / "model.3mf"
        path.write_bytes(client.get(base + job["links"]["model.3mf"]).content)
    assert_printable_3mf(path, "bambu-a1")
    folder = tmp_path / "data" / "jobs" / job["id"]
    assert (folder / "photo-1.png").is_file() and (folder / "photo-2.png").is_file()


def test_unreadable_fields_and_bad_photo_sets_get_422_in_plain_words(tmp_path):
    two = [("a.png", HAMBURGER.read_bytes())] * 2
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        cases = [
            (post_job(client, base, height_mm="abc"), ["height_mm must be a number", "'abc'"]),
            (post_job(client, base, resolution="12.5"), ["resolution must be a whole number"]),
            (post_job(client, base, wall_loops="3"), ["unknown field 'wall_loops'"]),  # the old name
            (post_job(client, base, height_mm="-5"), ["height mm must be above 0 mm"]),  # the library's words
            (post_photos(client, base, two, views="front,sideways"), ["view 2", "sideways"]),
            (post_photos(client, base, two, views="front"), ["1 view for 2 photos"]),
            (post_photos(client, base, [("a.png", HAMBURGER.read_bytes())] * 9), ["1 to 8 photos, got 9"]),
        ]
        for response, words in cases:
            detail = response.json()["detail"]
            assert response.status_code == 422 and isinstance(detail, str), response.text
            assert all(w in detail for w in words), detail
            assert "{" not in detail and "Traceback" not in detail and "loc" not in detail, detail
        assert client.get(f"{base}/api/jobs").json() == []


@pytest.mark.slow  # aligns the photos in a worker
def test_photos_of_different_objects_fail_the_job_naming_the_photo(tmp_path):
    """Disagreement is found while building: the job fails, naming the photo, and writes no model."""
    import trimesh

    from fabricate.render import orbit_camera, render_mesh

    from test_multiview import box_with_cylinder

    def photo(vertices, faces, azimuth) -> bytes:
        camera = orbit_camera(vertices, -azimuth, 0.0, 256, fill=0.7)  # orbit_camera turns the other way
        render = render_mesh(vertices, faces, camera, np.full((len(faces), 3), 170, np.uint8), -camera.forward)
        buffer = io.BytesIO()
        Image.fromarray(render.rgba()).save(buffer, format="PNG")
        return buffer.getvalue()

    box = box_with_cylinder()
    pencil = trimesh.creation.cylinder(radius=0.08, height=1.4, sections=32)
    pencil.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]))
    photos = [(f"box_{a}.png", photo(*box, a)) for a in (0, 90, 180)]
    photos.append(("pencil.png", photo(np.asarray(pencil.vertices), np.asarray(pencil.faces), 270)))
    with live_server(tmp_path / "data") as base, httpx.Client(timeout=60) as client:
        created = post_photos(client, base, photos, views="front,left,back,right")
        assert created.status_code == 202, created.text
        job = wait_for_job(client, f"{base}/api/jobs/{created.json()['id']}")
        assert job["status"] == "failed" and job["error"].startswith("pencil.png"), job["error"]
        assert client.get(base + job["links"]["model.3mf"]).status_code == 409


@pytest.mark.slow  # builds a model
def test_a_job_stored_before_several_photos_still_builds(tmp_path):
    """A queued row from before jobs had several photos (no `photos` value, one `photo.png`) builds after a restart.

    tests/test_job_store.py shows such a store loads; this runs the worker on one.
    """
    import sqlite3

    store = JobStore(tmp_path)
    job = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "burger.png")],
                       {"printer": "bambu-a1", "resolution": 128, "height_mm": 40.0})
    folder = store.job_dir(job.id)
    (folder / "photo-1.png").rename(folder / "photo.png")
    with sqlite3.connect(store.db_path) as db:
        db.execute("UPDATE jobs SET photos = NULL, photo_file = 'photo.png' WHERE id = ?", (job.id,))
    assert JobStore(tmp_path).recover_after_restart() == [job.id]
    assert run_job(str(tmp_path), job.id) == "succeeded", store.get(job.id).error
    assert store.get(job.id).result["source_photos"] == ["burger.png"]


@pytest.mark.slow  # builds a model twice
def test_the_glb_is_baked_on_its_first_request_as_a_build_would_write_it(tmp_path):
    """A job keeps its coloured surface and bakes the GLB (and writes the STL) when first asked (the
    page previews the 3MF): each file then equals the one ``make --also glb,stl`` writes from the same
    photo and options."""
    from fabricate.jobs.assets import ASSET_SOURCE, result_file
    from fabricate.jobs.runner import build_files

    options = {"printer": "bambu-a1", "resolution": 128, "height_mm": 40.0}
    store = JobStore(tmp_path / "data")
    job = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "burger.png")], options)
    assert run_job(str(tmp_path / "data"), job.id) == "succeeded", store.get(job.id).error
    folder, job = store.job_dir(job.id), store.get(job.id)
    assert (folder / ASSET_SOURCE).is_file() and not (folder / "model.glb").exists()
    assert not (folder / "model.stl").exists()
    baked = result_file(store, job, "model.glb")
    assert baked == folder / "model.glb" and baked.is_file()
    assert result_file(store, job, "model.glb") == baked  # baked once
    build_files([HAMBURGER], options, tmp_path / "eager.3mf", also=("glb", "stl"))
    assert baked.read_bytes() == (tmp_path / "eager.glb").read_bytes()
    assert result_file(store, job, "model.stl").read_bytes() == (tmp_path / "eager.stl").read_bytes()
    glb = trimesh.load(baked, file_type="glb", force="mesh")
    assert glb.visual.kind == "texture"
    # A queued or failed job has no GLB to bake.
    queued = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "burger.png")], options)
    assert result_file(store, store.get(queued.id), "model.glb") is None


def test_the_colour_comparison_previews_are_made_on_their_first_request_from_what_the_job_kept(tmp_path):
    """With delighting (the default) a job keeps the comparison, not its two pictures: the photo's
    colouring made again from the kept samples is the one the build made."""
    from PIL import Image

    from fabricate.color.views import ColourComparison
    from fabricate.errors import InputError
    from fabricate.jobs.assets import COMPARISON_PREVIEW_PX, COMPARISON_SOURCE, result_file
    from fabricate.jobs.runner import build_files

    options = {"printer": "bambu-a1", "resolution": 128}
    store = JobStore(tmp_path / "data")
    job = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "burger.png")], options)
    assert run_job(str(tmp_path / "data"), job.id) == "succeeded", store.get(job.id).error
    folder, job = store.job_dir(job.id), store.get(job.id)
    assert (folder / COMPARISON_SOURCE).is_file() and not (folder / "preview-photo.png").exists()
    for name in ("preview-photo.png", "preview-delit.png"):
        made = result_file(store, job, name)
        assert made == folder / name and Image.open(made).size == (COMPARISON_PREVIEW_PX, COMPARISON_PREVIEW_PX)
    built = build_files([HAMBURGER], options, tmp_path / "x.3mf", preview=tmp_path / "x.png")
    kept = ColourComparison.from_npz((tmp_path / COMPARISON_SOURCE).read_bytes(), "the comparison")
    assert np.array_equal(kept.photo.face_colours, built.colour_comparison.photo.face_colours)
    assert np.array_equal(kept.delit.face_colours, built.colour_comparison.delit.face_colours)
    with pytest.raises(InputError, match="damaged"):
        ColourComparison.from_npz((tmp_path / COMPARISON_SOURCE).read_bytes()[:-100], "the comparison")
    # Without delighting there is nothing to compare.
    plain = store.create([PhotoFile(HAMBURGER.read_bytes(), "png", "burger.png")], {**options, "delight": "off"})
    assert run_job(str(tmp_path / "data"), plain.id) == "succeeded"
    assert result_file(store, store.get(plain.id), "preview-photo.png") is None
