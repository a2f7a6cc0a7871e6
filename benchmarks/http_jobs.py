"""Post jobs to a running fabricate server and wait for all of them: the loop the web benchmarks share."""
from __future__ import annotations

import time


def post_and_wait(client, base: str, photos: list, jobs: int, resolution: int, poll_s: float = 0.2) -> tuple:
    """Post ``jobs`` builds (cycling through ``photos``) at once; returns (finished jobs by id, wall seconds)."""
    start = time.perf_counter()
    ids = []
    for n in range(jobs):
        photo = photos[n % len(photos)]
        with open(photo, "rb") as handle:
            response = client.post(f"{base}/api/jobs", data={"printer": "bambu-a1", "resolution": str(resolution)},
                                   files={"photo": (photo.name, handle, "image/png")})
        response.raise_for_status()
        ids.append(response.json()["id"])
    pending, finished = set(ids), {}
    while pending:
        for job_id in list(pending):
            job = client.get(f"{base}/api/jobs/{job_id}").json()
            if job["status"] in ("succeeded", "failed"):
                finished[job_id] = job
                pending.discard(job_id)
        time.sleep(poll_s)
    return finished, time.perf_counter() - start
