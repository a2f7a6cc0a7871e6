"""Thingiverse, Sketchfab and generic-hub adapters and the share queue, against local stand-ins for the real hubs.

No real hub is reachable from the tests. The stand-ins are in tests/hub_servers.py, each naming the document
it follows: ``FakeThingiverse`` Thingiverse's upload guide, ``FakeSketchfab`` Sketchfab's Data API v3 upload
sample, ``FakeGenericHub`` fabricate's own protocol. Each checks the token on every API request.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fabricate.errors import InputError
from fabricate.hub import HubConfig, ModelPackage, ShareQueue, hub_adapter, share
from fabricate.hub.profiles import AI_DISCLOSURE

from conftest import ROOT, SAMPLES
from hub_servers import TOKEN, FakeGenericHub, FakeSketchfab, FakeThingiverse


@pytest.fixture
def hubs():
    made = []

    def make(kind, **options):
        made.append(kind(**options))
        return made[-1]

    yield make
    for hub in made:
        hub.close()


@pytest.fixture
def files(tmp_path):
    model, glb = tmp_path / "burger.3mf", tmp_path / "burger.glb"
    model.write_bytes(b"stand-in 3mf " * 100)
    glb.write_bytes(b"glTF stand-in")
    cover, extra = tmp_path / "burger.preview.png", tmp_path / "side.png"
    cover.write_bytes(SAMPLES[0].read_bytes())
    extra.write_bytes(SAMPLES[-1].read_bytes())
    return {"model": model, "glb": glb, "cover": cover, "extra": extra}


def package(files, **overrides):
    values = dict(title="Burger", model_path=files["model"], preview_path=files["cover"], images=[files["extra"]],
                  description="A **tasty** burger. See [the guide](https://example.com/guide).",
                  licence="CC-BY-SA-4.0", tags=["food", "Burger Bun", "food"], printer="Bambu Lab A1",
                  print_settings={"layer height": "0.2 mm", "infill": "15 %"}, category="Food",
                  glb_path=files["glb"])
    values.update(overrides)
    return ModelPackage(**values)


def config(hub, token=TOKEN, **options):
    base = hub.url + ("/v3" if isinstance(hub, FakeSketchfab) else "")
    return HubConfig(base, token, backoff_s=0.01, timeout_s=10, **options)


def assert_no_token(data_dir, *texts):
    for path in Path(data_dir).rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    for text in texts:
        assert TOKEN not in text


def test_full_thingiverse_upload_as_a_draft(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse)
    status = share("thingiverse", package(files), tmp_path / "data", config=config(hub))
    assert status.state == "done", status.error
    (thing,) = hub.things.values()
    assert status.link == thing["public_url"] and status.steps_done == status.steps_total == 1 + 3 * 3
    assert thing["name"] == "Burger" and thing["license"] == "cc-sa" and thing["category"] == "Food"
    assert thing["tags"] == ["food", "Burger Bun"] and thing["is_wip"] is True and thing["is_published"] is False
    assert thing["description"].startswith(f"> {AI_DISCLOSURE}") and "A **tasty** burger" in thing["description"]
    assert "- Printer: Bambu Lab A1" in thing["description"] and "- layer height: 0.2 mm" in thing["instructions"]
    assert [f["name"] for f in thing["files"]] == ["burger.3mf"]
    assert [i["name"] for i in thing["images"]] == ["burger.preview.png", "side.png"]  # the cover first
    stored = {slot["filename"]: slot["stored"] for slot in hub.slots.values()}
    assert stored["burger.3mf"] == files["model"].read_bytes() and stored["side.png"] == files["extra"].read_bytes()
    storage = [r for r in hub.requests if r["path"] == "/storage"]
    assert len(storage) == 3 and all("Authorization" not in r["headers"] for r in storage)  # never the token
    assert hub.count("POST", "/things/1000/publish") == 0
    api_writes = [r for r in hub.requests if r["method"] == "POST" and r["path"] != "/storage"]
    assert len({r["headers"]["Idempotency-Key"] for r in api_writes}) == len(api_writes)  # one key per step
    assert_no_token(tmp_path / "data", *(s.line() for s in ShareQueue(tmp_path / "data").status()))


def test_full_sketchfab_upload(hubs, files, tmp_path):
    hub = hubs(FakeSketchfab)
    status = share("sketchfab", package(files, title="A burger with a very long name that Sketchfab cuts short"),
                   tmp_path / "data", config=config(hub), private=True)
    assert status.state == "done", status.error
    ((uid, model),) = hub.models.items()
    assert status.link == f"https://sketchfab.com/models/{uid}"
    fields = model["fields"]
    assert fields["license"] == ["by-sa"] and fields["tags"] == ["food", "burger-bun"]
    assert fields["isPublished"] == ["false"] and fields["private"] == ["true"] and fields["isInspectable"] == ["true"]
    assert len(fields["name"][0]) <= 48 and fields["name"][0].endswith("…")
    description = fields["description"][0]
    assert description.startswith(AI_DISCLOSURE) and "**" not in description and "#" not in description
    assert "the guide (https://example.com/guide)" in description and "Printer: Bambu Lab A1" in description
    assert model["file"] == ("burger.glb", files["glb"].read_bytes())
    assert_no_token(tmp_path / "data")


@pytest.mark.parametrize("kind", [FakeThingiverse, FakeSketchfab])
def test_503_twice_then_success(hubs, files, tmp_path, kind):
    create = "POST /things" if kind is FakeThingiverse else "POST /v3/models"
    hub = hubs(kind, fail={create: 2})
    status = share("thingiverse" if kind is FakeThingiverse else "sketchfab", package(files), tmp_path / "d",
                   config=config(hub), publish=True)
    assert status.state == "done", status.error
    assert hub.count("POST", create.split()[1]) - (hub.count("POST", "/things/") if kind is FakeThingiverse else 0) == 3
    things = hub.things if kind is FakeThingiverse else hub.models
    assert len(things) == 1  # a 503 means the hub did nothing: sent again, one thing
    if kind is FakeSketchfab:
        assert next(iter(hub.models.values()))["fields"]["isPublished"] == ["true"]
    else:
        assert next(iter(hub.things.values()))["is_published"] is True


def test_a_bad_token_is_a_clear_401_never_retried(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse)
    status = share("thingiverse", package(files), tmp_path / "d", config=config(hub, token="wrong-token"))
    assert status.state == "failed" and "refused the token (401 Unauthorized)" in status.error
    assert "FABRICATE_THINGIVERSE_TOKEN" in status.error and "wrong-token" not in status.error
    assert len(hub.requests) == 1
    assert ShareQueue(tmp_path / "d").due() == []  # failed for good: nothing comes back to retry it
    sketchfab = hubs(FakeSketchfab)
    status = share("sketchfab", package(files), tmp_path / "d", config=config(sketchfab, token="wrong-token"))
    assert status.state == "failed" and "401" in status.error and len(sketchfab.requests) == 1


def test_an_unsupported_licence_is_refused_before_any_request(hubs, files, tmp_path):
    thingiverse, sketchfab = hubs(FakeThingiverse), hubs(FakeSketchfab)
    with pytest.raises(InputError, match="Thingiverse does not offer the licence MIT; it offers CC-BY-4.0, .*GPL-3.0"):
        share("thingiverse", package(files, licence="MIT"), tmp_path / "d", config=config(thingiverse))
    with pytest.raises(InputError, match="Sketchfab does not offer the licence GPL-3.0; it offers .*CC0-1.0"):
        share("sketchfab", package(files, licence="GPL-3.0"), tmp_path / "d", config=config(sketchfab))
    assert thingiverse.requests == [] and sketchfab.requests == []
    assert ShareQueue(tmp_path / "d").status() == []


def test_a_lost_answer_is_rechecked_never_sent_twice(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse, hang="POST /files/1/finalize")
    hub.release.set()  # drop at once: the finalisation happened, its answer is lost
    status = share("thingiverse", package(files), tmp_path / "d", config=config(hub))
    assert status.state == "done", status.error
    (thing,) = hub.things.values()
    assert [f["name"] for f in thing["files"]] == ["burger.3mf"] and hub.count("POST", "/files/1/finalize") == 1


def test_a_lost_create_is_never_mistaken_for_an_older_thing_of_the_same_name(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse, hang="POST /things")
    hub.things[999] = {"id": 999, "name": "Burger", "is_published": True, "is_wip": False, "files": [], "images": [],
                       "public_url": "https://www.thingiverse.com/thing:999"}
    hub.release.set()
    status = share("thingiverse", package(files), tmp_path / "d", config=config(hub))
    assert status.state == "done" and status.link == "https://www.thingiverse.com/thing:1001", status.error
    assert hub.things[999]["files"] == [] and [f["name"] for f in hub.things[1001]["files"]] == ["burger.3mf"]
    assert len(hub.things) == 2


def test_retries_across_restarts_back_off(hubs, files, tmp_path):
    hub = hubs(FakeSketchfab, fail={"POST /v3/models": 100})
    status = share("sketchfab", package(files), tmp_path / "d", config=config(hub, attempts=2))
    assert status.state == "waiting" and "after 2 attempts" in status.error and status.next_attempt_at > time.time()
    assert ShareQueue(tmp_path / "d").due() == []  # not before its time
    hub.fail.clear()
    later = ShareQueue(tmp_path / "d", now=lambda: time.time() + 7200)
    (share_id,) = later.due()
    done = later.run(share_id, hub_adapter("sketchfab", config(hub)))
    assert done.state == "done" and len(hub.models) == 1


def cli(*args, env):
    return subprocess.Popen([sys.executable, "-m", "fabricate.cli", "share", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("publish", [True, False])
@pytest.mark.parametrize("hang", ["POST /things", "POST /files/1/finalize"])
def test_killed_mid_share_then_restarted_resumes_without_duplicates(hubs, files, tmp_path, publish, hang):
    """The connection drops after the hub acted (the thing created, or the 3MF finalised), the process is
    killed, and a new process resumes: one thing, each file once, published only if asked."""
    hub = hubs(FakeThingiverse, hang=hang)
    settings = tmp_path / "config" / "fabricate" / "hub.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(f'[thingiverse]\nbase_url = "{hub.url}"\nbackoff_s = 0.01\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "FABRICATE_THINGIVERSE_TOKEN": TOKEN}
    data = tmp_path / "data"
    first = cli(files["model"], "--hub", "thingiverse", "--title", "Burger", "--preview", files["cover"],
                "--licence", "CC0-1.0", "--tag", "food", "--data-dir", data, *(["--publish"] if publish else []),
                env=env)
    assert hub.acted.wait(60), first.communicate(timeout=5)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    with sqlite3.connect(data / "shares.sqlite") as db:
        assert ("sent",) in db.execute("SELECT state FROM steps").fetchall()  # outcome unknown when killed
    hub.release.set()
    second = cli("--resume", "--data-dir", data, env=env)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    (thing,) = hub.things.values()
    assert thing["public_url"] in out and thing["license"] == "pd0"
    assert [f["name"] for f in thing["files"]] == ["burger.3mf"]
    assert [i["name"] for i in thing["images"]] == ["burger.preview.png"]
    assert hub.count("POST", "/things") - hub.count("POST", "/things/") == 1
    # The restart asked the hub about the step whose answer was lost, rather than sending it again.
    # (once before the first send, to tell an older thing of the same name apart; once more after the loss)
    assert hub.count("GET", "/users/me/things") == (2 if hang == "POST /things" else 1)
    assert hub.count("GET", "/things/1000/files") == (0 if hang == "POST /things" else 1)
    assert thing["is_published"] is publish and thing["is_wip"] is (not publish)
    status = cli("--status", "--data-dir", data, env=env)
    listing, _ = status.communicate(timeout=60)
    assert "done" in listing and thing["public_url"] in listing
    assert_no_token(data, out, err, listing)


def test_cli_refuses_a_licence_and_a_missing_token_in_one_line(files, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "none"),
           "FABRICATE_SKETCHFAB_URL": "http://127.0.0.1:9", "FABRICATE_SKETCHFAB_TOKEN": TOKEN}
    args = (files["model"], "--hub", "sketchfab", "--title", "B", "--preview", files["cover"], "--data-dir", tmp_path)
    out, err = (proc := cli(*args, "--licence", "MIT", env=env)).communicate(timeout=60)
    assert proc.returncode == 2 and "Sketchfab does not offer the licence MIT" in err and len(err.splitlines()) == 1
    env.pop("FABRICATE_SKETCHFAB_TOKEN")
    out, err = (proc := cli(*args, env={**env, "FABRICATE_THINGIVERSE_TOKEN": TOKEN})).communicate(timeout=60)
    assert proc.returncode == 2 and "no token for Sketchfab" in err, err


def test_share_from_the_web_app_to_thingiverse_and_sketchfab(hubs, tmp_path, monkeypatch):
    import httpx

    from conftest import live_server
    from test_hub import succeeded_job

    thingiverse, sketchfab = hubs(FakeThingiverse), hubs(FakeSketchfab)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name, hub in (("THINGIVERSE", thingiverse), ("SKETCHFAB", sketchfab)):
        monkeypatch.setenv(f"FABRICATE_{name}_URL", hub.url + ("/v3" if hub is sketchfab else ""))
        monkeypatch.setenv(f"FABRICATE_{name}_TOKEN", TOKEN)
    data = tmp_path / "data"
    job_id = succeeded_job(data)
    (data / "jobs" / job_id / "model.glb").write_bytes(b"glTF stand-in")
    with live_server(data) as base, httpx.Client(timeout=60) as client:
        shared = client.post(f"{base}/api/jobs/{job_id}/share",
                             json={"title": "Burger", "licence": "CC-BY-4.0", "tags": ["food"], "hub": "thingiverse"})
        assert shared.status_code == 200, shared.text
        (thing,) = thingiverse.things.values()
        assert shared.json()["share_url"] == thing["public_url"] and thing["is_published"] is False
        assert [f["name"] for f in thing["files"]] == ["model.3mf"] and "Printer: bambu-a1" in thing["description"]
        shared = client.post(f"{base}/api/jobs/{job_id}/share", json={"title": "Burger", "hub": "sketchfab"})
        assert shared.status_code == 200, shared.text
        (uid,) = sketchfab.models
        assert shared.json()["share_url"] == f"https://sketchfab.com/models/{uid}"
        refused = client.post(f"{base}/api/jobs/{job_id}/share", json={"title": "B", "licence": "MIT",
                                                                       "hub": "sketchfab"})
        assert refused.status_code == 400 and "Sketchfab does not offer the licence MIT" in refused.text
        shares = client.get(f"{base}/api/jobs/{job_id}/share/status").json()
        assert [(s["hub"], s["state"], s["link"]) for s in shares] == [
            ("sketchfab", "done", f"https://sketchfab.com/models/{uid}"), ("thingiverse", "done", thing["public_url"])]
        assert shares[1]["steps_done"] == shares[1]["steps_total"] == 1 + 3 * 2
    assert len(sketchfab.models) == 1
    assert [s.state for s in ShareQueue(data).status()] == ["done", "done"]
    assert_no_token(data)


def test_cli_a_bad_token_fails_in_one_line_and_is_not_retried(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "none"),
           "FABRICATE_THINGIVERSE_URL": hub.url, "FABRICATE_THINGIVERSE_TOKEN": "not-the-token"}
    proc = cli(files["model"], "--hub", "thingiverse", "--title", "B", "--preview", files["cover"],
               "--data-dir", tmp_path / "d", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err  # the user must act: exit 2
    assert "refused the token (401 Unauthorized)" in err and "not-the-token" not in err + out
    assert len(hub.requests) == 1
    listing, _ = cli("--status", "--data-dir", tmp_path / "d", env=env).communicate(timeout=60)
    assert "failed" in listing and "401" in listing


# ---------------------------------------------------------------- the generic hub goes through the queue too


def test_a_generic_share_is_a_queued_record_retried_with_one_key(hubs, files, tmp_path):
    hub = hubs(FakeGenericHub, fail={"POST /api/v1/models": 2})
    status = share("generic", package(files), tmp_path / "d", config=config(hub))
    assert status.state == "done" and status.link == "https://hub.example/models/1", status.error
    assert status.steps == [{"name": "model", "state": "done"}] and status.steps_done == status.steps_total == 1
    assert len(hub.requests) == 3 and len({r["headers"]["Idempotency-Key"] for r in hub.requests}) == 1
    (model,) = hub.models
    assert model["metadata"]["licence"] == "CC-BY-SA-4.0" and model["metadata"]["ai_generated"] is True
    assert model["parts"]["model"] == ("burger.3mf", files["model"].read_bytes())
    assert model["parts"]["preview"][1] == files["cover"].read_bytes()
    (listed,) = ShareQueue(tmp_path / "d").status()
    assert (listed.hub, listed.state, listed.link) == ("generic", "done", status.link)
    assert_no_token(tmp_path / "d")


def test_a_generic_share_killed_mid_upload_resumes_with_the_same_key_and_shows_in_status(hubs, files, tmp_path):
    """The hub acts on the upload, the answer is lost, the process is killed; `--resume` sends it again with the
    step's stored Idempotency-Key, which the hub drops: one model, and `--status` lists the share done."""
    hub = hubs(FakeGenericHub, hang="POST /api/v1/models")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "FABRICATE_HUB_URL": hub.url, "FABRICATE_HUB_TOKEN": TOKEN}
    data = tmp_path / "data"
    first = cli(files["model"], "--title", "Burger", "--preview", files["cover"], "--data-dir", data, env=env)
    assert hub.acted.wait(60), first.communicate(timeout=5)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    listing, _ = cli("--status", "--data-dir", data, env=env).communicate(timeout=60)
    assert "generic" in listing and "0/1 steps" in listing, listing  # recorded, its one step's outcome unknown
    hub.release.set()
    out, err = (second := cli("--resume", "--data-dir", data, env=env)).communicate(timeout=120)
    assert second.returncode == 0, err
    assert len(hub.models) == 1 and "https://hub.example/models/1" in out
    assert len({r["headers"]["Idempotency-Key"] for r in hub.requests}) == 1 and len(hub.requests) == 2
    listing, _ = cli("--status", "--data-dir", data, env=env).communicate(timeout=60)
    assert "done" in listing and "1/1 steps" in listing and "https://hub.example/models/1" in listing
    assert_no_token(data, out, err, listing)


