"""Idempotency-Key on POST /api/jobs with the embedded store and the local pool (the broker's
Redis store is checked in tests/test_celery_jobs.py, and both stores in tests/test_job_store.py)."""
import httpx
import pytest

from conftest import SAMPLES, live_server, wait_for_job

pytestmark = pytest.mark.slow  # the job is built by a real worker process

FIELDS = {"printer": "bambu-a1", "resolution": "128"}


def post(client, base, key=None, **fields):
    headers = {"Idempotency-Key": key} if key is not None else {}
    with open(SAMPLES[0], "rb") as photo:
        return client.post(f"{base}/api/jobs", data={**FIELDS, **fields}, headers=headers,
                           files={"photo": (SAMPLES[0].name, photo, "image/png")})


def test_a_retried_submission_is_the_same_job_and_runs_once(tmp_path):
    with live_server(tmp_path) as base, httpx.Client(timeout=60) as client:
        first = post(client, base, "7f1c2d9e-0b6a-4c1e-9d55-3a1f0c2b8e77")
        again = post(client, base, "7f1c2d9e-0b6a-4c1e-9d55-3a1f0c2b8e77")
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        changed = post(client, base, "7f1c2d9e-0b6a-4c1e-9d55-3a1f0c2b8e77", height_mm="80")
        assert changed.status_code == 422 and "different request" in changed.json()["detail"]
        for bad in ("a b", "x" * 129, "semi;colon"):
            refused = post(client, base, bad)
            assert refused.status_code == 422 and "Idempotency-Key must be" in refused.json()["detail"]
        job = wait_for_job(client, f"{base}/api/jobs/{first.json()['id']}")
        assert job["status"] == "succeeded"
        assert [j["id"] for j in client.get(f"{base}/api/jobs").json()] == [job["id"]]  # one job, built once
        assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [job["id"]]
        # Without a key, the same photo again is a new job.
        assert post(client, base).json()["id"] != job["id"]
