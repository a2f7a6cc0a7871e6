"""The job store on its own, in a temporary folder: no pipeline runs.

Every behaviour is checked on both backends: the embedded SQLite store and the Redis one that
`serve --broker` uses (on a real redis-server of this module's own, on 127.0.0.1 with a free port
and its append-only file, emptied before each test).
"""
import sqlite3

import pytest

from fabricate.jobs.local_farm import RedisServer, redis_server_path
from fabricate.jobs.store import JobStore, PhotoFile, open_job_store

FRONT = PhotoFile(b"front bytes", "png", "burger.png")
SIDE = PhotoFile(b"side bytes", "jpg", "burger-side.jpg")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server.url
    server.kill()


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request, tmp_path):
    """Opens the store of ``tmp_path`` with the backend under test (again: as the next process would)."""
    if request.param == "sqlite":
        return lambda: open_job_store(tmp_path)
    url = request.getfixturevalue("redis_url")
    import redis

    redis.Redis.from_url(url).flushdb()
    return lambda: open_job_store(tmp_path, url)


@pytest.fixture
def store(open_store):
    return open_store()


def test_a_new_job_is_queued_with_its_photos_and_options(store):
    job = store.create([FRONT, SIDE], {"printer": "bambu-a1", "resolution": 128})
    assert job.status == "queued" and job.progress == 0 and job.stage is None and not job.finished
    assert job.options == {"printer": "bambu-a1", "resolution": 128}
    assert job.photo_names == ["burger.png", "burger-side.jpg"]
    assert (job.photo_name, job.photo_file) == ("burger.png", "photo-1.png")
    folder = store.job_dir(job.id)
    # Fixed file names inside the job folder, whatever the upload was called; no partial files left.
    assert sorted(p.name for p in folder.iterdir()) == ["photo-1.png", "photo-2.jpg"]
    assert (folder / "photo-2.jpg").read_bytes() == b"side bytes"
    assert store.get(job.id) == job


def test_a_job_needs_a_photo_and_unknown_ids_are_none(store):
    with pytest.raises(ValueError):
        store.create([], {})
    assert store.get("no-such-job") is None


def test_job_ids_are_distinct_and_unguessable(store):
    ids = {store.create([FRONT], {}).id for _ in range(5)}
    assert len(ids) == 5 and all(len(i) >= 20 for i in ids)


def test_list_in_creation_order_and_by_status(store):
    first, second, third = (store.create([FRONT], {"n": n}) for n in range(3))
    assert [j.id for j in store.list()] == [first.id, second.id, third.id]
    store.mark_running(second.id)
    assert [j.id for j in store.list("running")] == [second.id]
    assert [j.id for j in store.list("queued")] == [first.id, third.id]


def test_queue_position_counts_the_jobs_ahead(store):
    first, second, third = (store.create([FRONT], {}) for _ in range(3))
    assert [store.queue_position(j) for j in (first, second, third)] == [1, 2, 3]
    store.mark_running(first.id)
    assert store.queue_position(store.get(first.id)) is None  # not waiting any more
    assert store.queue_position(store.get(third.id)) == 3  # a running job is still ahead
    store.finish(first.id, {}, {})
    assert store.queue_position(store.get(third.id)) == 2


def test_a_job_runs_once_reports_progress_and_finishes(store):
    job = store.create([FRONT], {})
    assert store.mark_running(job.id)
    assert not store.mark_running(job.id)  # a second worker skips it
    assert store.update_progress(job.id, "reconstruct", 42.04)
    running = store.get(job.id)
    assert (running.status, running.stage, running.progress) == ("running", "reconstruct", 42.0)
    (store.job_dir(job.id) / "model.3mf").write_bytes(b"3mf")
    store.finish(job.id, {"triangles": 12}, {"reconstruct": 1.5})
    done = store.get(job.id)
    assert (done.status, done.progress, done.result, done.stage_seconds) == \
        ("succeeded", 100, {"triangles": 12}, {"reconstruct": 1.5})
    assert done.finished and done.elapsed_s >= 0
    assert [(e["status"], e["stage"], e["progress"]) for e in store.events_after(job.id, 0)] == \
        [("running", None, 0.0), ("running", "reconstruct", 42.0), ("succeeded", "export", 100.0)]
    last_seen = store.events_after(job.id, 0)[1]["seq"]
    assert [e["status"] for e in store.events_after(job.id, last_seen)] == ["succeeded"]


