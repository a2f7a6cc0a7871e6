"""Sharing to the generic hub and the hubs without an upload API, against local servers started by the test
(no real hub is reachable; the stand-ins are in tests/hub_servers.py)."""
import io
import time
import zipfile

import httpx
import pytest

from fabricate.errors import InputError
from fabricate.hub import MANUAL_HUBS, HubConfig, ManualHubAdapter, ModelPackage, ShareQueue, share

from conftest import SAMPLES, live_server, run_cli, wait_for_job
from hub_servers import TOKEN, FakeGenericHub


@pytest.fixture
def model(tmp_path):
    from fabricate.pipeline import MakeOptions, make_model, write_outputs

    result = make_model(SAMPLES[0], MakeOptions(printer="bambu-a1", resolution=128, height_mm=50))
    path = tmp_path / "model.3mf"
    write_outputs(result, path)
    preview = tmp_path / "preview.png"
    from fabricate.render import render_preview

    render_preview(result.mesh.vertices, result.mesh.faces, result.mesh.face_colours, 128).save(preview)
    return path, preview


@pytest.mark.slow  # builds a model
def test_upload_retries_503_then_succeeds(model, tmp_path):
    hub = FakeGenericHub(fail={"POST /api/v1/models": 2})
    path, preview = model
    package = ModelPackage(title="Burger", model_path=path, preview_path=preview, description="Tasty",
                           licence="CC-BY-SA-4.0", tags=["food", "burger"], printer="bambu-a1")
    status = share("generic", package, tmp_path / "d", config=HubConfig(hub.url, TOKEN, backoff_s=0.01))
    assert status.state == "done" and status.link == "https://hub.example/models/1", status.error
    assert len(hub.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in hub.requests}
    assert len(keys) == 1  # one upload, retried: the same idempotency key each time
    final = hub.requests[-1]
    assert final["path"] == "/api/v1/models" and final["headers"]["Authorization"] == f"Bearer {TOKEN}"
    (uploaded,) = hub.models
    metadata = uploaded["metadata"]
    assert metadata["title"] == "Burger" and metadata["licence"] == "CC-BY-SA-4.0"
    assert metadata["tags"] == ["food", "burger"] and metadata["ai_generated"] is True
    assert uploaded["parts"]["model"][1] == path.read_bytes()
    assert uploaded["parts"]["preview"] == ("preview.png", preview.read_bytes())
    assert path.exists()


def test_refusal_and_exhausted_retries(tmp_path):
    path = tmp_path / "model.3mf"
    path.write_bytes(b"stand-in 3mf")
    package = ModelPackage(title="Burger", model_path=path)
    refusing = FakeGenericHub()
    status = share("generic", package, tmp_path / "d", config=HubConfig(refusing.url, "wrong", backoff_s=0.01))
    assert status.state == "failed" and "401" in status.error and len(refusing.requests) == 1
    hub = FakeGenericHub(fail={"POST /api/v1/models": 10})
    status = share("generic", package, tmp_path / "d", config=HubConfig(hub.url, TOKEN, attempts=3, backoff_s=0.01))
    assert status.state == "waiting" and "after 3 attempts" in status.error  # tried again later, from the queue
    assert len(hub.requests) == 3
    status = share("generic", package, tmp_path / "d",  # nothing listening: connection errors retried
                   config=HubConfig("http://127.0.0.1:9", TOKEN, attempts=2, backoff_s=0.01, timeout_s=2))
    assert status.state == "waiting" and "after 2 attempts" in status.error
    assert [s.hub for s in ShareQueue(tmp_path / "d").status()] == ["generic"] * 3
    assert path.exists()


@pytest.mark.slow  # builds a model
def test_package_validation(model):
    path, _ = model
    with pytest.raises(InputError, match="licence"):
        ModelPackage(title="x", model_path=path, licence="all-rights-mine").validate()
    with pytest.raises(InputError, match="title"):
        ModelPackage(title=" ", model_path=path).validate()


@pytest.mark.slow  # builds a model
def test_manual_adapter_prepares_a_zip(model, tmp_path):
    path, preview = model
    url = ManualHubAdapter("printables", tmp_path / "out").upload(
        ModelPackage(title="Burger", model_path=path, preview_path=preview))
    assert url.startswith("https://www.printables.com/")
    bundle = zipfile.ZipFile(next((tmp_path / "out").glob("*.zip")))
    assert {"model.3mf", "preview.png", "metadata.json", "README.txt"} <= set(bundle.namelist())


