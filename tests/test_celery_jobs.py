"""Jobs on Celery workers through a real Redis: `serve --broker` and `fabricate worker` processes.

Each test module run starts its own redis-server on 127.0.0.1 (a free port, a temporary folder,
append-only file on) and two workers as separate processes sharing the server's data folder.
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

REDIS = redis_server_path()
PRINTER = "bambu-a1"
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed (apt-get install redis-server)")


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    """Redis, two worker processes and a server with --broker, sharing one data folder."""
    if REDIS is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    root = tmp_path_factory.mktemp("farm")
    data_dir = root / "data"
    data_dir.mkdir()
    broker = RedisServer(root).start()
    workers = [start_worker(broker.url, data_dir, root / f"worker-{n}.log") for n in (1, 2)]
    try:
        try:
            wait_for_workers(broker.url, 2)
        except RuntimeError as exc:
            logs = "\n".join((root / f"worker-{n}.log").read_text()[-1500:] for n in (1, 2))
            raise RuntimeError(f"{exc}; the workers said:\n{logs}") from None
        with live_server(data_dir, broker=broker.url) as base, httpx.Client(base_url=base, timeout=60) as client:
            yield {"client": client, "broker": broker, "data_dir": data_dir, "workers": workers, "root": root}
    finally:
        for process in workers:
            stop_worker(process)
        broker.kill()


def post_job(client, sample: Path, resolution: int = 128) -> dict:
    with open(sample, "rb") as photo:
        response = client.post("/api/jobs", files={"photo": (sample.name, photo, "image/png")},
                               data={"printer": PRINTER, "resolution": str(resolution)})
    assert response.status_code == 202, response.text
    return response.json()


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
    from fabricate.jobs import JobStore

    store = JobStore(data_dir)
    workers = {store.attempts(job["id"])[0]["worker"].split(" pid ")[0] for job in jobs}
    assert len(workers) == 2  # both workers took jobs
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
def test_a_worker_killed_mid_job_hands_it_to_the_other(farm):
    from fabricate.jobs import JobStore

    client, data_dir = farm["client"], farm["data_dir"]
    store = JobStore(data_dir)
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
    from fabricate.jobs import JobStore

    client, data_dir = farm["client"], farm["data_dir"]
    store = JobStore(data_dir)
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


def test_a_job_lost_twice_fails_with_both_reasons_and_duplicates_are_skipped(tmp_path):
    from fabricate.jobs import JobStore
    from fabricate.jobs.store import PhotoFile

    store = JobStore(tmp_path)
    job = store.create([PhotoFile(b"x", "png", "a.png")], {"printer": PRINTER})
    assert store.claim(job.id, "w1 pid 1") == 1
    assert store.claim(job.id, "w2 pid 2") is None  # a duplicate delivery while it builds: skipped
    assert store.claim(job.id, "w2 pid 2", redelivered=True) == 2  # w1 was lost: run again
    assert store.claim(job.id, "w1 pid 3", redelivered=True) is None  # lost twice: failed
    failed = store.get(job.id)
    assert failed.status == "failed"
    assert "attempt 1: the worker building it (w1 pid 1) was lost" in failed.error
    assert "attempt 2: the worker building it (w2 pid 2) was lost" in failed.error
    assert store.claim(job.id, "w1 pid 4", redelivered=True) is None  # finished jobs never run again

    other = store.create([PhotoFile(b"x", "png", "a.png")], {"printer": PRINTER})
    assert store.claim(other.id, "w1 pid 1") == 1
    assert store.end_attempt(other.id, 1, "internal error (MemoryError: )")  # queued again
    assert store.get(other.id).status == "queued"
    assert store.claim(other.id, "w2 pid 2") == 2
    assert not store.end_attempt(other.id, 2, "internal error (RuntimeError: twice)")
    assert store.get(other.id).error == ("attempt 1: internal error (MemoryError: ); "
                                         "attempt 2: internal error (RuntimeError: twice)")
    assert store.delete(other.id) and store.attempts(other.id) == []


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
