"""Jobs on Celery workers through a Redis broker: `serve --broker`, `fabricate worker`, `batch --broker`.

The server and every worker share one data folder (a shared disk such as NFS): workers read a
job's photos there, write its files there and record its progress in the same job store the
local pool writes, so the page's live progress works unchanged. The broker carries only job
ids (and, for batches, file paths), never photos.

What keeps jobs (see ``celery_app``): a task is acknowledged only after it ran (``acks_late``),
and a worker process that dies mid-job (OOM, SIGKILL) gives its job back to the queue
(``reject_on_worker_lost``); the store decides what each delivery does (``JobStore.claim``: one
re-run, then failed with both reasons; a duplicate never runs beside the original). Redis with
its append-only file keeps the queue across a broker restart.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterator, Optional

from fabricate.errors import FabricateError
from fabricate.jobs.runner import build_and_record, die_with_parent, failure_words
from fabricate.jobs.store import JobStore

log = logging.getLogger("fabricate.jobs")

BUILD_JOB = "fabricate.build_job"
BUILD_BATCH_ITEM = "fabricate.build_batch_item"
#: How long Redis waits for an unacknowledged job before handing it out again. It must exceed the
#: longest job (else a long job would run twice); a worker that dies with its machine (power cut)
#: has its job re-queued after this long. A worker *process* that dies is re-queued at once.
VISIBILITY_TIMEOUT_S = 6 * 3600
#: How long batch results stay in Redis.
RESULT_EXPIRES_S = 24 * 3600
#: How often `batch --broker` looks for finished items.
BATCH_POLL_S = 0.5


def celery_app(broker: str, data_dir=None):
    """The Celery app of fabricate's tasks on ``broker`` (a redis:// URL); ``data_dir`` is where jobs are."""
    from celery import Celery
    from celery.signals import worker_process_init

    app = Celery("fabricate", broker=broker, backend=broker, set_as_current=False)
    app.conf.update(
        task_acks_late=True,                # acknowledged after the job ran, not when it was taken
        task_reject_on_worker_lost=True,    # a worker process that died gives its job back
        worker_prefetch_multiplier=1,       # long jobs: a worker holds only the job it builds
        worker_cancel_long_running_tasks_on_connection_loss=False,  # a broker restart does not stop builds
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for a restarting broker for ever
        broker_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_backend_transport_options={"visibility_timeout": VISIBILITY_TIMEOUT_S},
        result_expires=RESULT_EXPIRES_S,
        task_serializer="json", result_serializer="json", accept_content=["json"],  # never pickle
        worker_hijack_root_logger=False,
    )
    app.conf.fabricate_data_dir = str(data_dir) if data_dir is not None else None

    @app.task(name=BUILD_JOB, bind=True, ignore_result=True)  # the outcome is in the job store
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


def run_delivered_job(task, job_id: str) -> str:
    """One delivery of a web job to a worker: claim it, build it, record the outcome."""
    from fabricate.jobs import default_data_dir

    store = JobStore(task.app.conf.fabricate_data_dir or default_data_dir())
    request = task.request
    redelivered = bool((request.delivery_info or {}).get("redelivered") or getattr(request, "redelivered", False))
    attempt = store.claim(job_id, f"{request.hostname} pid {os.getpid()}", redelivered=redelivered)
    if attempt is None:
        return "skipped"

    def record_failure(exc: Exception) -> None:
        # The photos or options (a FabricateError) would give the same answer again: failed at once.
        # Anything else (a bug, memory) gets the one more attempt a lost worker gets.
        words = failure_words(exc, job_id)
        if isinstance(exc, FabricateError):
            store.fail(job_id, words)
        elif store.end_attempt(job_id, attempt, words):
            raise task.retry(countdown=1, max_retries=None) from None

    return build_and_record(store, job_id, record_failure)


class CeleryJobRunner:
    """JobRunner's interface, handing every job to Celery workers through ``broker``."""

    def __init__(self, store: JobStore, broker: str):
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


def run_worker(broker: str, data_dir=None, concurrency: int = 1, loglevel: str = "INFO") -> None:
    """`fabricate worker`: build jobs from ``broker`` with ``concurrency`` processes until stopped."""
    from fabricate.jobs import default_data_dir

    app = celery_app(broker, Path(data_dir or default_data_dir()))
    JobStore(app.conf.fabricate_data_dir)  # the shared store must be reachable before taking jobs
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