# ---------------------------------------------------------------- a hub answer without a field its API documents


@pytest.mark.parametrize("hub_name, kind, omit, field", [
    ("thingiverse", FakeThingiverse, {"POST /things/1000/files": "action"}, "action"),
    ("thingiverse", FakeThingiverse, {"POST /things": "id"}, "id"),
    ("generic", FakeGenericHub, {"POST /api/v1/models": "url"}, "url"),
])
def test_a_hub_answer_missing_a_field_fails_the_share_clearly_and_sends_nothing_more(hubs, files, tmp_path,
                                                                                     hub_name, kind, omit, field):
    hub = hubs(kind, omit=omit)
    status = share(hub_name, package(files), tmp_path / "d", config=config(hub))
    assert status.state == "failed", status
    assert f"without the {field!r} field its API documents; nothing more was sent" in status.error
    last = hub.requests[-1]
    assert f"{last['method']} {last['path']}".startswith(next(iter(omit)))  # the request it answered was the last
    assert hub.count("POST", "/storage") == 0
    assert ShareQueue(tmp_path / "d").due() == []  # failed for good: retrying would not change the answer


def test_a_hub_answer_missing_a_field_is_one_line_exit_2_on_the_cli(hubs, files, tmp_path):
    hub = hubs(FakeThingiverse, omit={"POST /things/1000/files": "fields"})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "none"),
           "FABRICATE_THINGIVERSE_URL": hub.url, "FABRICATE_THINGIVERSE_TOKEN": TOKEN}
    out, err = (proc := cli(files["model"], "--hub", "thingiverse", "--title", "B", "--preview", files["cover"],
                            "--data-dir", tmp_path / "d", env=env)).communicate(timeout=60)
    assert proc.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "Thingiverse answered the upload request for burger.3mf without the 'fields' field" in err
    assert "Traceback" not in err and TOKEN not in out + err


def test_a_hub_answer_missing_a_field_is_a_502_with_a_json_detail(hubs, tmp_path, monkeypatch):
    import httpx

    from conftest import live_server
    from test_hub import succeeded_job

    hub = hubs(FakeThingiverse, omit={"POST /things": "id"})
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("FABRICATE_THINGIVERSE_URL", hub.url)
    monkeypatch.setenv("FABRICATE_THINGIVERSE_TOKEN", TOKEN)
    data = tmp_path / "data"
    job_id = succeeded_job(data)
    with live_server(data) as base, httpx.Client(timeout=60) as client:
        answer = client.post(f"{base}/api/jobs/{job_id}/share", json={"title": "Burger", "hub": "thingiverse"})
        assert answer.status_code == 502 and answer.headers["content-type"] == "application/json", answer.text
        assert "Thingiverse answered the new thing without the 'id' field" in answer.json()["detail"]
        (listed,) = client.get(f"{base}/api/jobs/{job_id}/share/status").json()
        assert listed["state"] == "failed" and "'id'" in listed["error"]
        assert listed["steps"][0] == {"name": "thing", "state": "sent"}  # acted on at the hub, never taken for done
    assert len(hub.things) == 1 and hub.count("POST", "/things/") == 0
