"""Jobs and their files: one interface (:class:`JobStoreBase`), two backends, chosen in one place
(:func:`open_job_store`).

- :class:`JobStore`, the embedded default: an SQLite table beside the job folders. The web
  server and its local pool's worker processes share it; SQLite in WAL mode with a busy timeout
  makes that safe on one host (and only there: WAL does not work over a network filesystem).
- :class:`fabricate.jobs.redis_store.RedisJobStore`, with ``serve --broker``: job state,
  attempts and progress events live in the broker's Redis, so workers on other machines need
  only the broker URL and the shared data folder (for files, written atomically).

Both keep every file under ``data_dir/jobs/<id>/``, and the decisions (what a delivery by a
broker does, when an attempt is the last, what an idempotency key allows) are made here once,
for both. Job ids are random 128-bit tokens (unguessable), and
files inside a job folder have fixed names: uploaded names are never paths.
A job keeps 1-8 photos (``photo-1.png``, ...); jobs stored before several photos
were possible have one ``photo.<ext>`` and no ``photos`` column value, and still load.

Every value is written as strict JSON (no NaN or Infinity: the page and other clients could not
read it) and read back strictly; a row that cannot be read (written by an older version, or
damaged) loads as a failed job saying so, so that one bad record never breaks the job list.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from fabricate.atomic import write_bytes_atomic
from fabricate.errors import BadOption

STATUSES = ("queued", "running", "succeeded", "failed")
#: Files a finished job offers, by the name used in its URL.
RESULT_FILES = {"model.3mf": "model.3mf", "model.stl": "model.stl", "model.glb": "model.glb",
                "preview.png": "preview.png", "report.json": "model.report.json",
                # with delighting: the model before placement in the photo's colours and in the delit ones
                "preview-photo.png": "preview-photo.png", "preview-delit.png": "preview-delit.png",
                "model.gcode": "model.gcode"}  # only when the job asked to be sliced and PrusaSlicer is installed

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    photo_name TEXT NOT NULL,
    photo_file TEXT NOT NULL,
    photos TEXT,
    options TEXT NOT NULL,
    result TEXT,
    stage_seconds TEXT,
    share_url TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    idempotency_key TEXT,
    request_hash TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at);
CREATE TABLE IF NOT EXISTS job_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    stage TEXT,
    progress REAL NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS job_events_job ON job_events(job_id, seq);
CREATE TABLE IF NOT EXISTS job_attempts (
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    device TEXT,
    started_at REAL NOT NULL,
    error TEXT,
    PRIMARY KEY (job_id, attempt)
);
"""
#: Columns added after the first stores were made: (table, column, type), added to older stores on open.
ADDED_COLUMNS = (("jobs", "photos", "TEXT"), ("jobs", "idempotency_key", "TEXT"), ("jobs", "request_hash", "TEXT"),
                 ("job_attempts", "device", "TEXT"))
#: One job per idempotency key (after ADDED_COLUMNS: an older store gains the column first).
IDEMPOTENCY_INDEX = ("CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs(idempotency_key) "
                     "WHERE idempotency_key IS NOT NULL")
#: Attempts a job gets on workers through a broker: one re-run after a lost worker or an internal error.
MAX_ATTEMPTS = 2
#: What an Idempotency-Key header may be: short, and only characters that need no escaping anywhere
#: (a UUID, a ULID or a base64url token all fit).
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:~+=-]{1,128}")


class DamagedRecord(ValueError):
    """A stored job row that cannot be read as a job."""


def to_json(value: Any) -> str:
    """``value`` as strict JSON; ValueError naming where a non-finite number sits."""
    where = non_finite_at(value)
    if where is not None:
        raise ValueError(f"{where or 'the value'} is not a finite number")
    return json.dumps(value, allow_nan=False)