def test_result_files_only_of_succeeded_jobs_and_by_their_url_names(store):
    job = store.create([FRONT], {})
    (store.job_dir(job.id) / "model.report.json").write_text("{}")
    assert store.result_path(job, "report.json") is None  # still queued
    store.mark_running(job.id)
    store.finish(job.id, {}, {})
    job = store.get(job.id)
    assert store.result_path(job, "report.json") == store.job_dir(job.id) / "model.report.json"
    assert store.result_path(job, "model.stl") is None  # not written
    assert store.result_path(job, "../jobs.sqlite3") is None  # not a result name


def test_fail_only_from_the_given_states(store):
    job = store.create([FRONT], {})
    store.fail(job.id, "bad photo", only_if=("running",))
    assert store.get(job.id).status == "queued"
    store.fail(job.id, "bad photo")
    failed = store.get(job.id)
    assert (failed.status, failed.error, failed.finished) == ("failed", "bad photo", True)


def test_delete_removes_the_row_the_events_and_the_folder(store):
    job = store.create([FRONT], {})
    store.mark_running(job.id)
    assert store.delete(job.id)
    assert store.get(job.id) is None and not store.job_dir(job.id).exists()
    assert store.events_after(job.id, 0) == []
    assert not store.update_progress(job.id, "reconstruct", 50)  # the worker learns it was deleted
    assert not store.delete(job.id)


def test_a_restart_fails_the_interrupted_jobs_and_returns_the_queued_ones(open_store):
    store = open_store()
    interrupted, waiting, done = (store.create([FRONT], {}) for _ in range(3))
    store.mark_running(interrupted.id)
    store.mark_running(done.id)
    store.finish(done.id, {}, {})
    later = store.create([FRONT], {})
    again = open_store()  # the next server process
    assert again.recover_after_restart() == [waiting.id, later.id]
    assert again.get(interrupted.id).status == "failed" and "restart" in again.get(interrupted.id).error
    assert again.get(done.id).status == "succeeded"


def test_a_store_from_before_several_photos_still_loads(tmp_path):
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL, stage TEXT, progress REAL NOT NULL "
                   "DEFAULT 0, error TEXT, photo_name TEXT NOT NULL, photo_file TEXT NOT NULL, options TEXT NOT NULL, "
                   "result TEXT, stage_seconds TEXT, share_url TEXT, created_at REAL NOT NULL, started_at REAL, "
                   "finished_at REAL)")
        db.execute("INSERT INTO jobs (id, status, photo_name, photo_file, options, created_at) "
                   "VALUES ('old', 'queued', 'cup.png', 'photo.png', '{}', 1.0)")
    job = JobStore(tmp_path).get("old")
    assert job.photos == [{"name": "cup.png", "file": "photo.png"}] and job.photo_names == ["cup.png"]


def test_non_finite_numbers_are_never_written_and_a_refused_job_leaves_no_folder(store, tmp_path):
    with pytest.raises(ValueError, match="layer_height is not a finite number"):
        store.create([FRONT], {"printer": "bambu-a1", "layer_height": float("nan")})
    assert store.list() == [] and not any((tmp_path / "jobs").iterdir())
    job = store.create([FRONT], {})
    store.mark_running(job.id)
    with pytest.raises(ValueError, match="fit.height_mm is not a finite number"):
        store.finish(job.id, {"fit": {"height_mm": float("inf")}}, {})
    assert store.get(job.id).status == "running"


@pytest.mark.parametrize("column, value, reason", [
    ("options", '{"layer_height": NaN}', "options: it holds NaN"),
    ("options", "[1, 2]", "options is not a dict"),
    ("result", '{"fit": ', "result is not JSON"),
    ("result", '{"volume": -Infinity}', "result: it holds -Infinity"),
    ("stage_seconds", "Infinity", "stage_seconds: it holds Infinity"),
    ("photos", '[{"name": "x"}]', "photos does not list"),
    ("progress", float("inf"), "progress is not a finite number"),
    ("status", "exploded", "unknown status 'exploded'"),
])
def test_a_damaged_row_loads_as_a_failed_job_saying_why(tmp_path, column, value, reason):
    store = JobStore(tmp_path)
    damaged, good = store.create([FRONT], {}), store.create([SIDE], {})
    with sqlite3.connect(store.db_path) as db:
        db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (value, damaged.id))
    job = store.get(damaged.id)
    assert job.status == "failed" and job.finished and reason in job.error and "damaged" in job.error
    assert job.options == {} and job.result is None and store.result_path(job, "model.3mf") is None
    assert [j.id for j in store.list()] == [damaged.id, good.id]
    if column != "status":
        assert store.recover_after_restart() == [good.id]  # never run again; the row now says why
        with sqlite3.connect(store.db_path) as db:
            status, error = db.execute("SELECT status, error FROM jobs WHERE id = ?", (damaged.id,)).fetchone()
        assert status == "failed" and reason in error


