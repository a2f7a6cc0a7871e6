"""The job store in the broker's Redis, for `serve --broker` with workers on any machine.

SQLite's WAL mode does not work over a network filesystem, so with workers on other hosts the
job records cannot live in the shared data folder. Here they live in the Redis the broker
already is (the one service every worker reaches, kept across restarts by its append-only file);
the data folder holds only files, each written atomically. Job state does not go through
Celery's result backend or events because the page needs more than a task's outcome: the
ordered progress steps of its event stream, the queue position, the attempts (which worker,
which device, why each failed) and a conditional claim that stops a job running twice; a store
behind the same interface as the SQLite one gives all of these from one set of rules
(:func:`fabricate.jobs.store.claim_step`) with no second copy of the state to keep in step.

Keys (all under ``fabricate:``, apart from Celery's own):

- ``job:<id>``: a hash of the SQLite table's columns, each value JSON (so None and numbers keep
  their type and a damaged field is named, as in SQLite);
- ``jobs`` and ``active``: sorted sets of job ids by creation time, all jobs and the queued or
  running ones (the listing order, and the queue position in one ZCOUNT);
- ``events:<id>``: a sorted set of the job's changes by a global sequence number (``event-seq``),
  which the page's event stream replays as SSE ids, as from SQLite's job_events table;
- ``attempts:<id>``: a list of the attempts at the job, as JSON;
- ``idempotency:<key>``: the id of the job made by the request with that Idempotency-Key.

Every change that depends on a job's state is one optimistic transaction (WATCH the job, read
it, MULTI, write, EXEC; redone if another client changed it meanwhile), so a delete and a
worker's progress step, or two deliveries of one job, never interleave. A broker restart is
waited for (connection retries for up to ``RECONNECT_S``), so a worker keeps building through it.
"""
from __future__ import annotations

import json
import shutil
import time
from typing import Callable, Optional

from fabricate.jobs.store import (
    MAX_ATTEMPTS,
    UNREADABLE,
    Job,
    JobStoreBase,
    claim_step,
    job_of_row,
    lost_worker_words,
    reasons_of,
    to_json,
)

PREFIX = "fabricate:"
#: How long a store call waits for a restarting Redis before it gives up (the broker's own restart
#: with its append-only file takes well under this).
RECONNECT_S = 60
#: The longest wait between two reconnection tries.
RECONNECT_STEP_S = 1.0
#: The columns of a job, as in the SQLite table.
COLUMNS = ("id", "status", "stage", "progress", "error", "photo_name", "photo_file", "photos", "options", "result",
           "stage_seconds", "share_url", "created_at", "started_at", "finished_at", "idempotency_key",
           "request_hash")
#: Appends one event to a job's events with the next global sequence number, in the transaction.
APPEND_EVENT = """
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, seq .. ' ' .. ARGV[1])
return seq
"""


def redis_client(url: str):
    """A client of ``url`` that waits for a restarting Redis (up to RECONNECT_S) instead of failing at once."""
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    retries = int(RECONNECT_S / RECONNECT_STEP_S)
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=30,
                                retry=Retry(ExponentialBackoff(cap=RECONNECT_STEP_S, base=0.05), retries),
                                retry_on_error=[redis.exceptions.ConnectionError, redis.exceptions.TimeoutError])


def _decoded(raw: dict) -> Optional[dict]:
    """A job's hash as the row the SQLite store would hold (None for no hash)."""
    if not raw:
        return None
    row = {name: None for name in COLUMNS}
    for name, value in raw.items():
        name = name.decode() if isinstance(name, bytes) else name
        try:
            row[name] = json.loads(value)
        except (ValueError, TypeError, UnicodeDecodeError):
            row[name] = UNREADABLE
    return row