def non_finite_at(value: Any, path: str = "") -> Optional[str]:
    """The dotted path of the first NaN or infinity inside ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = non_finite_at(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _refuse_constant(name: str):
    raise DamagedRecord(f"it holds {name}")


def from_json(text: Optional[str], kind: type, column: str):
    """A stored column read strictly as ``kind`` (dict or list); None stays None."""
    if text is None:
        return None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except DamagedRecord as exc:
        raise DamagedRecord(f"{column}: {exc}") from None
    except (ValueError, TypeError):
        raise DamagedRecord(f"{column} is not JSON") from None
    if not isinstance(value, kind):
        raise DamagedRecord(f"{column} is not a {kind.__name__}")
    return value


def default_data_dir() -> Path:
    """The user's data folder: $XDG_DATA_HOME/fabricate or ~/.local/share/fabricate."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "fabricate"


@dataclass(frozen=True)
class PhotoFile:
    """An uploaded photo to keep with a job: its bytes, the extension of its sniffed format, its display name."""

    data: bytes
    extension: str
    name: str


@dataclass
class Job:
    """One job. ``photos`` lists each photo as ``{"name": shown name, "file": file in the job folder}``;
    ``photo_name`` and ``photo_file`` are the first (front) one's."""

    id: str
    status: str
    stage: Optional[str]
    progress: float
    error: Optional[str]
    photo_name: str
    photo_file: str
    options: dict
    result: Optional[dict]
    stage_seconds: dict = field(default_factory=dict)
    share_url: Optional[str] = None
    created_at: float = 0.0
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    photos: list = field(default_factory=list)
    idempotency_key: Optional[str] = None

    @property
    def photo_names(self) -> list:
        return [p["name"] for p in self.photos]

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed")

    @property
    def elapsed_s(self) -> float:
        end = self.finished_at or time.time()
        return round(end - (self.started_at or self.created_at), 2)


def check_idempotency_key(key: Optional[str]) -> Optional[str]:
    """``key`` if it may be an Idempotency-Key (or None); BadOption otherwise."""
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise BadOption("Idempotency-Key must be 1-128 letters, digits or any of _ . : ~ + = - "
                        "(a UUID fits), without spaces")
    return key


def request_fingerprint(photos: Sequence[PhotoFile], stored_options: str) -> str:
    """What makes two submissions the same request: the options (defaults filled in) and each photo's
    name, format and bytes, in order (a SHA-256, so photos are compared without being kept twice)."""
    digest = hashlib.sha256()
    parts = [stored_options.encode()]
    for photo in photos:
        parts += [photo.name.encode(), photo.extension.encode(), hashlib.sha256(photo.data).digest()]
    for part in parts:  # each part with its length: no two different requests run together the same
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


@dataclass(frozen=True)
class ClaimStep:
    """What one delivery of a job by a broker does (:func:`claim_step`)."""

    run: bool                       # start attempt ``attempt``
    attempt: int = 0
    lost_attempt: Optional[int] = None  # the attempt whose worker was lost (its error to record)
    fail: bool = False              # fail the job with every attempt's reason


def claim_step(status: Optional[str], attempts_done: int, redelivered: bool) -> ClaimStep:
    """The one rule for a delivery of a job by a broker, shared by both stores.

    A queued job starts (attempt 1, or the next after an internal error). A running job
    delivered again (``redelivered``: its worker died before acknowledging it) has lost its
    attempt: it runs again, or fails with every attempt's reason once it has had
    ``MAX_ATTEMPTS``. Any other delivery (a finished or deleted job, or a duplicate of a running
    one) is skipped, so one job never runs twice at once.
    """
    if status not in ("queued", "running") or (status == "running" and not redelivered):
        return ClaimStep(run=False)
    lost = attempts_done if status == "running" and attempts_done else None
    if attempts_done >= MAX_ATTEMPTS:
        return ClaimStep(run=False, lost_attempt=lost, fail=True)
    return ClaimStep(run=True, attempt=attempts_done + 1, lost_attempt=lost)


def lost_worker_words(worker: str) -> str:
    return f"the worker building it ({worker}) was lost"


def reasons_of(attempts: Sequence[dict]) -> str:
    """Every attempt's reason, as a failed job's error."""
    return "; ".join(f"attempt {a['attempt']}: {a['error'] or 'interrupted'}" for a in attempts)


