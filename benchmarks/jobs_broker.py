"""Jobs per minute through the HTTP API: the local process pool against Celery workers through Redis.

Same run, same jobs: 12 posted at once to a fresh server and data folder, with the local pool
of 1 and 2 processes (baseline) and with 1 and 2 `fabricate worker` processes on a local
redis-server (append-only file on, as in production). The broker's cost per job is the extra
time per job outside the build (wall x processes / jobs - mean build time) over the pool of the
same size. Prints a Markdown table.

    python benchmarks/jobs_broker.py [--jobs 12] [--resolution 256]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabricate.jobs.local_farm import RedisServer, start_worker, stop_worker, wait_for_workers  # noqa: E402
from http_jobs import post_and_wait  # noqa: E402
from web.app import create_app, serve_in_thread  # noqa: E402

PHOTOS = [ROOT / "samples" / f"{n}.png" for n in ("hamburger", "robot", "chair", "mushroom_house")]


@contextlib.contextmanager
def celery_farm(folder: Path, data_dir: Path, processes: int):
    """A redis-server and ``processes`` single-process workers; yields the broker URL."""
    broker = RedisServer(folder).start()
    workers = [start_worker(broker.url, data_dir, folder / f"worker-{n}.log") for n in range(processes)]
    try:
        wait_for_workers(broker.url, processes)
        yield broker.url
    finally:
        for worker in workers:
            stop_worker(worker)
        broker.kill()


def post_and_wait_all(base: str, jobs: int, resolution: int) -> dict:
    with httpx.Client(timeout=120) as client:
        finished, wall = post_and_wait(client, base, PHOTOS, jobs, resolution)
    build = [sum(j["stage_seconds"].values()) for j in finished.values() if j["stage_seconds"]]
    return {"wall": wall, "per_minute": jobs / wall * 60, "failed": sum(j["status"] != "succeeded"
                                                                        for j in finished.values()),
            "build_s": sum(build) / max(len(build), 1)}


def run(runner: str, processes: int, jobs: int, resolution: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder) / "data"
        data_dir.mkdir()
        with contextlib.ExitStack() as stack:
            if runner == "celery":
                broker = stack.enter_context(celery_farm(Path(folder), data_dir, processes))
                app = create_app(data_dir, broker=broker)
            else:
                app = create_app(data_dir, workers=processes)
            base = stack.enter_context(serve_in_thread(app))
            return {"runner": runner, "processes": processes, **post_and_wait_all(base, jobs, resolution)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()
    rows = [run(runner, n, args.jobs, args.resolution) for n in (1, 2) for runner in ("local pool", "celery")]
    print(f"cores: {os.cpu_count()}; {args.jobs} jobs at resolution {args.resolution}, posted at once\n")
    print("| runner | processes | wall s | jobs/min | mean build s | outside the build s/job | failed "
          "| broker cost per job |")
    print("|---|---|---|---|---|---|---|---|")
    pool = {}
    for r in rows:
        # Wall time per job and process beyond the build itself: queueing, HTTP, broker, polling. Taking
        # the build out keeps the comparison fair on a machine whose load drifts between configurations.
        r["outside"] = r["wall"] * r["processes"] / args.jobs - r["build_s"]
        if r["runner"] == "local pool":
            pool[r["processes"]] = r
            cost = "(baseline)"
        else:
            base = pool[r["processes"]]
            extra = r["outside"] - base["outside"]
            cost = f"{extra:+.2f} s ({extra / (base['wall'] * r['processes'] / args.jobs):+.1%})"
        print(f"| {r['runner']} | {r['processes']} | {r['wall']:.1f} | {r['per_minute']:.2f} | {r['build_s']:.2f} | "
              f"{r['outside']:.2f} | {r['failed']} | {cost} |")

if __name__ == "__main__":
    main()
