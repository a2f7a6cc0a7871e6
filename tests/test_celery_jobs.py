"""Jobs on Celery workers through a real Redis: `serve --broker` and `fabricate worker` processes.

Each test module run starts its own redis-server on 127.0.0.1 (a free port, a temporary folder,
append-only file on) and two workers as separate processes. Each worker runs as if on another
machine: its own home and working directory, and the data folder through a path of its own (a
symbolic link, as a mount would be); it shares nothing with the server but the broker URL and the
files. Job records travel through Redis: no SQLite file is made by anyone (checked at the end).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from conftest import SAMPLES, assert_printable_3mf, live_server, wait_for_job
from fabricate.jobs.local_farm import RedisServer, redis_server_path, start_worker, stop_worker, wait_for_workers
from fabricate.jobs.store import open_job_store

REDIS = redis_server_path()
PRINTER = "bambu-a1"
#: The farm's job time limit: long enough for any test build on shared cores, short enough that the
#: power-cut test waits for the visibility timeout that follows from it (under two minutes).
FARM_TIME_LIMIT_S = 90
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (apt-get install redis-server)")


def start_farm_worker(root: Path, data_dir: Path, broker: str, name: str):
    """A worker "on another machine": its own home and working directory, the data folder at its own path."""
    mount = root / f"{name}-mount"
    if not mount.exists():
        mount.symlink_to(data_dir, target_is_directory=True)
    return start_worker(broker, mount, root / f"{name}.log", home=root / f"{name}-home",
                        job_time_limit_s=FARM_TIME_LIMIT_S)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """Redis, two worker processes and a server with --broker, sharing only the broker and the files."""
    if REDIS is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("farm")
    data_dir = root / "data"
    data_dir.mkdir()
    broker = RedisServer(root).start()
    workers = [start_farm_worker(root, data_dir, broker.url, f"worker-{n}") for n in (1, 2)]
    try:
        try:
            wait_for_workers(broker.url, 2)
        except RuntimeError as exc:
            logs = "\n".join((root / f"worker-{n}.log").read_text()[-1500:] for n in (1, 2))
            raise RuntimeError(f"{exc}; the workers said:\n{logs}") from None
        with live_server(data_dir, broker=broker.url) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield {"client": client, "broker": broker, "data_dir": data_dir, "workers": workers, "root": root,
                   "store": open_job_store(data_dir, broker.url)}
        # Nobody kept job records in a file: not the server, not a worker (in its home or the data folder).
        assert sorted(str(p.relative_to(root)) for p in root.rglob("*.sqlite3*")) == []
    finally:
        for process in workers:
            stop_worker(process)
        broker.kill()


def post_job(client, sample: Path, resolution: int = 128, **headers) -> dict:
    response = post(client, sample, resolution, **headers)
    assert response.status_code == 202, response.text
    return response.json()


def post(client, sample: Path, resolution: int = 128, printer: str = PRINTER, **headers) -> httpx.Response:
    with open(sample, "rb") as photo:
        return client.post("/api/jobs", files={"photo": (sample.name, photo, "image/png")},
                           data={"printer": printer, "resolution": str(resolution)},
                           headers={k.replace("_", "-"): v for k, v in headers.items()})


def model_files(data_dir: Path, job_id: str) -> list:
    return sorted(p.name for p in (data_dir / "jobs" / job_id).glob("*.3mf"))


def wait_until(condition, timeout: float = 120, step: float = 0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError("condition not met")


@needs_redis
@pytest.mark.slow
def test_eight_jobs_on_two_workers_all_succeed_and_run_once(farm):
    client, data_dir = farm["client"], farm["data_dir"]
    jobs = [post_job(client, SAMPLES[n % len(SAMPLES)]) for n in range(8)]
    finished = [wait_for_job(client, f"/api/jobs/{job['id']}", timeout=600) for job in jobs]
    assert [job["status"] for job in finished] == ["succeeded"] * 8, [job["error"] for job in finished]
    store = farm["store"]
    workers = {store.attempts(job["id"])[0]["worker"].split(" pid ")[0] for job in jobs}
    assert len(workers) == 2  # both workers took jobs
    # No GPU here: every attempt says it built on the CPU (the CUDA choice is tested in test_job_device.py).
    assert {store.attempts(job["id"])[0]["device"] for job in jobs} == {"cpu"}
    for job in jobs:
        assert model_files(data_dir, job["id"]) == ["model.3mf"]
        assert_printable_3mf(data_dir / "jobs" / job["id"] / "model.3mf", PRINTER, min_colours=1)
        assert len(store.attempts(job["id"])) == 1
    assert client.get(f"/api/jobs/{jobs[0]['id']}/model.3mf").status_code == 200

    # The same job handed to the broker again (a repeated submission) does not run again.
    from fabricate.jobs.celery_runner import CeleryJobRunner

    runner = CeleryJobRunner(store, farm["broker"].url)
    runner.submit(jobs[0]["id"])
    time.sleep(3)
    assert len(store.attempts(jobs[0]["id"])) == 1 and store.get(jobs[0]["id"]).status == "succeeded"
    runner.shutdown()


@needs_redis
@pytest.mark.slow
def test_the_page_event_stream_follows_a_job_built_on_a_worker(farm):
    import json

    client = farm["client"]
    job = post_job(client, SAMPLES[0])
    events = []
    with client.stream("GET", f"/api/jobs/{job['id']}/events", timeout=300) as stream:
        name = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[len("data: "):])))
                if name == "done":
                    break
    names = [name for name, _ in events]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}, names
    steps = [data for name, data in events if name == "progress"]
    progress = [step["progress"] for step in steps if step["status"] == "running"]
    assert progress == sorted(progress) and len(progress) >= 5  # every step the worker recorded, in order
    stages = [step["stage"] for step in steps if step["stage"]]
    assert {"reconstruct", "mesh", "printing", "export"} <= set(stages)
    assert events[-1][1]["status"] == "succeeded" and events[-1][1]["progress"] == 100


@needs_redis
@pytest.mark.slow
def test_a_repeated_submission_with_an_idempotency_key_runs_once(farm):
    client, data_dir, store = farm["client"], farm["data_dir"], farm["store"]
    first = post(client, SAMPLES[5], Idempotency_Key="farm-order-1")
    again = post(client, SAMPLES[5], Idempotency_Key="farm-order-1")  # e.g. a client retrying after a timeout
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = post(client, SAMPLES[5], printer="bambu-p1s", Idempotency_Key="farm-order-1")
    assert other.status_code == 422 and "already used for a different request" in other.json()["detail"]
    bad = post(client, SAMPLES[5], Idempotency_Key="no spaces allowed")
    assert bad.status_code == 422 and "Idempotency-Key must be" in bad.json()["detail"]
    job_id = first.json()["id"]
    assert wait_for_job(client, f"/api/jobs/{job_id}", timeout=600)["status"] == "succeeded"
    late = post(client, SAMPLES[5], Idempotency_Key="farm-order-1")  # after it finished: still that job
    assert late.json()["id"] == job_id and late.json()["status"] == "succeeded"
    time.sleep(2)
    assert len(store.attempts(job_id)) == 1 and model_files(data_dir, job_id) == ["model.3mf"]
    assert store.get(job_id).idempotency_key == "farm-order-1"
    assert sum(job["id"] == job_id for job in client.get("/api/jobs").json()) == 1


@needs_redis
@pytest.mark.slow
def test_a_worker_killed_mid_job_hands_it_to_the_other(farm):
    client, data_dir, store = farm["client"], farm["data_dir"], farm["store"]
    job = post_job(client, SAMPLES[1], resolution=256)
    attempt = wait_until(lambda: store.attempts(job["id"]) if store.get(job["id"]).status == "running"
                         and (store.get(job["id"]).progress or 0) > 5 else None)[0]
    os.kill(int(attempt["worker"].rsplit(" pid ", 1)[1]), signal.SIGKILL)  # the process building it
    done = wait_for_job(client, f"/api/jobs/{job['id']}", timeout=600)
    assert done["status"] == "succeeded", done["error"]
    attempts = store.attempts(job["id"])
    assert len(attempts) == 2 and "was lost" in attempts[0]["error"], attempts
    assert attempts[1]["worker"].split(" pid ")[0] != attempts[0]["worker"].split(" pid ")[0]  # the other worker
    assert model_files(data_dir, job["id"]) == ["model.3mf"]
    assert_printable_3mf(data_dir / "jobs" / job["id"] / "model.3mf", PRINTER, min_colours=1)


@needs_redis
@pytest.mark.slow
def test_jobs_queued_across_a_broker_restart_all_succeed(farm):
    client, broker = farm["client"], farm["broker"]
    jobs = [post_job(client, SAMPLES[n]) for n in range(5)]  # two building, three waiting in Redis
    broker.kill()
    time.sleep(1)
    broker.start()
    finished = [wait_for_job(client, f"/api/jobs/{job['id']}", timeout=600) for job in jobs]
    assert [job["status"] for job in finished] == ["succeeded"] * 5, [job["error"] for job in finished]
    for job in jobs:
        assert model_files(farm["data_dir"], job["id"]) == ["model.3mf"]


@needs_redis
@pytest.mark.slow
def test_a_cancelled_job_stops_and_leaves_nothing(farm):
    client, data_dir, store = farm["client"], farm["data_dir"], farm["store"]
    running = post_job(client, SAMPLES[2], resolution=256)
    others = [post_job(client, SAMPLES[3]), post_job(client, SAMPLES[4])]  # one builds, one waits in the queue
    queued = others[-1]
    wait_until(lambda: store.get(running["id"]).status == "running")
    assert client.delete(f"/api/jobs/{running['id']}").status_code == 204
    assert client.delete(f"/api/jobs/{queued['id']}").status_code == 204
    for job in (running, queued):
        assert client.get(f"/api/jobs/{job['id']}").status_code == 404
        assert job["id"] not in {j["id"] for j in client.get("/api/jobs").json()}
    assert wait_for_job(client, f"/api/jobs/{others[0]['id']}", timeout=600)["status"] == "succeeded"
    # The worker building the deleted job stopped: nothing of it is left, nor of the queued one.
    wait_until(lambda: not (data_dir / "jobs" / running["id"]).exists(), timeout=60)
    time.sleep(2)
    assert not (data_dir / "jobs" / running["id"]).exists() and not (data_dir / "jobs" / queued["id"]).exists()
    assert store.attempts(queued["id"]) == []


@needs_redis
@pytest.mark.slow
def test_batch_through_the_broker_makes_the_models_on_the_workers(farm, tmp_path):
    import json
    import shutil

    from conftest import run_cli

    photos = tmp_path / "photos"
    photos.mkdir()
    for sample in SAMPLES[:2]:
        shutil.copy(sample, photos / sample.name)
    (photos / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "models"
    result = run_cli("batch", photos, "--printer", PRINTER, "-o", out, "--resolution", "128", "--quiet",
                     "--broker", farm["broker"].url)
    assert result.returncode == 2, result.stderr
    assert sorted(p.stem for p in out.glob("*.3mf")) == sorted(s.stem for s in SAMPLES[:2])
    rows = {row["name"]: row for row in json.loads((out / "summary.json").read_text())}
    assert rows["broken"]["error"] and all(rows[s.stem]["triangles"] > 0 for s in SAMPLES[:2])


@needs_redis
@pytest.mark.slow
def test_a_whole_worker_lost_at_once_has_its_job_rebuilt_after_the_visibility_timeout(farm):
    """A power cut: the worker and its build processes vanish at once (SIGKILL to the whole group), so
    nothing is acknowledged or given back; the job is handed out again once the visibility timeout
    that follows from the job time limit has passed, and the other worker builds it."""
    from fabricate.jobs.celery_runner import job_limits

    client, data_dir, store, root = farm["client"], farm["data_dir"], farm["store"], farm["root"]
    job = post_job(client, SAMPLES[3], resolution=256)
    attempt = wait_until(lambda: store.attempts(job["id"]) if store.get(job["id"]).status == "running"
                         and (store.get(job["id"]).progress or 0) > 5 else None)[0]
    # The worker's name is fabricate-<pid of its main process>@host: that process leads its group.
    lost_pid = int(attempt["worker"].split("@")[0].rsplit("-", 1)[1])
    lost = next(w for w in farm["workers"] if w.pid == lost_pid)
    stop_worker(lost)
    cut_at = time.time()
    farm["workers"].append(start_farm_worker(root, data_dir, farm["broker"].url, "worker-3"))  # keep two
    done = wait_for_job(client, f"/api/jobs/{job['id']}", timeout=600)
    assert done["status"] == "succeeded", done["error"]
    attempts = store.attempts(job["id"])
    assert len(attempts) == 2 and "was lost" in attempts[0]["error"], attempts
    assert attempts[1]["worker"].split(" pid ")[0] != attempts[0]["worker"].split(" pid ")[0]
    # Not handed out before the timeout (it might still have been building), and soon after it.
    waited = attempts[1]["started_at"] - cut_at
    visibility = job_limits(FARM_TIME_LIMIT_S)["visibility"]
    assert visibility - (cut_at - attempts[0]["started_at"]) - 1 <= waited <= visibility + 60, waited
    assert model_files(data_dir, job["id"]) == ["model.3mf"]
    assert_printable_3mf(data_dir / "jobs" / job["id"] / "model.3mf", PRINTER, min_colours=1)
