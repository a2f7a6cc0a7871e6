"""Jobs: create (photos and options), follow (JSON or Server-Sent Events), download, delete (sharing: shares.py).

Shaped like the public image-to-3D task APIs: POST a task, poll or stream its
status, fetch the results. Every decision is the library's: options are checked by
`MakeOptions.validate`, and its typed errors become HTTP statuses in web.app.
"""
from __future__ import annotations

import asyncio
import json
import re
from typing import Annotated

from fastapi import APIRouter, Form, Header, HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from fabricate.jobs import RESULT_FILES
from fabricate.jobs.assets import result_file
from fabricate.jobs.store import check_idempotency_key
from fabricate.options import MakeOptions
from web.dependencies import DecodeSlots, ExistingJob, Runner, Store, UploadLimit
from web.forms import JobForm, option_values
from web.models import JobOut
from web.uploads import read_photo

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
MEDIA_TYPES = {"model.3mf": "model/3mf", "model.stl": "model/stl", "model.glb": "model/gltf-binary",
               "preview.png": "image/png", "preview-photo.png": "image/png", "preview-delit.png": "image/png",
               "report.json": "application/json",
               "model.gcode": "text/x-gcode"}  # with the slice option and PrusaSlicer installed
#: How often an event stream looks for new progress.
EVENT_POLL_S = 0.2


@router.post("", status_code=202, response_model=JobOut)
async def create_job(form: Annotated[JobForm, Form(media_type="multipart/form-data")], store: Store,
                     runner: Runner, limit: UploadLimit, slots: DecodeSlots, response: Response,
                     idempotency_key: Annotated[str | None, Header(
                         description="Makes a retried submission safe: the same key with the same photos and "
                                     "options answers the first one's job (it runs once); with others, 422. "
                                     "1-128 letters, digits or _ . : ~ + = - (a UUID fits).")] = None):
    """Queue a build from 1-8 photos of one object; answers 202 with the job (follow `links.events`).

    Bad options answer 422 at once; photos that cannot show one object are found while
    building, and the job fails naming the photo that disagrees.
    """
    check_idempotency_key(idempotency_key)  # before any upload work
    options = MakeOptions.from_flat(option_values(form))
    options.validate(len(form.photo))  # before reading the photos: a bad choice costs no upload work
    async with slots.hold():  # one slot for the whole set: its photos are decoded one after another
        photos = [await read_photo(upload, limit) for upload in form.photo]
    job, created = await asyncio.to_thread(store.create_once, photos, options.to_dict(), idempotency_key)
    if created:
        runner.submit(job.id)
    else:  # a repeated request: its job as it is now, not run again
        response.headers["Idempotent-Replayed"] = "true"
    return JobOut.of(job, store)


@router.get("", response_model=list[JobOut])
def list_jobs(store: Store):
    """All jobs, oldest first."""
    return [JobOut.of(job, store) for job in store.list()]


@router.get("/{job_id}", response_model=JobOut)
def read_job(job: ExistingJob, store: Store):
    """Status, stage, progress 0-100, error and result links of one job."""
    return JobOut.of(job, store)


def sse(event: str, data: dict, seq: int) -> str:
    # Strict JSON: a bare NaN would make the page's JSON.parse fail (the store holds none; this guards it).
    return f"id: {seq}\nevent: {event}\ndata: {json.dumps(data, allow_nan=False)}\n\n"


@router.get("/{job_id}/events")
async def job_events(request: Request, job: ExistingJob, store: Store):
    """Server-Sent Events: `progress` on every change, then `done` when the job has finished."""

    def state_of(current) -> dict:
        return JobOut.of(current, store).model_dump(mode="json")

    async def stream():
        # The first event is the job as it is now; then every recorded change, in order.
        current = job
        state = state_of(current)
        yield sse("progress", state, 0)
        history = await asyncio.to_thread(store.events_after, job.id, 0)
        seq = history[-1]["seq"] if history else 0  # the snapshot above already covers them
        position = state["queue_position"]
        while not current.finished:
            if await request.is_disconnected():
                return
            await asyncio.sleep(EVENT_POLL_S)
            events = await asyncio.to_thread(store.events_after, job.id, seq)
            current = await asyncio.to_thread(store.get, job.id)
            if current is None:
                yield sse("error", {"detail": "the job was deleted"}, seq)
                return
            state = state_of(current)
            for event in events:
                seq = event["seq"]
                step = {**state, "status": event["status"], "stage": event["stage"], "progress": event["progress"]}
                yield sse("progress", step, seq)
            if not events and state["queue_position"] != position:  # moved up the queue
                yield sse("progress", state, seq)
            position = state["queue_position"]
        yield sse("done", state_of(current), seq + 1)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/{job_id}/{name}")
def job_file(job: ExistingJob, name: str, store: Store):
    """A result file: model.3mf, model.stl, model.glb, preview.png or report.json."""
    if name not in RESULT_FILES:
        raise HTTPException(404, f"no file {name!r}; files: {', '.join(RESULT_FILES)}")
    path = result_file(store, job, name)  # the GLB is baked on its first request
    if path is None:
        raise HTTPException(409, f"the job is {job.status}; its files are ready once it has succeeded")
    stem = download_stem(job)
    download = f"{stem}.{name.split('.')[-1]}" if name != "report.json" else f"{stem}.report.json"
    return FileResponse(path, media_type=MEDIA_TYPES[name], filename=download)


def download_stem(job) -> str:
    """The name downloads of a job get: its title, or its photo's name, made safe."""
    return re.sub(r"[^\w\-]", "_", (job.options.get("title") or job.photo_name).rsplit(".", 1)[0])[:60] or "model"


@router.delete("/{job_id}", status_code=204)
def delete_job(job: ExistingJob, store: Store, runner: Runner):
    """Remove a job and its files (a queued job never runs; a running build stops at its next progress step)."""
    store.delete(job.id)
    runner.cancel(job.id)
    return Response(status_code=204)
