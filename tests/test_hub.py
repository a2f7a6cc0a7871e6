"""The hub client against a local HTTP server started by the test (no real hub is reachable)."""
import email.parser
import email.policy
import io
import json
import time
import zipfile

import httpx
import pytest

from fabricate.hub import MANUAL_HUBS, HttpHubClient, HubConfig, HubError, ManualHubAdapter, ModelPackage
from fabricate.errors import InputError

from conftest import SAMPLES, QuietHandler, live_server, run_cli, serve_in_background, wait_for_job


TOKEN = "secret-token-123"


class FakeHub:
    """Answers 503 to the first ``failures`` uploads, then 201; records and checks every request."""

    def __init__(self, failures=2, status_after=201):
        self.failures, self.status_after = failures, status_after
        self.requests = []
        hub = self

        class Handler(QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hub.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if len(hub.requests) <= hub.failures:
                    self._answer(503, {"detail": "busy"})
                    return
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._answer(401, {"detail": "bad token"})
                    return
                self._answer(hub.status_after, {"url": "https://hub.example/models/42", "id": 42})

            def _answer(self, status, payload):
                self.send_body(status, json.dumps(payload).encode())

        self.url, self.server = serve_in_background(Handler)

    def parts(self, index=-1):
        request = self.requests[index]
        message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
            f"Content-Type: {request['headers']['Content-Type']}\r\n\r\n".encode() + request["body"])
        return {part.get_param("name", header="content-disposition"): part for part in message.iter_parts()}


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
def test_upload_retries_503_then_succeeds(model):
    hub = FakeHub(failures=2)
    path, preview = model
    package = ModelPackage(title="Burger", model_path=path, preview_path=preview, description="Tasty",
                           licence="CC-BY-SA-4.0", tags=["food", "burger"], printer="bambu-a1")
    client = HttpHubClient(HubConfig(hub.url, TOKEN, backoff_s=0.01))
    assert client.upload(package) == "https://hub.example/models/42"
    assert len(hub.requests) == 3
    keys = {r["headers"]["Idempotency-Key"] for r in hub.requests}
    assert len(keys) == 1  # one upload, retried: the same idempotency key each time
    final = hub.requests[-1]
    assert final["path"] == "/api/v1/models" and final["headers"]["Authorization"] == f"Bearer {TOKEN}"
    parts = hub.parts()
    metadata = json.loads(parts["metadata"].get_content())
    assert metadata["title"] == "Burger" and metadata["licence"] == "CC-BY-SA-4.0"
    assert metadata["tags"] == ["food", "burger"] and metadata["ai_generated"] is True
    assert parts["model"].get_payload(decode=True) == path.read_bytes()
    assert parts["preview"].get_content_type() == "image/png"
    assert path.exists()


@pytest.mark.slow  # builds a model
def test_refusal_and_exhausted_retries(model):
    path, preview = model
    package = ModelPackage(title="Burger", model_path=path, preview_path=preview)
    with pytest.raises(HubError, match="401"):
        HttpHubClient(HubConfig(FakeHub(failures=0).url, "wrong", backoff_s=0.01)).upload(package)
    hub = FakeHub(failures=10)
    with pytest.raises(HubError, match="after 3 attempts"):
        HttpHubClient(HubConfig(hub.url, TOKEN, attempts=3, backoff_s=0.01)).upload(package)
    assert len(hub.requests) == 3
    with pytest.raises(HubError, match="after 2 attempts"):  # nothing listening: connection errors retried
        HttpHubClient(HubConfig("http://127.0.0.1:9", TOKEN, attempts=2, backoff_s=0.01, timeout_s=2)).upload(package)
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
def test_cli_share(model, monkeypatch):
    hub = FakeHub(failures=1)
    path, _ = model
    monkeypatch.setenv("FABRICATE_HUB_URL", hub.url)
    monkeypatch.setenv("FABRICATE_HUB_TOKEN", TOKEN)
    result = run_cli("share", path, "--title", "Burger", "--tag", "food")
    # backoff 1 s once: still quick
    assert result.returncode == 0, result.stderr
    assert "https://hub.example/models/42" in result.stdout


@pytest.mark.slow  # builds a model in a worker
def test_share_from_the_web_app(tmp_path):
    hub = FakeHub(failures=2)
    config = HubConfig(hub.url, TOKEN, backoff_s=0.01)
    with live_server(tmp_path / "data", hub_config=config) as base, httpx.Client(timeout=60) as client:
        with open(SAMPLES[0], "rb") as handle:
            job = client.post(f"{base}/api/jobs", data={"printer": "bambu-a1", "resolution": "128"},
                              files={"photo": ("p.png", handle, "image/png")}).json()
        wait_for_job(client, f"{base}/api/jobs/{job['id']}")
        shared = client.post(f"{base}/api/jobs/{job['id']}/share",
                             json={"title": "Burger", "licence": "CC0-1.0", "tags": ["food"]})
        assert shared.status_code == 200, shared.text
        assert shared.json()["share_url"] == "https://hub.example/models/42"
        assert client.get(f"{base}/api/jobs/{job['id']}").json()["share_url"] == "https://hub.example/models/42"
        assert json.loads(hub.parts()["metadata"].get_content())["source_photo"] == "p.png"


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
