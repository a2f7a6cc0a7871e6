"""What routes are given through `Depends`: the job store, the runner, the job a URL names, the upload limit,
the photo decode slots."""
from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from fabricate.jobs import Job, JobRunner, JobStoreBase
from web.uploads import PhotoDecodeSlots

#: Job ids are `secrets.token_urlsafe(16)`; anything else cannot name a job and never reaches the store.
JOB_ID = re.compile(r"[A-Za-z0-9_\-]{10,64}")


def job_store(request: Request) -> JobStoreBase:
    return request.app.state.store


def job_runner(request: Request) -> JobRunner:
    return request.app.state.runner


def upload_limit_bytes(request: Request) -> int:
    return request.app.state.max_upload_bytes


def decode_slots(request: Request) -> PhotoDecodeSlots:
    return request.app.state.decode_slots


Store = Annotated[JobStoreBase, Depends(job_store)]
Runner = Annotated[JobRunner, Depends(job_runner)]
UploadLimit = Annotated[int, Depends(upload_limit_bytes)]
DecodeSlots = Annotated[PhotoDecodeSlots, Depends(decode_slots)]


def job_or_404(job_id: str, store: Store) -> Job:
    """The job ``job_id`` names, or 404."""
    job = store.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise HTTPException(404, "no such job")
    return job


ExistingJob = Annotated[Job, Depends(job_or_404)]