class RedisJobStore(JobStoreBase):
    """Job records in Redis at ``url`` (the broker's), files under ``data_dir/jobs/<id>/``."""

    backend = "redis"

    def __init__(self, data_dir, url: str):
        super().__init__(data_dir)
        self.redis = redis_client(url)
        self.redis.ping()  # an unreachable broker is found now, not at the first job

    # Keys.
    @staticmethod
    def _job_key(job_id: str) -> str:
        return f"{PREFIX}job:{job_id}"

    @staticmethod
    def _events_key(job_id: str) -> str:
        return f"{PREFIX}events:{job_id}"

    @staticmethod
    def _attempts_key(job_id: str) -> str:
        return f"{PREFIX}attempts:{job_id}"

    @staticmethod
    def _key_key(key: str) -> str:
        return f"{PREFIX}idempotency:{key}"

    JOBS, ACTIVE, EVENT_SEQ = PREFIX + "jobs", PREFIX + "active", PREFIX + "event-seq"

    # Helpers.
    def _transaction(self, job_id: str, change: Callable, *also: str):
        """Run ``change(pipe, row)`` with the job's row read under WATCH (None: no such job); its value.

        ``change`` reads more with ``pipe`` if it needs to, then calls ``pipe.multi()`` before writing.
        """
        key = self._job_key(job_id)

        def step(pipe):
            return change(pipe, _decoded(pipe.hgetall(key)))

        return self.redis.transaction(step, key, *also, value_from_callable=True)

    def _write(self, pipe, job_id: str, **columns) -> None:
        pipe.hset(self._job_key(job_id), mapping={name: json.dumps(value, allow_nan=False)
                                                  for name, value in columns.items()})

    def _log(self, pipe, job_id: str, status: str, stage: Optional[str], progress: float) -> None:
        # Every change is also appended to the job's events, so event streams replay each step in order.
        event = json.dumps({"status": status, "stage": stage, "progress": progress, "at": time.time()})
        pipe.eval(APPEND_EVENT, 2, self.EVENT_SEQ, self._events_key(job_id), event)

    def _set_status(self, pipe, job_id: str, status: str, stage: Optional[str], progress: float, **columns) -> None:
        self._write(pipe, job_id, status=status, stage=stage, progress=progress, **columns)
        if status in ("succeeded", "failed"):
            pipe.zrem(self.ACTIVE, job_id)
        self._log(pipe, job_id, status, stage, progress)

    # Creating and reading.
    def _insert(self, row: dict) -> bool:
        key = row["idempotency_key"]

        def insert(pipe):
            if key is not None and pipe.exists(self._key_key(key)):
                return False
            pipe.multi()
            self._write(pipe, row["id"], **row)
            pipe.zadd(self.JOBS, {row["id"]: row["created_at"]})
            pipe.zadd(self.ACTIVE, {row["id"]: row["created_at"]})
            if key is not None:
                pipe.set(self._key_key(key), row["id"])
            return True

        watched = [self._key_key(key)] if key is not None else [self._job_key(row["id"])]
        return self.redis.transaction(insert, *watched, value_from_callable=True)

    def _key_holder(self, key: str) -> Optional[tuple]:
        job_id = self.redis.get(self._key_key(key))
        if job_id is None:
            return None
        job_id = job_id.decode()
        stored = self.redis.hget(self._job_key(job_id), "request_hash")
        return (job_id, json.loads(stored)) if stored is not None else None

    def get(self, job_id: str) -> Optional[Job]:
        row = _decoded(self.redis.hgetall(self._job_key(job_id)))
        return job_of_row(row) if row else None

    def list(self, status: Optional[str] = None) -> list:
        ids = [i.decode() for i in self.redis.zrange(self.JOBS, 0, -1)]
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self._job_key(job_id))
            rows = [_decoded(raw) for raw in pipe.execute()]
        # By the stored status, as SQLite's WHERE does (a damaged queued record still lists as queued); a
        # job deleted between the two reads is gone.
        return [job_of_row(row) for row in rows if row and (status is None or row["status"] == status)]

    def queue_position(self, job: Job) -> Optional[int]:
        if job.status != "queued":
            return None
        return int(self.redis.zcount(self.ACTIVE, "-inf", f"({job.created_at!r}")) + 1

    # Changes.
    def mark_running(self, job_id: str) -> bool:
        def start(pipe, row):
            if not row or row["status"] != "queued":
                return False
            pipe.multi()
            self._set_status(pipe, job_id, "running", row["stage"], 0.0, started_at=time.time())
            return True

        return self._transaction(job_id, start)

    def claim(self, job_id: str, worker: str, redelivered: bool = False, device: Optional[str] = None
              ) -> Optional[int]:
        attempts_key = self._attempts_key(job_id)

        def take(pipe, row):
            attempts = [json.loads(a) for a in pipe.lrange(attempts_key, 0, -1)]
            step = claim_step(row["status"] if row else None, len(attempts), redelivered)
            if not (step.run or step.fail or step.lost_attempt):
                return None
            pipe.multi()
            if step.lost_attempt is not None:
                lost = attempts[step.lost_attempt - 1]
                lost["error"] = lost["error"] or lost_worker_words(lost["worker"])
                pipe.lset(attempts_key, step.lost_attempt - 1, json.dumps(lost))
            if step.fail:
                self._set_status(pipe, job_id, "failed", row["stage"], row["progress"], error=reasons_of(attempts),
                                 finished_at=time.time())
                return None
            if step.run:
                pipe.rpush(attempts_key, json.dumps({"attempt": step.attempt, "worker": worker, "device": device,
                                                     "started_at": time.time(), "error": None}))
                self._set_status(pipe, job_id, "running", None, 0.0, started_at=time.time())
                return step.attempt
            return None

        return self._transaction(job_id, take, attempts_key)

    def end_attempt(self, job_id: str, attempt: int, error: str) -> bool:
        attempts_key = self._attempts_key(job_id)

        def end(pipe, row):
            attempts = [json.loads(a) for a in pipe.lrange(attempts_key, 0, -1)]
            if not row or not 1 <= attempt <= len(attempts):
                return False
            attempts[attempt - 1]["error"] = error
            pipe.multi()
            pipe.lset(attempts_key, attempt - 1, json.dumps(attempts[attempt - 1]))
            if attempt < MAX_ATTEMPTS:
                if row["status"] != "running":
                    return False
                self._set_status(pipe, job_id, "queued", None, 0.0)
                return True
            if row["status"] in ("queued", "running"):
                self._set_status(pipe, job_id, "failed", row["stage"], row["progress"], error=reasons_of(attempts),
                                 finished_at=time.time())
            return False

        return self._transaction(job_id, end, attempts_key)

    def attempts(self, job_id: str) -> list:
        return [json.loads(a) for a in self.redis.lrange(self._attempts_key(job_id), 0, -1)]

    def update_progress(self, job_id: str, stage: str, progress: float) -> bool:
        progress = round(float(progress), 1)

        def step(pipe, row):
            if not row or row["status"] != "running":
                return False
            pipe.multi()
            self._write(pipe, job_id, stage=stage, progress=progress)
            self._log(pipe, job_id, "running", stage, progress)
            return True

        return self._transaction(job_id, step)

    def finish(self, job_id: str, result: dict, stage_seconds: dict) -> None:
        stored_result, stored_seconds = to_json(result), to_json(stage_seconds)  # NaN refused before any write

        def done(pipe, row):
            if row:
                pipe.multi()
                self._set_status(pipe, job_id, "succeeded", "export", 100.0, result=stored_result,
                                 stage_seconds=stored_seconds, finished_at=time.time())

        self._transaction(job_id, done)

    def fail(self, job_id: str, error: str, only_if: tuple = ("queued", "running")) -> None:
        def failed(pipe, row):
            if row and row["status"] in only_if:
                pipe.multi()
                # A damaged record fails too: keep only what can be written back.
                progress = row["progress"] if isinstance(row["progress"], (int, float)) else 0.0
                stage = row["stage"] if isinstance(row["stage"], str) else None
                self._set_status(pipe, job_id, "failed", stage, progress, error=error, finished_at=time.time())

        self._transaction(job_id, failed)

    def events_after(self, job_id: str, seq: int) -> list:
        events = []
        for member in self.redis.zrangebyscore(self._events_key(job_id), f"({int(seq)}", "+inf"):
            number, event = member.decode().split(" ", 1)
            events.append({"seq": int(number), **json.loads(event)})
        return events

    def set_share_url(self, job_id: str, url: str) -> None:
        def share(pipe, row):
            if row:
                pipe.multi()
                self._write(pipe, job_id, share_url=url)

        self._transaction(job_id, share)

    def delete(self, job_id: str) -> bool:
        def remove(pipe, row):
            key = row["idempotency_key"] if row else None
            if key:
                pipe.watch(self._key_key(key))
                holder = pipe.get(self._key_key(key))
            pipe.multi()
            pipe.delete(self._job_key(job_id), self._events_key(job_id), self._attempts_key(job_id))
            pipe.zrem(self.JOBS, job_id)
            pipe.zrem(self.ACTIVE, job_id)
            if key and holder is not None and holder.decode() == job_id:
                pipe.delete(self._key_key(key))
            return row is not None

        deleted = self._transaction(job_id, remove)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return deleted