def test_a_damaged_redis_field_loads_as_a_failed_job_naming_it(redis_url, tmp_path):
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    store = open_job_store(tmp_path, redis_url)
    damaged, good = store.create([FRONT], {}), store.create([SIDE], {})
    store.redis.hset(f"fabricate:job:{damaged.id}", "options", "{not json")
    job = store.get(damaged.id)
    assert job.status == "failed" and "options is not JSON" in job.error and "damaged" in job.error
    assert [j.id for j in store.list()] == [damaged.id, good.id]
    assert store.recover_after_restart() == [good.id]  # never run; the record now says why
    assert "options is not JSON" in store.redis.hget(f"fabricate:job:{damaged.id}", "error").decode()


def test_a_job_lost_twice_fails_with_both_reasons_and_duplicates_are_skipped(store):
    job = store.create([FRONT], {"printer": "bambu-a1"})
    assert store.claim(job.id, "w1 pid 1", device="cpu") == 1
    assert store.claim(job.id, "w2 pid 2") is None  # a duplicate delivery while it builds: skipped
    assert store.claim(job.id, "w2 pid 2", redelivered=True, device="cuda") == 2  # w1 was lost: run again
    assert [(a["worker"], a["device"]) for a in store.attempts(job.id)] == [("w1 pid 1", "cpu"), ("w2 pid 2", "cuda")]
    assert store.claim(job.id, "w1 pid 3", redelivered=True) is None  # lost twice: failed
    failed = store.get(job.id)
    assert failed.status == "failed"
    assert "attempt 1: the worker building it (w1 pid 1) was lost" in failed.error
    assert "attempt 2: the worker building it (w2 pid 2) was lost" in failed.error
    assert store.claim(job.id, "w1 pid 4", redelivered=True) is None  # finished jobs never run again
    assert store.queue_position(failed) is None

    other = store.create([FRONT], {"printer": "bambu-a1"})
    assert store.claim(other.id, "w1 pid 1") == 1
    assert store.end_attempt(other.id, 1, "internal error (MemoryError: )")  # queued again
    assert store.get(other.id).status == "queued"
    assert store.claim(other.id, "w2 pid 2") == 2
    assert not store.end_attempt(other.id, 2, "internal error (RuntimeError: twice)")
    assert store.get(other.id).error == ("attempt 1: internal error (MemoryError: ); "
                                         "attempt 2: internal error (RuntimeError: twice)")
    assert [e["status"] for e in store.events_after(other.id, 0)] == ["running", "queued", "running", "failed"]
    assert store.delete(other.id) and store.attempts(other.id) == []
    assert store.claim(other.id, "w3 pid 3") is None  # a deleted job's late delivery is dropped


def test_an_idempotency_key_makes_one_job_per_request(store, tmp_path):
    first = store.create([FRONT, SIDE], {"printer": "bambu-a1"}, idempotency_key="order-17:photo-set")
    again, created = store.create_once([FRONT, SIDE], {"printer": "bambu-a1"}, "order-17:photo-set")
    assert not created and again.id == first.id and again.idempotency_key == "order-17:photo-set"
    assert [j.id for j in store.list()] == [first.id]
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [first.id]  # the replay left no folder
    from fabricate.errors import BadOption

    for other_photos, other_options in (([SIDE, FRONT], {"printer": "bambu-a1"}),  # same photos, other order
                                        ([FRONT, SIDE], {"printer": "prusa-mk4s"})):
        with pytest.raises(BadOption, match="already used for a different request"):
            store.create(other_photos, other_options, idempotency_key="order-17:photo-set")
    for bad in ("", "x" * 129, "has space", "new\nline", "ключ", "a;b"):
        with pytest.raises(BadOption, match="Idempotency-Key must be"):
            store.create([FRONT], {}, idempotency_key=bad)
    assert len(store.list()) == 1 and len(list((tmp_path / "jobs").iterdir())) == 1
    # Without a key every submission is a new job; once deleted, a key is free again.
    assert store.create([FRONT], {}).id != store.create([FRONT], {}).id
    assert store.delete(first.id)
    fresh, created = store.create_once([FRONT], {}, "order-17:photo-set")
    assert created and fresh.id != first.id


def test_racing_requests_with_one_key_make_one_job(open_store, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    stores = [open_store() for _ in range(6)]  # one per request: as separate server threads or processes
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda s: s.create_once([FRONT], {"n": 1}, "same-key"), stores))
    assert len({job.id for job, _ in answers}) == 1
    assert sum(created for _, created in answers) == 1
    assert len(stores[0].list()) == 1 and len(list((tmp_path / "jobs").iterdir())) == 1