@pytest.mark.slow  # builds a model
def test_cli_share(model, monkeypatch, tmp_path):
    hub = FakeGenericHub(fail={"POST /api/v1/models": 1})
    path, _ = model
    monkeypatch.setenv("FABRICATE_HUB_URL", hub.url)
    monkeypatch.setenv("FABRICATE_HUB_TOKEN", TOKEN)
    result = run_cli("share", path, "--title", "Burger", "--tag", "food", "--data-dir", tmp_path / "d")
    # backoff 1 s once: still quick
    assert result.returncode == 0, result.stderr
    assert "https://hub.example/models/1" in result.stdout
    listing = run_cli("share", "--status", "--data-dir", tmp_path / "d")
    assert "generic" in listing.stdout and "done" in listing.stdout and "https://hub.example/models/1" in listing.stdout


@pytest.mark.slow  # builds a model in a worker
def test_share_from_the_web_app(tmp_path):
    hub = FakeGenericHub(fail={"POST /api/v1/models": 2})
    config = HubConfig(hub.url, TOKEN, backoff_s=0.01)
    with live_server(tmp_path / "data", hub_config=config) as base, httpx.Client(timeout=60) as client:
        with open(SAMPLES[0], "rb") as handle:
            job = client.post(f"{base}/api/jobs", data={"printer": "bambu-a1", "resolution": "128"},
                              files={"photo": ("p.png", handle, "image/png")}).json()
        wait_for_job(client, f"{base}/api/jobs/{job['id']}")
        shared = client.post(f"{base}/api/jobs/{job['id']}/share",
                             json={"title": "Burger", "licence": "CC0-1.0", "tags": ["food"]})
        assert shared.status_code == 200, shared.text
        assert shared.json()["share_url"] == "https://hub.example/models/1" and shared.json()["share_id"]
        assert client.get(f"{base}/api/jobs/{job['id']}").json()["share_url"] == "https://hub.example/models/1"
        assert hub.models[0]["metadata"]["source_photo"] == "p.png"
        (listed,) = client.get(f"{base}/api/jobs/{job['id']}/share/status").json()
        assert (listed["hub"], listed["state"], listed["id"]) == ("generic", "done", shared.json()["share_id"])


def test_an_unsupported_hub_url_or_setting_is_refused_at_once_never_retried(tmp_path, monkeypatch):
    for url in ("ftp://hub.example", "file:///etc", "hub.example", "https://"):
        with pytest.raises(InputError, match="not an http:// or https:// address"):
            HubConfig(url, TOKEN)
    with pytest.raises(InputError, match="timeout_s"):
        HubConfig("https://hub.example", TOKEN, timeout_s=float("nan"))
    with pytest.raises(InputError, match="attempts"):
        HubConfig("https://hub.example", TOKEN, attempts=0)
    settings = tmp_path / "hub.toml"
    settings.write_text('base_url = "https://hub.example"\ntoken = "t"\nattempts = "many"\n')
    with pytest.raises(InputError, match="not a number"):
        HubConfig.load(environ={}, path=settings)
    # From the command line: exit 2 with one line, at once.
    model, preview = tmp_path / "m.3mf", tmp_path / "m.png"
    model.write_bytes(b"3mf")
    preview.write_bytes(b"png")
    monkeypatch.setenv("FABRICATE_HUB_URL", "ftp://hub.example")
    monkeypatch.setenv("FABRICATE_HUB_TOKEN", TOKEN)
    started = time.perf_counter()
    result = run_cli("share", model, "--title", "T", "--preview", preview)
    assert result.returncode == 2 and "ftp://hub.example" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and time.perf_counter() - started < 20


def succeeded_job(data_dir):
    """A job the store records as built, with stand-in files (no pipeline runs)."""
    from fabricate.jobs import JobStore
    from fabricate.jobs.store import PhotoFile

    store = JobStore(data_dir)
    job = store.create([PhotoFile(SAMPLES[0].read_bytes(), "png", "burger.png")], {"printer": "bambu-a1"})
    store.mark_running(job.id)
    folder = store.job_dir(job.id)
    (folder / "model.3mf").write_bytes(b"stand-in 3mf")
    (folder / "preview.png").write_bytes(SAMPLES[0].read_bytes())
    store.finish(job.id, {}, {})
    return job.id


