"""Drive 20 jobs through the HTTP API with 1 and 2 workers: throughput and p95 latency per stage.

Each configuration gets a fresh data folder and server; the jobs are posted at once
(they queue), so the figures include queueing. Prints a Markdown table.

    python benchmarks/web_jobs.py [--jobs 20] [--resolution 256] [--workers 1,2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from http_jobs import post_and_wait  # noqa: E402
from web.app import create_app, serve_in_thread  # noqa: E402

STAGES = ["queue", "image", "reconstruct", "mesh", "color", "printing", "validate", "write", "total"]


def run(workers: int, jobs: int, resolution: int, photos: list) -> dict:
    with tempfile.TemporaryDirectory() as data, serve_in_thread(create_app(data, workers=workers)) as base, \
            httpx.Client(timeout=120) as client:
        finished, wall = post_and_wait(client, base, photos, jobs, resolution, poll_s=0.5)
    samples = {s: [] for s in STAGES}
    for job in finished.values():
        samples["queue"].append(job["started_at"] - job["created_at"])
        samples["total"].append(job["finished_at"] - job["created_at"])
        for stage in STAGES[1:-1]:
            samples[stage].append(job["stage_seconds"].get(stage, 0.0))
    failed = sum(job["status"] != "succeeded" for job in finished.values())
    return {"workers": workers, "wall": wall, "per_minute": jobs / wall * 60, "failed": failed,
            "p95": {s: float(np.percentile(v, 95)) for s, v in samples.items() if v}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated (target: 2)")
    args = parser.parse_args()
    photos = [ROOT / "samples" / f"{n}.png" for n in ("hamburger", "robot", "chair", "mushroom_house")]
    rows = [run(int(w), args.jobs, args.resolution, photos) for w in args.workers.split(",")]
    print(f"cores: {os.cpu_count()}; {args.jobs} jobs at resolution {args.resolution}, posted at once\n")
    print("| workers | wall s | jobs/min | failed | " + " | ".join(f"p95 {s} s" for s in STAGES) + " |")
    print("|---|---|---|---|" + "---|" * len(STAGES))
    for r in rows:
        print(f"| {r['workers']} | {r['wall']:.1f} | {r['per_minute']:.2f} | {r['failed']} | "
              + " | ".join(f"{r['p95'][s]:.2f}" for s in STAGES) + " |")
    if len(rows) > 1:
        print(f"\nthroughput {rows[-1]['workers']} workers / {rows[0]['workers']}: "
              f"{rows[-1]['per_minute'] / rows[0]['per_minute']:.2f}x")


if __name__ == "__main__":
    main()