class JobStoreBase:
    """What every job store offers, and what the backends share: the job folders and the decisions.

    A backend implements the storage (``get`` ... ``delete``, ``_key_holder``, ``_insert``); the
    files, the idempotency rule and what a delivery does (:func:`claim_step`) live here.
    """

    #: The backend's name, for logs.
    backend = ""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        (self.data_dir / "jobs").mkdir(parents=True, exist_ok=True)

    def job_dir(self, job_id: str) -> Path:
        return self.data_dir / "jobs" / job_id

    def create(self, photos: Sequence[PhotoFile], options: dict, idempotency_key: Optional[str] = None) -> Job:
        """A queued job keeping ``photos`` (in order; the first is the front) and its ``options``."""
        return self.create_once(photos, options, idempotency_key)[0]

    def create_once(self, photos: Sequence[PhotoFile], options: dict,
                    idempotency_key: Optional[str] = None) -> tuple:
        """``(job, created)``: a new queued job, or the job an earlier request with ``idempotency_key`` made.

        A key names one request: the same key with the same photos and options answers that
        request's job (``created`` False: it must not be handed to a runner again); with other
        photos or options it is refused (BadOption). The key is stored with the job, and is free
        again once the job is deleted. Two requests racing with one key make one job.
        """
        check_idempotency_key(idempotency_key)
        if not photos:
            raise ValueError("a job needs at least one photo")
        stored_options = to_json(options)  # before any file is written: a bad value stores nothing
        fingerprint = request_fingerprint(photos, stored_options) if idempotency_key else None
        for _ in range(3):  # the holder of a key may be deleted between two looks: look again
            if idempotency_key:
                earlier = self._replay(idempotency_key, fingerprint)
                if earlier is not None:
                    return earlier, False
            job_id = secrets.token_urlsafe(16)
            folder = self.job_dir(job_id)
            folder.mkdir(parents=True)
            kept = []
            for number, photo in enumerate(photos, 1):
                photo_file = f"photo-{number}.{photo.extension}"
                write_bytes_atomic(folder / photo_file, photo.data)
                kept.append({"name": photo.name, "file": photo_file})
            row = {"id": job_id, "status": "queued", "stage": None, "progress": 0.0, "error": None,
                   "photo_name": kept[0]["name"], "photo_file": kept[0]["file"], "photos": to_json(kept),
                   "options": stored_options, "result": None, "stage_seconds": None, "share_url": None,
                   "created_at": time.time(), "started_at": None, "finished_at": None,
                   "idempotency_key": idempotency_key, "request_hash": fingerprint}
            if self._insert(row):
                return self.get(job_id), True
            shutil.rmtree(folder, ignore_errors=True)  # another request with the same key came first
        raise RuntimeError(f"the job of Idempotency-Key {idempotency_key!r} kept changing; try again")

    def _replay(self, key: str, fingerprint: str) -> Optional[Job]:
        held = self._key_holder(key)
        if held is None:
            return None
        job_id, stored = held
        if stored != fingerprint:
            raise BadOption(f"Idempotency-Key {key!r} was already used for a different request (other photos "
                            "or options); send a new key for a new job")
        return self.get(job_id)

    def attempt_reasons(self, job_id: str) -> str:
        return reasons_of(self.attempts(job_id))

    def recover_after_restart(self) -> list:
        """Fail jobs a previous server left running, and damaged ones; return the ids still queued (to run again)."""
        for job in self.list("running"):
            self.fail(job.id, job.error or "interrupted by a server restart; build it again", only_if=("running",))
        waiting = []
        for job in self.list("queued"):
            if job.status == "queued":
                waiting.append(job.id)
            else:  # a damaged record: record why it will never run
                self.fail(job.id, job.error, only_if=("queued",))
        return waiting

    def result_path(self, job: Job, name: str) -> Optional[Path]:
        if name not in RESULT_FILES or job.status != "succeeded":
            return None
        path = self.job_dir(job.id) / RESULT_FILES[name]
        return path if path.is_file() else None

    # The storage: each backend's own.
    def get(self, job_id: str) -> Optional[Job]:
        raise NotImplementedError

    def list(self, status: Optional[str] = None) -> list:
        """All jobs (or those with ``status``), oldest first."""
        raise NotImplementedError

    def queue_position(self, job: Job) -> Optional[int]:
        """1 for the next job to start (counting the running ones ahead); None unless ``job`` is queued."""
        raise NotImplementedError

    def mark_running(self, job_id: str) -> bool:
        """Start a queued job in the local pool; False when it is not queued (already taken, or deleted)."""
        raise NotImplementedError

    def claim(self, job_id: str, worker: str, redelivered: bool = False, device: Optional[str] = None
              ) -> Optional[int]:
        """Start an attempt at a job handed out by a broker, as :func:`claim_step` says, recording the
        ``worker`` and the ``device`` it builds on; the attempt's number, or None when it must not run."""
        raise NotImplementedError

    def end_attempt(self, job_id: str, attempt: int, error: str) -> bool:
        """Record why ``attempt`` failed; True when the job was queued again, False when it is failed now."""
        raise NotImplementedError

    def attempts(self, job_id: str) -> list:
        """Each attempt at a job handed out by a broker, oldest first: attempt, worker, device, started_at, error."""
        raise NotImplementedError

    def update_progress(self, job_id: str, stage: str, progress: float) -> bool:
        """Record progress; False when the job is not running any more (deleted meanwhile)."""
        raise NotImplementedError

    def finish(self, job_id: str, result: dict, stage_seconds: dict) -> None:
        raise NotImplementedError

    def fail(self, job_id: str, error: str, only_if: tuple = ("queued", "running")) -> None:
        raise NotImplementedError

    def events_after(self, job_id: str, seq: int) -> list:
        """Changes of a job after event number ``seq``, oldest first, as dicts (seq, status, stage, progress, at)."""
        raise NotImplementedError

    def set_share_url(self, job_id: str, url: str) -> None:
        raise NotImplementedError

    def delete(self, job_id: str) -> bool:
        """Remove a job, its events, attempts, key and folder; False when there was no such job."""
        raise NotImplementedError

    def _key_holder(self, key: str) -> Optional[tuple]:
        """``(job id, request fingerprint)`` of the job stored with idempotency ``key``, or None."""
        raise NotImplementedError

    def _insert(self, row: dict) -> bool:
        """Store a new job's ``row`` (every column); False when its idempotency key is taken already."""
        raise NotImplementedError


