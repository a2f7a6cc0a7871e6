"""Run jobs outside the web server's event loop, in a bounded pool of worker processes."""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable

from fabricate.atomic import atomic_open
from fabricate.errors import FabricateError
from fabricate.jobs.assets import ASSET_SOURCE, COMPARISON_SOURCE, keep_asset_source, keep_colour_comparison
from fabricate.jobs.store import JobStore, JobStoreBase
from fabricate.progress import STAGES

log = logging.getLogger("fabricate.jobs")

#: How often a worker checks that the server that started it is still alive.
PARENT_CHECK_S = 0.5
#: prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1

#: Share of the whole job each stage takes (measured at resolution 256; printing includes the final check).
STAGE_WEIGHTS = {"image": 2, "reconstruct": 6, "mesh": 6, "color": 15, "printing": 60, "export": 11}


class JobCancelled(Exception):
    """The job was deleted while it ran."""


def overall_progress(stage: str, fraction: float) -> float:
    done = sum(STAGE_WEIGHTS[s] for s in STAGES[:STAGES.index(stage)])
    return min(99.0, 100.0 * (done + STAGE_WEIGHTS[stage] * fraction) / sum(STAGE_WEIGHTS.values()))


def build_files(photos, options: dict, model_path, progress=None, photo_names=None, also: tuple = (),
                preview=None, asset_source=None):
    """Make one model from ``photos`` with the flat ``options`` and write it (every file atomically).

    The one build step every runner shares (the local pool, Celery workers, ``fabricate batch``):
    ``model_path`` (a .3mf) and its ``.report.json``, the ``also`` formats, a PNG ``preview``
    and the coloured surface the files made on request are baked from (``asset_source``, see
    fabricate/jobs/assets.py) when asked. The report is written last, so a model with its
    report beside it is complete.
    """
    from fabricate.pipeline import MakeOptions, make_model, write_outputs
    from fabricate.render import render_preview

    result = make_model(list(photos), MakeOptions.from_flat(options), progress=progress, photo_names=photo_names)
    if preview is not None:
        image = render_preview(result.mesh.vertices, result.mesh.faces, result.mesh.face_colours, 512)
        with atomic_open(preview) as stream:
            image.save(stream, format="PNG")
        if result.colour_comparison is not None:  # with delighting: its two previews are made when first asked for
            keep_colour_comparison(result.colour_comparison, Path(preview).with_name(COMPARISON_SOURCE))
    if asset_source is not None:
        keep_asset_source(result.mesh, asset_source)
    write_outputs(result, model_path, also=also, progress=progress, slice_gcode=result.options.slice)
    return result


def build_job(store: JobStoreBase, job_id: str):
    """Build a job already marked running, recording its progress; its result (raises JobCancelled when deleted).

    Shared by the local pool and Celery workers: both write progress into the one store, which
    the page's event stream reads.
    """
    job = store.get(job_id)
    if job is None:
        raise JobCancelled()
    folder = store.job_dir(job_id)
    last = {"stage": None, "progress": -1.0, "time": 0.0}

    def progress(stage: str, fraction: float) -> None:
        value = max(overall_progress(stage, fraction), last["progress"])  # never backwards
        now = time.perf_counter()
        # Write at stage changes and at most every 0.2 s otherwise: the store is shared.
        if stage != last["stage"] or (value - last["progress"] >= 1.0 and now - last["time"] > 0.2):
            if not store.update_progress(job_id, stage, value):
                raise JobCancelled()
            last.update(stage=stage, progress=value, time=now)

    try:
        result = build_files([folder / p["file"] for p in job.photos], job.options, folder / "model.3mf",
                             progress, photo_names=job.photo_names,
                             preview=folder / "preview.png", asset_source=folder / ASSET_SOURCE)
    except Exception:
        if store.get(job_id) is None:  # deleted while a file was being written: that write made the folder again
            shutil.rmtree(folder, ignore_errors=True)
            raise JobCancelled() from None
        raise
    store.finish(job_id, result.report(), dict(result.seconds))
    if store.get(job_id) is None:  # deleted between the last progress step and the end
        shutil.rmtree(folder, ignore_errors=True)
    return result


def run_job(data_dir: str, job_id: str) -> str:
    """Build one job (runs in a worker process of the local pool); the outcome is written to the store."""
    store = JobStore(data_dir)
    if not store.mark_running(job_id):
        return "skipped"
    return build_and_record(store, job_id, lambda exc: store.fail(job_id, failure_words(exc, job_id)))


def build_and_record(store: JobStoreBase, job_id: str, record_failure: Callable[[Exception], None]) -> str:
    """Build a claimed job: "succeeded", "cancelled" (deleted meanwhile) or "failed" (``record_failure`` says how)."""
    try:
        build_job(store, job_id)
        return "succeeded"
    except JobCancelled:
        return "cancelled"
    except Exception as exc:
        record_failure(exc)
        return "failed"


def failure_words(exc: Exception, what: str) -> str:
    """Why a build failed, in the words a user sees; a bug (not a FabricateError) is also logged in full."""
    if isinstance(exc, FabricateError):
        return str(exc)
    # A bug: keep the server (or the batch) going, tell the user, log the details.
    log.error("%s failed:\n%s", what, traceback.format_exc())
    return f"internal error ({type(exc).__name__}: {exc})"


def die_with_parent(parent_pid: int) -> None:
    """Make this worker process end when the server ``parent_pid`` does, however the server ends.

    A worker outliving a killed server (SIGKILL runs no clean-up) holds its memory and, after a
    quick restart, builds beside the new server's workers. On Linux the kernel sends SIGKILL
    the moment the parent goes (PR_SET_PDEATHSIG; the pool creates its workers from the event
    loop's thread, which lives as long as the server); a watchdog thread that sees the
    parent pid change covers other systems and a parent that died before this ran.
    """
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    if os.getppid() != parent_pid:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


class JobRunner:
    """A pool of ``workers`` processes; extra jobs wait in submission order."""

    def __init__(self, store: JobStore, workers: int = 1):
        if workers < 1:
            raise ValueError("at least one worker is needed")
        self.store = store
        self.workers = workers
        # Spawned (not forked) workers: the server's threads and sockets are not copied.
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=die_with_parent, initargs=(os.getpid(),))

    def submit(self, job_id: str) -> None:
        self.pool.submit(run_job, str(self.store.data_dir), job_id)

    def resume(self) -> None:
        """After a restart: fail interrupted jobs, queue the waiting ones again."""
        for job_id in self.store.recover_after_restart():
            self.submit(job_id)

    def cancel(self, job_id: str) -> None:
        """Nothing to do here: a deleted job's worker stops at its next progress step (the store says so)."""

    def shutdown(self, wait: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=True)
