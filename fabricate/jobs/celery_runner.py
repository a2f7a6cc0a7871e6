"""Jobs on Celery workers through a Redis broker: `serve --broker`, `fabricate worker`, `batch --broker`.

The server and every worker share one data folder (a shared disk such as NFS) for files only:
workers read a job's photos there and write its files there, atomically. Job state, attempts and
progress events live in the broker's Redis (:class:`fabricate.jobs.redis_store.RedisJobStore`,
chosen by ``open_job_store``), which the page's event stream reads as it reads SQLite without a
broker, so a worker on any machine needs only the broker URL and the data folder. The broker
carries only job ids (and, for batches, file paths), never photos.

What keeps jobs (see ``celery_app``): a task is acknowledged only after it ran (``acks_late``),
and a worker process that dies mid-job (OOM, SIGKILL) gives its job back to the queue
(``reject_on_worker_lost``); the store decides what each delivery does (``claim_step``: one
re-run, then failed with both reasons; a duplicate never runs beside the original). Redis with
its append-only file keeps the queue (and the job store) across a broker restart.

A worker whose whole machine stops (a power cut) acknowledges nothing and gives nothing back;
Redis hands its job out again once the visibility timeout has passed. That timeout must be
longer than any job, or a job still building would be handed out a second time; so every job
has a time limit (``JOB_TIME_LIMIT_S``) and the timeout is derived from it (:func:`job_limits`).
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Optional

from fabricate.errors import FabricateError
from fabricate.jobs.runner import build_and_record, die_with_parent, failure_words
from fabricate.jobs.store import JobStoreBase, open_job_store

log = logging.getLogger("fabricate.jobs")

BUILD_JOB = "fabricate.build_job"
BUILD_BATCH_ITEM = "fabricate.build_batch_item"
#: The longest a job may build on a worker; it is then stopped and failed, saying so. About 50 times
#: the longest build measured (resolution 1024 from one photo: 35 s on 2 shared cores), so only a
#: stuck build reaches it, and short enough that a power cut re-queues a job within the hour.
#: Every worker of a farm must use the same (`fabricate worker --job-time-limit`): the visibility
#: timeout that follows from it is applied by whichever worker finds an unacknowledged job.
JOB_TIME_LIMIT_S = 30 * 60
#: How long batch results stay in Redis.
RESULT_EXPIRES_S = 24 * 3600
#: How often `batch --broker` looks for finished items.
BATCH_POLL_S = 0.5


def job_limits(job_time_limit_s: int = JOB_TIME_LIMIT_S) -> dict:
    """The Celery and Redis times that follow from a job time limit, in seconds.

    ``soft``: the build is interrupted (the job fails, saying it took too long); ``hard``: a
    build that does not stop (inside a long C call) is killed; ``visibility``: how long Redis
    keeps a taken job before handing it out again (after a power cut), longer than ``hard`` so
    a job still building is never handed out twice; ``restore_every``: how often workers look
    for such jobs (Kombu's default sweep, every 100 s, would add more than the timeout itself
    when the limit is short).
    """
    margin = max(5, job_time_limit_s // 10)
    hard = job_time_limit_s + margin
    visibility = hard + margin
    return {"soft": job_time_limit_s, "hard": hard, "visibility": visibility,
            "restore_every": max(1, min(60, visibility // 10))}


def time_limit_words(job_time_limit_s: int) -> str:
    return (f"stopped after {job_time_limit_s} s, the longest a job may build on the workers "
            "(fabricate worker --job-time-limit)")


def celery_app(broker: str, data_dir=None, job_time_limit_s: int = JOB_TIME_LIMIT_S):
    """The Celery app of fabricate's tasks on ``broker`` (a redis:// URL); ``data_dir`` is where job files are."""
    from celery import Celery, Task
    from celery.exceptions import TimeLimitExceeded
    from celery.signals import worker_process_init

    limits = job_limits(job_time_limit_s)
    redis_options = {"visibility_timeout": limits["visibility"],
                     "unacked_restore_interval": limits["restore_every"], "unacked_restore_throttle": 1}
    app = Celery("fabricate", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,                # acknowledged after the job ran, not when it was taken
        task_reject_on_worker_lost=True,    # a worker process that died gives its job back
        worker_prefetch_multiplier=1,       # long jobs: a worker holds only the job it builds
        worker_cancel_long_running_tasks_on_connection_loss=False,  # a broker restart does not stop builds
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for a restarting broker for ever
        broker_transport_options=redis_options,
        result_backend_transport_options={"visibility_timeout": limits["visibility"]},
        task_soft_time_limit=limits["soft"], task_time_limit=limits["hard"],
        result_expires=RESULT_EXPIRES_S,
        task_serializer="json", result_serializer="json", accept_content=["json"],  # never pickle
        worker_hijack_root_logger=False,
    )
    app.conf.fabricate_data_dir = str(data_dir) if data_dir is not None else None
    app.conf.fabricate_broker = broker
    app.conf.fabricate_job_time_limit_s = job_time_limit_s

    class BuildJobTask(Task):
        def on_failure(self, exc, task_id, args, kwargs, einfo):
            # A build killed at the hard limit (it ignored the soft one): the worker's main process
            # records it, as the build process that would have is gone.
            if isinstance(exc, TimeLimitExceeded) and args:
                worker_store(self.app).fail(args[0], time_limit_words(job_time_limit_s))

    @app.task(name=BUILD_JOB, bind=True, ignore_result=True, base=BuildJobTask)  # the outcome is in the store
    def build_job_task(task, job_id: str) -> str:
        return run_delivered_job(task, job_id)

    @app.task(name=BUILD_BATCH_ITEM)
    def build_batch_item_task(item: dict, options: dict, out_dir: str) -> dict:
        from fabricate.jobs.batch import BatchItem, build_item

        item = BatchItem(item["name"], tuple(item["photos"]), item.get("views"))
        return asdict(build_item(item, options, Path(out_dir)))

    @worker_process_init.connect(weak=False)
    def end_with_worker(**_):
        # A build process ends with its worker, however the worker ends (as the local pool's do).
        die_with_parent(os.getppid())

    return app


