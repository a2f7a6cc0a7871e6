"""Jobs: create (photos and options), follow (JSON or Server-Sent Events), download, share, delete.

Shaped like the public image-to-3D task APIs: POST a task, poll or stream its
status, fetch the results. Every decision is the library's: options are checked by
`MakeOptions.validate`, and its typed errors become HTTP statuses in web.app.
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from fabricate.hub import ADAPTERS, MANUAL_HUBS, HubError, ManualHubAdapter, ModelPackage, hub_client
from fabricate.hub import ShareQueue
from fabricate.hub import share as share_to_hub
from fabricate.jobs import RESULT_FILES
from fabricate.options import MakeOptions
from web.dependencies import DecodeSlots, ExistingJob, Runner, Store, UploadLimit
from web.forms import JobForm, option_values
from web.models import JobOut, ShareOut, ShareRequest
from web.uploads import read_photo

router = APIRouter(prefix="/api/jobs", tags=["jobs"])
MEDIA_TYPES = {"model.3mf": "model/3mf", "model.stl": "model/stl", "model.glb": "model/gltf-binary",
               "preview.png": "image/png", "report.json": "application/json"}
#: How often an event stream looks for new progress.
EVENT_POLL_S = 0.2


@router.post("", status_code=202, response_model=JobOut)
async def create_job(form: Annotated[JobForm, Form(media_type="multipart/form-data")], store: Store,
                     runner: Runner, limit: UploadLimit, slots: DecodeSlots):
    """Queue a build from 1-8 photos of one object; answers 202 with the job (follow `links.events`).

    Bad options answer 422 at once; photos that cannot show one object are found while
    building, and the job fails naming the photo that disagrees.
    """
    options = MakeOptions.from_flat(option_values(form))
    options.validate(len(form.photo))  # before reading the photos: a bad choice costs no upload work
    async with slots.hold():  # one slot for the whole set: its photos are decoded one after another
        photos = [await read_photo(upload, limit) for upload in form.photo]
    job = store.create(photos, options.to_dict())
    runner.submit(job.id)
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
    path = store.result_path(job, name)
    if path is None:
        raise HTTPException(409, f"the job is {job.status}; its files are ready once it has succeeded")
    stem = download_stem(job)
    download = f"{stem}.{name.split('.')[-1]}" if name != "report.json" else f"{stem}.report.json"
    return FileResponse(path, media_type=MEDIA_TYPES[name], filename=download)


def download_stem(job) -> str:
    """The name downloads of a job get: its title, or its photo's name, made safe."""
    return re.sub(r"[^\w\-]", "_", (job.options.get("title") or job.photo_name).rsplit(".", 1)[0])[:60] or "model"


def share_package_path(job, hub: str, store):
    """The zip prepared for ``hub`` (one without an upload API), once the job has been shared to it; else None."""
    model = store.result_path(job, "model.3mf")
    if hub not in MANUAL_HUBS or model is None:
        return None
    path = ManualHubAdapter(hub, store.job_dir(job.id)).bundle_path(model)
    return path if path.is_file() else None


@router.get("/{job_id}/share/{hub}.zip")
def share_package(job: ExistingJob, hub: str, store: Store):
    """The zip prepared by sharing to a hub without an upload API (printables, makerworld), to upload there."""
    path = share_package_path(job, hub, store)
    if path is None:
        raise HTTPException(404, f"nothing is prepared for {hub!r}; share the job to printables or makerworld first")
    return FileResponse(path, media_type="application/zip", filename=f"{download_stem(job)}-{hub}-upload.zip")


@router.get("/{job_id}/share/status")  # not /shares: /{job_id}/{name} (the downloads) would answer it
def job_shares(job: ExistingJob, store: Store):
    """This job's shares to hubs with an API (thingiverse, sketchfab), newest first: state, steps done of all
    (the progress while one runs), link and last error."""
    model = store.result_path(job, "model.3mf")
    return [asdict(status) for status in ShareQueue(store.data_dir).status(model_path=model)] if model else []


@router.post("/{job_id}/share", response_model=ShareOut)
async def share_job(request: Request, job: ExistingJob, body: ShareRequest, store: Store):
    """Upload the finished 3MF with its preview and metadata to the configured hub (502 when the hub fails)."""
    model = store.result_path(job, "model.3mf")
    if model is None:
        raise HTTPException(409, f"the job is {job.status}; share it once it has succeeded")
    package = ModelPackage(title=body.title or job.options.get("title") or job.photo_name.rsplit(".", 1)[0],
                           model_path=model, preview_path=store.result_path(job, "preview.png"),
                           description=body.description, licence=body.licence, tags=body.tags,
                           printer=job.options.get("printer"), source_photo=job.photo_name)
    try:
        if body.hub in ADAPTERS:  # several requests: a resumable record in the share queue beside the jobs
            package.glb_path = store.result_path(job, "model.glb")
            status = await asyncio.to_thread(share_to_hub, body.hub, package, store.data_dir)
            if status.state != "done":
                raise HubError(f"share {status.id} is {status.state}: {status.error}")
            url = status.link
        else:
            client = hub_client(body.hub, out_dir=store.job_dir(job.id), config=request.app.state.hub_config)
            url = await asyncio.to_thread(client.upload, package)
    except HubError as exc:  # the hub's failure, not ours: a bad gateway
        raise HTTPException(502, str(exc)) from None
    store.set_share_url(job.id, url)
    package = f"/api/jobs/{job.id}/share/{body.hub}.zip" if share_package_path(job, body.hub, store) else None
    return ShareOut(share_url=url, package_url=package, job=JobOut.of(store.get(job.id), store))


@router.delete("/{job_id}", status_code=204)
def delete_job(job: ExistingJob, store: Store, runner: Runner):
    """Remove a job and its files (a queued job never runs; a running build stops at its next progress step)."""
    store.delete(job.id)
    runner.cancel(job.id)
    return Response(status_code=204)
