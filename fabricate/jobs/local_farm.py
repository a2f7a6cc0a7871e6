"""A Redis broker and Celery workers on this machine, for tests and benchmarks (and a one-machine farm).

Redis is started on 127.0.0.1 only, with its append-only file on; the workers are `fabricate
worker` processes, each in its own session so that stopping one stops its build processes too.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

#: The source tree, so a worker runs the same code as its caller.
ROOT = Path(__file__).resolve().parents[2]


def redis_server_path() -> Optional[str]:
    return shutil.which("redis-server")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of its own in ``folder``; ``kill`` then ``start`` again keeps its queue (append-only file)."""

    def __init__(self, folder):
        self.folder, self.port, self.process = Path(folder), free_port(), None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20) -> "RedisServer":
        import redis

        # appendfsync always: even a SIGKILL loses no acknowledged write.
        self.process = subprocess.Popen(
            [redis_server_path() or "redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.folder), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--protected-mode", "yes"],
            stdout=open(self.folder / "redis.log", "a"), stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return self
            except redis.exceptions.ConnectionError:
                pass
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start: " + (self.folder / "redis.log").read_text()[-2000:])
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def start_worker(broker: str, data_dir, log, concurrency: int = 1, home=None,
                 job_time_limit_s: Optional[int] = None) -> subprocess.Popen:
    """A `fabricate worker` process on ``broker`` sharing ``data_dir``, its output appended to ``log``.

    ``home``: a folder of its own to run in, as its home and working directory (as on another
    machine: nothing of the caller's but the broker and ``data_dir``, which it may reach by
    another path, such as a mount).
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if home is not None:
        Path(home).mkdir(parents=True, exist_ok=True)
        env.update(HOME=str(home), XDG_DATA_HOME=str(Path(home) / ".local" / "share"))
    limit = ["--job-time-limit", str(job_time_limit_s)] if job_time_limit_s else []
    return subprocess.Popen([sys.executable, "-m", "fabricate.cli", "worker", "--broker", broker, "--data-dir",
                             str(data_dir), "--concurrency", str(concurrency), *limit],
                            stdout=open(log, "a"), stderr=subprocess.STDOUT, cwd=home or ROOT,
                            env=env, start_new_session=True)


def wait_for_workers(broker: str, count: int, timeout: float = 180) -> None:
    """Return once ``count`` workers answer on ``broker``."""
    from fabricate.jobs.celery_runner import celery_app

    app = celery_app(broker)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(app.control.ping(timeout=1.0) or []) >= count:
                return
        raise RuntimeError(f"{count} workers did not answer in {timeout} s")
    finally:
        app.close()


def stop_worker(process: subprocess.Popen) -> None:
    """Stop a worker from :func:`start_worker` and its build processes at once."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