#: Each process's job store, by (pid, data folder, broker): one Redis connection pool per process.
_stores: dict = {}


def worker_store(app) -> JobStoreBase:
    """The job store a worker process writes: in the broker's Redis, files under the data folder."""
    from fabricate.jobs import default_data_dir

    key = (os.getpid(), app.conf.fabricate_data_dir, app.conf.fabricate_broker)
    if key not in _stores:
        _stores[key] = open_job_store(app.conf.fabricate_data_dir or default_data_dir(), app.conf.fabricate_broker)
    return _stores[key]


def run_delivered_job(task, job_id: str) -> str:
    """One delivery of a web job to a worker: claim it, build it, record the outcome."""
    from celery.exceptions import SoftTimeLimitExceeded

    from fabricate.jobs.device import build_device

    store = worker_store(task.app)
    request = task.request
    redelivered = bool((request.delivery_info or {}).get("redelivered") or getattr(request, "redelivered", False))
    attempt = store.claim(job_id, f"{request.hostname} pid {os.getpid()}", redelivered=redelivered,
                          device=build_device())
    if attempt is None:
        return "skipped"

    def record_failure(exc: Exception) -> None:
        # The photos or options (a FabricateError) would give the same answer again, and so would a
        # build that took too long: failed at once. Anything else (a bug, memory) gets the one more
        # attempt a lost worker gets.
        words = failure_words(exc, job_id)
        if isinstance(exc, SoftTimeLimitExceeded):
            store.fail(job_id, time_limit_words(task.app.conf.fabricate_job_time_limit_s))
        elif isinstance(exc, FabricateError):
            store.fail(job_id, words)
        elif store.end_attempt(job_id, attempt, words):
            raise task.retry(countdown=1, max_retries=None) from None

    return build_and_record(store, job_id, record_failure)