class JobStore(JobStoreBase):
    """The embedded store, for one host: ``jobs.sqlite3`` beside ``jobs/<id>/`` in ``data_dir``."""

    backend = "sqlite"

    def __init__(self, data_dir):
        super().__init__(data_dir)
        self.db_path = self.data_dir / "jobs.sqlite3"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            for table, column, kind in ADDED_COLUMNS:  # a store made by an older version gains them
                if column not in {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.execute(IDEMPOTENCY_INDEX)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _insert(self, row: dict) -> bool:
        columns = ", ".join(row)
        try:
            with self._connect() as db:
                db.execute(f"INSERT INTO jobs ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
        except sqlite3.IntegrityError:
            if row["idempotency_key"] is None:
                raise
            return False
        return True

    def _key_holder(self, key: str) -> Optional[tuple]:
        with self._connect() as db:
            found = db.execute("SELECT id, request_hash FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
        return (found["id"], found["request_hash"]) if found else None

    def get(self, job_id: str) -> Optional[Job]:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._job(row) if row else None

    def list(self, status: Optional[str] = None) -> list:
        query, args = "SELECT * FROM jobs", ()
        if status:
            query, args = query + " WHERE status = ?", (status,)
        with self._connect() as db:
            return [self._job(r) for r in db.execute(query + " ORDER BY created_at", args).fetchall()]

    def queue_position(self, job: Job) -> Optional[int]:
        if job.status != "queued":
            return None
        with self._connect() as db:
            ahead = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') AND created_at < ?",
                               (job.created_at,)).fetchone()[0]
        return int(ahead) + 1

    @staticmethod
    def _log(db, job_id: str, status: str, stage: Optional[str], progress: float) -> None:
        # Every change is also appended to job_events, so event streams replay each step in order.
        db.execute("INSERT INTO job_events (job_id, status, stage, progress, at) VALUES (?, ?, ?, ?, ?)",
                   (job_id, status, stage, progress, time.time()))

    def mark_running(self, job_id: str) -> bool:
        with self._connect() as db:
            changed = db.execute("UPDATE jobs SET status = 'running', started_at = ?, progress = 0 "
                                 "WHERE id = ? AND status = 'queued'", (time.time(), job_id)).rowcount
            if changed:
                self._log(db, job_id, "running", None, 0.0)
        return changed == 1

    def claim(self, job_id: str, worker: str, redelivered: bool = False, device: Optional[str] = None
              ) -> Optional[int]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")  # one claimer at a time: the read and the writes are one step
            row = db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
            done = db.execute("SELECT COUNT(*) FROM job_attempts WHERE job_id = ?", (job_id,)).fetchone()[0]
            step = claim_step(row["status"] if row else None, done, redelivered)
            if step.lost_attempt is not None:
                db.execute("UPDATE job_attempts SET error = COALESCE(error, ?) WHERE job_id = ? AND attempt = ?",
                           (lost_worker_words(self._attempt_worker(db, job_id, step.lost_attempt)), job_id,
                            step.lost_attempt))
            if step.run:
                db.execute("INSERT INTO job_attempts (job_id, attempt, worker, device, started_at) "
                           "VALUES (?, ?, ?, ?, ?)", (job_id, step.attempt, worker, device, time.time()))
                db.execute("UPDATE jobs SET status = 'running', started_at = ?, stage = NULL, progress = 0 "
                           "WHERE id = ?", (time.time(), job_id))
                self._log(db, job_id, "running", None, 0.0)
            db.execute("COMMIT")
        if step.fail:
            self.fail(job_id, self.attempt_reasons(job_id))
        return step.attempt if step.run else None

    @staticmethod
    def _attempt_worker(db, job_id: str, attempt: int) -> str:
        row = db.execute("SELECT worker FROM job_attempts WHERE job_id = ? AND attempt = ?",
                         (job_id, attempt)).fetchone()
        return row["worker"] if row else "unknown"

    def end_attempt(self, job_id: str, attempt: int, error: str) -> bool:
        with self._connect() as db:
            db.execute("UPDATE job_attempts SET error = ? WHERE job_id = ? AND attempt = ?", (error, job_id, attempt))
            if attempt < MAX_ATTEMPTS:
                changed = db.execute("UPDATE jobs SET status = 'queued', stage = NULL, progress = 0 "
                                     "WHERE id = ? AND status = 'running'", (job_id,)).rowcount
                if changed:
                    self._log(db, job_id, "queued", None, 0.0)
                return changed == 1
        self.fail(job_id, self.attempt_reasons(job_id))
        return False

    def attempts(self, job_id: str) -> list:
        with self._connect() as db:
            rows = db.execute("SELECT attempt, worker, device, started_at, error FROM job_attempts "
                              "WHERE job_id = ? ORDER BY attempt", (job_id,)).fetchall()
        return [dict(row) for row in rows]

    def update_progress(self, job_id: str, stage: str, progress: float) -> bool:
        progress = round(float(progress), 1)
        with self._connect() as db:
            changed = db.execute("UPDATE jobs SET stage = ?, progress = ? WHERE id = ? AND status = 'running'",
                                 (stage, progress, job_id)).rowcount
            if changed:
                self._log(db, job_id, "running", stage, progress)
        return changed == 1

    def finish(self, job_id: str, result: dict, stage_seconds: dict) -> None:
        with self._connect() as db:
            changed = db.execute("UPDATE jobs SET status = 'succeeded', progress = 100, stage = 'export', "
                                 "result = ?, stage_seconds = ?, finished_at = ? WHERE id = ?",
                                 (to_json(result), to_json(stage_seconds), time.time(), job_id)).rowcount
            if changed:
                self._log(db, job_id, "succeeded", "export", 100.0)

    def fail(self, job_id: str, error: str, only_if: tuple = ("queued", "running")) -> None:
        marks = ",".join("?" * len(only_if))
        with self._connect() as db:
            changed = db.execute(f"UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? "
                                 f"AND status IN ({marks})", (error, time.time(), job_id, *only_if)).rowcount
            if changed:
                row = db.execute("SELECT stage, progress FROM jobs WHERE id = ?", (job_id,)).fetchone()
                self._log(db, job_id, "failed", row["stage"], row["progress"])

    def events_after(self, job_id: str, seq: int) -> list:
        with self._connect() as db:
            rows = db.execute("SELECT seq, status, stage, progress, at FROM job_events WHERE job_id = ? AND seq > ? "
                              "ORDER BY seq", (job_id, seq)).fetchall()
        return [dict(row) for row in rows]

    def set_share_url(self, job_id: str, url: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET share_url = ? WHERE id = ?", (url, job_id))

    def delete(self, job_id: str) -> bool:
        with self._connect() as db:
            deleted = db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount
            db.execute("DELETE FROM job_events WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM job_attempts WHERE job_id = ?", (job_id,))
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return deleted == 1

    @staticmethod
    def _job(row: sqlite3.Row) -> Job:
        return job_of_row(row)


def job_of_row(row) -> Job:
    """The job a stored row holds (an SQLite row, or the mapping a Redis hash decodes to), or a
    failed job saying the row is damaged (never an exception)."""
    try:
        return _read_job(row)
    except DamagedRecord as exc:
        return Job(id=str(row["id"]), status="failed", stage=None, progress=0.0,
                   error=f"this job's stored record is damaged ({exc}); delete it and build it again",
                   photo_name=str(row["photo_name"]), photo_file=str(row["photo_file"]), options={}, result=None,
                   created_at=_finite_or_zero(row["created_at"]))


def _read_job(row) -> Job:
    for column in row.keys():
        if row[column] is UNREADABLE:
            raise DamagedRecord(f"{column} is not JSON")
    if row["status"] not in STATUSES:
        raise DamagedRecord(f"unknown status {row['status']!r}")
    for column in ("progress", "created_at", "started_at", "finished_at"):
        value = row[column]
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise DamagedRecord(f"{column} is not a finite number")
    if row["progress"] is None or row["created_at"] is None:
        raise DamagedRecord("progress or created_at is missing")
    photos = from_json(row["photos"], list, "photos")
    if photos is not None and not all(isinstance(p, dict) and {"name", "file"} <= set(p) for p in photos):
        raise DamagedRecord("photos does not list each photo's name and file")
    return Job(id=row["id"], status=row["status"], stage=row["stage"], progress=row["progress"],
               error=row["error"], photo_name=row["photo_name"], photo_file=row["photo_file"],
               options=from_json(row["options"], dict, "options"), result=from_json(row["result"], dict, "result"),
               stage_seconds=from_json(row["stage_seconds"], dict, "stage_seconds") or {},
               share_url=row["share_url"], created_at=row["created_at"], started_at=row["started_at"],
               finished_at=row["finished_at"], idempotency_key=row["idempotency_key"],
               photos=photos or [{"name": row["photo_name"], "file": row["photo_file"]}])


#: A stored value that could not be decoded (a damaged Redis field); :func:`job_of_row` names it.
UNREADABLE = object()


def _finite_or_zero(value) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0


def open_job_store(data_dir, broker: Optional[str] = None) -> JobStoreBase:
    """The one place a job store is chosen: in the broker's Redis with ``broker`` (jobs on workers,
    possibly on other machines), else the embedded SQLite store (one host)."""
    if broker:
        from fabricate.jobs.redis_store import RedisJobStore

        return RedisJobStore(data_dir, broker)
    return JobStore(data_dir)
