"""The share queue: every share to a hub with an API is a record that survives a crash.

``shares.sqlite`` beside the jobs holds each share (hub, package as paths and metadata,
state, link, last error, when to try again) and its steps in order (state, result,
idempotency key). A step is marked *sent* before its request goes out and *done* with
the hub's answer, so after a lost answer or a killed process the queue knows exactly
which request may have happened: it asks the hub (the adapter's recheck) before sending
it again, and starts at the next unfinished step. No token is ever written here: the
adapter reads it from the user's config or keyring each time it runs.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fabricate.errors import InputError
from fabricate.hub.adapters import HubAdapter, Step
from fabricate.hub.package import ModelPackage
from fabricate.hub.transport import AnswerLost, HubAnswerUnreadable, HubError, HubRefused, HubUnreachable

SCHEMA = """
CREATE TABLE IF NOT EXISTS shares (
    id TEXT PRIMARY KEY, hub TEXT NOT NULL, title TEXT NOT NULL, package TEXT NOT NULL,
    state TEXT NOT NULL, link TEXT, error TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0, owner_pid INTEGER, created_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS steps (
    share_id TEXT NOT NULL REFERENCES shares(id), position INTEGER NOT NULL, name TEXT NOT NULL,
    group_name TEXT NOT NULL, args TEXT NOT NULL, idempotency_key TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT, seen_before TEXT, PRIMARY KEY (share_id, position));
"""
#: A share waits at most this long between two tries across restarts.
MAX_RETRY_DELAY_S = 3600.0
UNFINISHED = ("queued", "running", "waiting")


@dataclass
class ShareStatus:
    id: str
    hub: str
    title: str
    state: str  # queued, running, waiting (tried again at next_attempt_at), done, failed
    link: Optional[str]
    error: Optional[str]
    steps_done: int
    steps_total: int
    next_attempt_at: float
    created_at: float = 0.0
    #: Each step in order, ``{"name", "state"}`` (pending, sent: its answer not yet known, done): the progress.
    steps: list = field(default_factory=list)

    def line(self) -> str:
        """One line for `fabricate share --status`."""
        text = f"{self.id}  {self.hub:<11} {self.state:<8} {self.steps_done}/{self.steps_total} steps  {self.title}"
        if self.link:
            text += f"  {self.link}"
        if self.state == "waiting":
            text += f"  (next try {time.strftime('%H:%M:%S', time.localtime(self.next_attempt_at))})"
        if self.error and self.state != "done":
            text += f"  [{self.error}]"
        return text


class ShareQueue:
    def __init__(self, data_dir: Path, now=time.time):
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(data_dir) / "shares.sqlite"
        self.now = now
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self):
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return _Closing(db)

    def add(self, hub: str, package: ModelPackage, steps: list) -> str:
        """Record a new share and its steps (planned, and so checked, by the adapter beforehand)."""
        share_id = uuid.uuid4().hex[:12]
        now = self.now()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO shares (id, hub, title, package, state, created_at, updated_at) "
                       "VALUES (?, ?, ?, ?, 'queued', ?, ?)",
                       (share_id, hub, package.title, json.dumps(package.to_record()), now, now))
            db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, NULL)",
                           [(share_id, position, step.name, step.group, json.dumps(step.args), str(uuid.uuid4()))
                            for position, step in enumerate(steps)])
            db.execute("COMMIT")
        return share_id

    def status(self, share_id: Optional[str] = None, model_path: Optional[Path] = None) -> list:
        """Every share (or the one asked for, or those of one model file), newest first."""
        where, values = [], []
        if share_id:
            where.append("s.id = ?")
            values.append(share_id)
        if model_path:
            where.append("json_extract(s.package, '$.model_path') = ?")
            values.append(str(model_path))
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.*, (SELECT COUNT(*) FROM steps WHERE share_id = s.id AND state = 'done') AS done_count, "
                "(SELECT COUNT(*) FROM steps WHERE share_id = s.id) AS step_count FROM shares s "
                + (f"WHERE {' AND '.join(where)} " if where else "") + "ORDER BY s.created_at DESC",
                values).fetchall()
            steps = {}
            for step in db.execute(f"SELECT share_id, name, state FROM steps WHERE share_id IN "
                                   f"({', '.join('?' * len(rows))}) ORDER BY share_id, position",
                                   [row["id"] for row in rows]):
                steps.setdefault(step["share_id"], []).append({"name": step["name"], "state": step["state"]})
        return [ShareStatus(row["id"], row["hub"], row["title"], row["state"], row["link"], row["error"],
                            row["done_count"], row["step_count"], row["next_attempt_at"], row["created_at"],
                            steps.get(row["id"], [])) for row in rows]

    def due(self) -> list:
        """Unfinished shares whose next try has come and that no live process is running."""
        with self._connect() as db:
            rows = db.execute("SELECT id, owner_pid FROM shares WHERE state IN (?, ?, ?) AND next_attempt_at <= ? "
                              "ORDER BY created_at", (*UNFINISHED, self.now())).fetchall()
        return [row["id"] for row in rows if not _alive(row["owner_pid"])]

    def hub_of(self, share_id: str) -> str:
        with self._connect() as db:
            row = db.execute("SELECT hub FROM shares WHERE id = ?", (share_id,)).fetchone()
        if row is None:
            raise InputError(f"no share {share_id!r}; `fabricate share --status` lists them")
        return row["hub"]

    def run(self, share_id: str, adapter: HubAdapter, sleep=time.sleep) -> ShareStatus:
        """Run a share's unfinished steps in order; on failure record why and, when a retry can help, when."""
        self._claim(share_id)
        try:
            steps = self._steps(share_id)
            done = {step.name: result for step, state, _, result, _ in steps if state == "done"}
            for step, state, key, _, seen_before in steps:
                if state != "done":
                    self._run_step(share_id, step, state, key, seen_before, adapter, done, sleep)
            self._finish(share_id, "done", link=adapter.link(done))
        except (HubRefused, HubAnswerUnreadable, InputError) as exc:  # retrying cannot help: the user must act
            self._finish(share_id, "failed", error=str(exc))
        except OSError as exc:  # a file of the share was moved or deleted since it was queued
            self._finish(share_id, "failed", error=f"cannot read {exc.filename or 'a file of the share'}: "
                                                   f"{exc.strerror or exc}")
        except HubError as exc:
            self._wait(share_id, str(exc), adapter.config.backoff_s)
        finally:
            with self._connect() as db:
                db.execute("UPDATE shares SET owner_pid = NULL WHERE id = ? AND owner_pid = ?", (share_id, os.getpid()))
        return self.status(share_id)[0]

    def _run_step(self, share_id, step: Step, state: str, key: str, seen_before, adapter: HubAdapter, done: dict,
                  sleep):
        policy = adapter.config.policy()
        if state == "pending":
            # What the hub already holds that a recheck could mistake for this step's work (an older thing
            # of the same name), noted before the first send.
            seen_before = adapter.seen_before(step, done)
            with self._connect() as db:
                db.execute("UPDATE steps SET seen_before = ? WHERE share_id = ? AND name = ?",
                           (json.dumps(seen_before), share_id, step.name))
        problem = None
        for attempt in range(1, policy.attempts + 1):
            try:
                if state == "sent":  # the last request's outcome is unknown: ask the hub first
                    rechecked = adapter.recheck(step, done, seen_before)
                    if rechecked is not None:
                        result, whole_group = rechecked
                        self._done(share_id, step, result, whole_group, done)
                        return
                self._mark(share_id, step.name, "sent")
                state = "sent"
                self._done(share_id, step, adapter.run(step, done, key), False, done)
                return
            except AnswerLost as exc:
                problem = exc
                if attempt < policy.attempts:
                    sleep(policy.delay(attempt))
        raise HubUnreachable(f"{problem} after {policy.attempts} attempts")

    def _steps(self, share_id: str) -> list:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM steps WHERE share_id = ? ORDER BY position", (share_id,)).fetchall()
        return [(Step(row["name"], row["group_name"], json.loads(row["args"])), row["state"], row["idempotency_key"],
                 json.loads(row["result"]) if row["result"] else None,
                 json.loads(row["seen_before"]) if row["seen_before"] else None) for row in rows]

    def _mark(self, share_id: str, name: str, state: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE steps SET state = ? WHERE share_id = ? AND name = ?", (state, share_id, name))

    def _done(self, share_id: str, step: Step, result: dict, whole_group: bool, done: dict) -> None:
        """Record ``step`` done (or every step of its group, when the hub shows the whole object there)."""
        with self._connect() as db:
            if whole_group:
                names = [row["name"] for row in db.execute(
                    "SELECT name FROM steps WHERE share_id = ? AND group_name = ?", (share_id, step.group))]
            else:
                names = [step.name]
            db.execute("BEGIN IMMEDIATE")
            for name in names:
                db.execute("UPDATE steps SET state = 'done', result = COALESCE(result, ?) WHERE share_id = ? "
                           "AND name = ?", (json.dumps(result), share_id, name))
                done.setdefault(name, result)
            db.execute("UPDATE shares SET updated_at = ? WHERE id = ?", (self.now(), share_id))
            db.execute("COMMIT")

    def _claim(self, share_id: str) -> None:
        """Take the share for this process, unless another live one is running it (no step sent twice)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT state, owner_pid FROM shares WHERE id = ?", (share_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise InputError(f"no share {share_id!r}; `fabricate share --status` lists them")
            if row["owner_pid"] not in (None, os.getpid()) and _alive(row["owner_pid"]):
                db.execute("ROLLBACK")
                raise HubError(f"share {share_id} is being run by process {row['owner_pid']}")
            db.execute("UPDATE shares SET state = 'running', owner_pid = ?, updated_at = ? WHERE id = ?",
                       (os.getpid(), self.now(), share_id))
            db.execute("COMMIT")

    def _finish(self, share_id: str, state: str, link: Optional[str] = None, error: Optional[str] = None) -> None:
        with self._connect() as db:
            db.execute("UPDATE shares SET state = ?, link = COALESCE(?, link), error = ?, updated_at = ? WHERE id = ?",
                       (state, link, error, self.now(), share_id))

    def _wait(self, share_id: str, error: str, backoff_s: float) -> None:
        """Try again later, each time twice as late (at most an hour), whichever process comes next."""
        with self._connect() as db:
            attempts = db.execute("SELECT attempts FROM shares WHERE id = ?", (share_id,)).fetchone()["attempts"] + 1
            delay = min(MAX_RETRY_DELAY_S, max(backoff_s, 1.0) * 2 ** attempts)
            db.execute("UPDATE shares SET state = 'waiting', error = ?, attempts = ?, next_attempt_at = ?, "
                       "updated_at = ? WHERE id = ?", (error, attempts, self.now() + delay, self.now(), share_id))


class _Closing:
    """A connection that closes when the ``with`` ends (sqlite3's own only ends a transaction)."""

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        return self.db

    def __exit__(self, *exc):
        self.db.close()


def _alive(pid: Optional[int]) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def share(hub: str, package: ModelPackage, data_dir: Path, publish: bool = False, private: bool = False,
          config=None, sleep=time.sleep) -> ShareStatus:
    """Plan (every refusal comes here, before any request), record, then run a share to ``hub``."""
    from fabricate.hub.adapters import hub_adapter

    adapter = hub_adapter(hub, config, sleep=sleep)
    steps = adapter.plan(package, publish=publish, private=private)
    queue = ShareQueue(data_dir)
    return queue.run(queue.add(hub, package, steps), adapter, sleep=sleep)


def resume(data_dir: Path, configs: Optional[dict] = None, sleep=time.sleep) -> list:
    """Run every unfinished share whose next try has come, each from its next unfinished step."""
    from fabricate.hub.adapters import hub_adapter

    queue = ShareQueue(data_dir)
    results = []
    for share_id in queue.due():
        hub = queue.hub_of(share_id)
        results.append(queue.run(share_id, hub_adapter(hub, (configs or {}).get(hub), sleep=sleep), sleep=sleep))
    return results