class CeleryJobRunner:
    """JobRunner's interface, handing every job to Celery workers through ``broker``."""

    def __init__(self, store: JobStoreBase, broker: str):
        self.store = store
        self.app = celery_app(broker, store.data_dir)

    def submit(self, job_id: str) -> None:
        # The task id is the job id: revoke finds it by that, and the store dedupes deliveries by it.
        self.app.send_task(BUILD_JOB, args=[job_id], task_id=job_id, retry=True,
                           retry_policy={"max_retries": 10, "interval_start": 0.2, "interval_step": 0.5,
                                         "interval_max": 2})

    def resume(self) -> None:
        """After a server restart: hand queued jobs out again (a copy already queued is skipped by the store).

        Running jobs are left alone: they run on workers, not in this server.
        """
        for job in self.store.list("queued"):
            self.submit(job.id)

    def cancel(self, job_id: str) -> None:
        """Revoke a deleted job: workers drop it unrun; one already building stops at its next progress step."""
        self.app.control.revoke(job_id)

    def shutdown(self, wait: bool = False) -> None:
        self.app.close()


class CeleryBatchBuilder:
    """`fabricate batch --broker`: hands every item to the workers and yields each row as it finishes."""

    def __init__(self, broker: str):
        self.app = celery_app(broker)

    def __call__(self, items: list, options: dict, out_dir: Path) -> Iterator:
        from fabricate.jobs.batch import SummaryRow

        out = str(Path(out_dir).resolve())  # workers elsewhere need whole paths
        pending = {}
        for item in items:
            shipped = {"name": item.name, "photos": [str(Path(p).resolve()) for p in item.photos],
                       "views": item.views}
            pending[item.name] = self.app.send_task(BUILD_BATCH_ITEM, args=[shipped, options, out])
        while pending:
            for name, result in list(pending.items()):
                if result.ready():
                    del pending[name]
                    try:
                        yield SummaryRow(**result.get(propagate=True))
                    except Exception as exc:  # the worker could not run it at all
                        yield SummaryRow(name=name, error=f"worker error ({type(exc).__name__}: {exc})")
            time.sleep(BATCH_POLL_S)


def run_worker(broker: str, data_dir=None, concurrency: int = 1, loglevel: str = "INFO",
               job_time_limit_s: int = JOB_TIME_LIMIT_S) -> None:
    """`fabricate worker`: build jobs from ``broker`` with ``concurrency`` processes until stopped."""
    from fabricate.jobs import default_data_dir
    from fabricate.jobs.device import build_device

    app = celery_app(broker, Path(data_dir or default_data_dir()), job_time_limit_s)
    store = worker_store(app)  # the store (Redis) and the data folder must be reachable before taking jobs
    limits = job_limits(job_time_limit_s)
    # Asked once, before the build processes are forked; each attempt records it.
    print(f"fabricate worker: device {build_device()}; job files in {store.data_dir}, job records in the broker's "
          f"{store.backend}; time limit {limits['soft']} s (a lost machine's job is handed out again after "
          f"{limits['visibility']} s)", file=sys.stderr, flush=True)
    app.worker_main(["worker", f"--concurrency={concurrency}", "--pool=prefork", f"--loglevel={loglevel}",
                     "-O", "fair", "--without-gossip", "--without-mingle",
                     f"--hostname=fabricate-{os.getpid()}@{socket.gethostname()}"])


def redis_url_ok(url: Optional[str]) -> Optional[str]:
    """``url`` if it names a Redis broker; raises BadOption otherwise (checked before anything starts)."""
    from fabricate.errors import BadOption

    if url is None:
        return None
    if not url.startswith(("redis://", "rediss://")):
        raise BadOption(f"--broker must be a redis:// or rediss:// URL, got {url!r}")
    return url