@pytest.mark.parametrize("hub", sorted(MANUAL_HUBS))
def test_sharing_to_a_hub_without_an_api_never_reveals_the_servers_folders(tmp_path, hub):
    data = tmp_path / "data"
    job_id = succeeded_job(data)
    with live_server(data) as base, httpx.Client(timeout=60) as client:
        shared = client.post(f"{base}/api/jobs/{job_id}/share", json={"title": "Burger", "hub": hub})
        assert shared.status_code == 200, shared.text
        body = shared.json()
        assert body["share_url"].startswith(MANUAL_HUBS[hub])
        assert str(tmp_path) not in shared.text and "/jobs/" + job_id + "/" not in body["share_url"]
        package = client.get(base + body["package_url"])
        assert package.status_code == 200 and package.headers["content-type"] == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(package.content)).namelist()
        assert {"model.3mf", "preview.png", "metadata.json", "README.txt"} <= set(names)
        assert client.get(f"{base}/api/jobs/{job_id}/share/generic.zip").status_code == 404
    # The command line names the zip it wrote beside the model, without the folder either.
    model = tmp_path / "model.3mf"
    model.write_bytes(b"stand-in 3mf")
    url = ManualHubAdapter(hub, tmp_path).upload(ModelPackage(title="Burger", model_path=model))
    assert url == f"{MANUAL_HUBS[hub]}#package=model-{hub}-upload.zip"
    assert (tmp_path / f"model-{hub}-upload.zip").is_file()


def test_each_hub_with_an_adapter_has_its_own_settings_and_the_token_never_shows(tmp_path):
    settings = tmp_path / "hub.toml"
    settings.write_text('base_url = "https://hub.example"\ntoken = "generic-t"\n'
                        '[thingiverse]\ntoken = "tv-t"\nattempts = 2\n[sketchfab]\nbase_url = "http://127.0.0.1:1/v3"\n')
    thingiverse = HubConfig.load(environ={}, path=settings, hub="thingiverse")
    assert thingiverse.base_url == "https://api.thingiverse.com" and thingiverse.token == "tv-t"
    assert thingiverse.attempts == 2 and "tv-t" not in repr(thingiverse)
    assert HubConfig.load(environ={}, path=settings).token == "generic-t"
    sketchfab = HubConfig.load(environ={"FABRICATE_SKETCHFAB_TOKEN": "sf-t"}, path=settings, hub="sketchfab")
    assert sketchfab.base_url == "http://127.0.0.1:1/v3" and sketchfab.token == "sf-t"


def test_the_hubs_on_offer_say_what_each_needs_and_whether_it_is_set_up(tmp_path, monkeypatch):
    from fabricate.hub import PROFILES

    for name in ("HUB", "THINGIVERSE", "SKETCHFAB"):
        monkeypatch.delenv(f"FABRICATE_{name}_URL", raising=False)
        monkeypatch.delenv(f"FABRICATE_{name}_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FABRICATE_THINGIVERSE_TOKEN", TOKEN)
    data = tmp_path / "data"
    job_id = succeeded_job(data)
    with live_server(data) as base, httpx.Client(timeout=60) as client:
        answer = client.get(f"{base}/api/hubs")
        assert answer.status_code == 200 and TOKEN not in answer.text
        hubs = {hub["name"]: hub for hub in answer.json()}
        assert list(hubs) == list(PROFILES) == ["generic", "printables", "makerworld", "thingiverse", "sketchfab"]
        assert {name: hub["configured"] for name, hub in hubs.items()} == {
            "generic": False, "printables": True, "makerworld": True, "thingiverse": True, "sketchfab": False}
        licences = {name: [licence["id"] for licence in hub["licences"]] for name, hub in hubs.items()}
        assert "MIT" not in licences["thingiverse"] and "GPL-3.0" in licences["thingiverse"]
        assert "GPL-3.0" not in licences["sketchfab"] and "GPL-3.0" not in licences["makerworld"]
        assert hubs["sketchfab"]["max_tags"] == 42 and hubs["sketchfab"]["slug_tags"] is True
        assert all(hubs[name]["drafts"] for name in ("thingiverse", "sketchfab"))
        for name in ("generic", "thingiverse", "sketchfab"):  # where the token goes, in words beside the variable
            assert "hub.toml" in hubs[name]["needs"] and "config folder" in hubs[name]["needs"]
        assert "keyring" in hubs["thingiverse"]["needs"] and "no public upload API" in hubs["printables"]["needs"]
        # A hub without an API is refused a licence it does not have too, before anything is written.
        refused = client.post(f"{base}/api/jobs/{job_id}/share",
                              json={"title": "B", "hub": "makerworld", "licence": "GPL-3.0"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"].startswith("MakerWorld does not offer the licence GPL-3.0; it offers CC-BY-4.0")
        assert client.get(f"{base}/api/jobs/{job_id}/share/makerworld.zip").status_code == 404
        unknown = client.post(f"{base}/api/jobs/{job_id}/share", json={"title": "B", "hub": "myspace"})
        assert unknown.status_code == 400 and "choose one of generic, printables" in unknown.json()["detail"]
