"""REST API: jobs (create, follow, download, share, delete), printers and the photo outline.

Shaped like the public image-to-3D task APIs: POST a task, poll or stream its
status, fetch the results.
"""
from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Optional

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from fabricate.errors import InputError
from fabricate.hub import LICENCES, HubError, ModelPackage, hub_client
from fabricate.image import extract_foreground, load_photo
from fabricate.jobs import RESULT_FILES, Job, JobStore
from fabricate.pipeline import MakeOptions
from web.routers.pages import printer_choices

router = APIRouter(prefix="/api")
#: Photo formats accepted over HTTP, by what Pillow detects in the bytes (never the name).
PHOTO_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "MPO": "jpg"}
MEDIA_TYPES = {"model.3mf": "model/3mf", "model.stl": "model/stl", "model.glb": "model/gltf-binary",
               "preview.png": "image/png", "report.json": "application/json"}


def store_of(request: Request) -> JobStore:
    return request.app.state.store


def job_json(job: Job, store: JobStore) -> dict:
    base = f"/api/jobs/{job.id}"
    links = {"self": base, "events": base + "/events", "share": base + "/share"}
    links.update({name: f"{base}/{name}" for name in RESULT_FILES})
    return {"id": job.id, "status": job.status, "stage": job.stage, "progress": round(job.progress, 1),
            "queue_position": store.queue_position(job), "error": job.error, "elapsed_s": job.elapsed_s,
            "photo_name": job.photo_name, "options": job.options, "links": links, "share_url": job.share_url,
            "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
            "stage_seconds": job.stage_seconds, "result": job.result}


def get_job(request: Request, job_id: str) -> Job:
    job = store_of(request).get(job_id) if re.fullmatch(r"[A-Za-z0-9_\-]{10,64}", job_id) else None
    if job is None:
        raise HTTPException(404, "no such job")
    return job


async def read_photo(request: Request, photo: UploadFile):
    """The upload's bytes, its sniffed format and a display name; 4xx on anything else."""
    limit = request.app.state.max_upload_bytes
    data = bytearray()
    while chunk := await photo.read(1 << 20):
        data += chunk
        if len(data) > limit:
            raise HTTPException(413, f"the photo is larger than {limit / 1024 / 1024:.0f} MB")
    if not data:
        raise HTTPException(400, "the photo is empty")
    name = re.sub(r"[^\w.\- ]", "_", (photo.filename or "photo"))[-100:] or "photo"
    try:
        await asyncio.to_thread(load_photo, bytes(data), name)
    except InputError as exc:
        status = 415 if "not an image" in str(exc) or "not a readable" in str(exc) else 400
        raise HTTPException(status, str(exc)) from None
    from PIL import Image

    detected = Image.open(io.BytesIO(data)).format
    if detected not in PHOTO_FORMATS:
        raise HTTPException(415, f"{detected} photos are not supported; use JPEG, PNG or WebP")
    return bytes(data), PHOTO_FORMATS[detected], name


def _number(value: Optional[str], kind, field: str):
    if value is None or str(value).strip() == "":
        return None
    try:
        return kind(value)
    except ValueError:
        raise HTTPException(422, f"{field} must be a number, got {value!r}") from None


@router.get("/printers")
def printers():
    """Every printer profile."""
    return printer_choices()


@router.post("/outline")
async def outline(request: Request, photo: UploadFile = File(...)):
    """The detected object's outline, to show over the thumbnail before building."""
    data, _, name = await read_photo(request, photo)

    def detect():
        loaded = load_photo(data, name)
        foreground = extract_foreground(loaded)
        width, height = loaded.size
        return {"width": width, "height": height, "outline": foreground.outline().tolist(),
                "source": foreground.source}

    try:
        return await asyncio.to_thread(detect)
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("/jobs", status_code=202)
async def create_job(request: Request, photo: UploadFile = File(...), printer: str = Form(...),
                     height_mm: Optional[str] = Form(None), resolution: Optional[str] = Form(None),
                     colors: Optional[str] = Form(None), preset: Optional[str] = Form(None),
                     layer_height: Optional[str] = Form(None), infill: Optional[str] = Form(None),
                     supports: Optional[str] = Form(None), brim_mm: Optional[str] = Form(None),
                     orientation: Optional[str] = Form(None), back: Optional[str] = Form(None),
                     palette: Optional[str] = Form(None), title: Optional[str] = Form(None)):
    """Queue a build of the photo; answers 202 with the job (follow `links.events`)."""
    data, extension, name = await read_photo(request, photo)
    fields = dict(printer=printer, height_mm=_number(height_mm, float, "height_mm"),
                  resolution=_number(resolution, int, "resolution"), colors=_number(colors, int, "colors"),
                  preset=preset or None, layer_height=_number(layer_height, float, "layer_height"),
                  infill_density=_number(infill, float, "infill"), supports=supports or None,
                  brim_width_mm=_number(brim_mm, float, "brim_mm"), orientation=orientation or None,
                  back=back or None, palette=palette or None, title=(title or "").strip()[:200] or None)
    options = MakeOptions(**{k: v for k, v in fields.items() if v is not None})
    try:
        options.validate()
    except InputError as exc:
        raise HTTPException(422, str(exc)) from None
    store = store_of(request)
    job = store.create(data, extension, name, options.to_dict())
    request.app.state.runner.submit(job.id)
    return job_json(job, store)


@router.get("/jobs")
def list_jobs(request: Request):
    """All jobs, oldest first."""
    store = store_of(request)
    return [job_json(job, store) for job in store.list()]


@router.get("/jobs/{job_id}")
def read_job(request: Request, job_id: str):
    """Status, stage, progress 0-100, error and result links of one job."""
    return job_json(get_job(request, job_id), store_of(request))


@router.get("/jobs/{job_id}/events")
async def job_events(request: Request, job_id: str):
    """Server-Sent Events: `progress` on every change, then `done` when the job has finished."""
    store = store_of(request)
    get_job(request, job_id)

    async def stream():
        # The first event is the job as it is now; then every recorded change, in order.
        job = await asyncio.to_thread(store.get, job_id)
        state = job_json(job, store)
        seq = 0
        yield f"id: 0\nevent: progress\ndata: {json.dumps(state)}\n\n"
        history = await asyncio.to_thread(store.events_after, job_id, 0)
        seq = history[-1]["seq"] if history else 0  # the snapshot above already covers them
        position = state["queue_position"]
        while not job.finished:
            if await request.is_disconnected():
                return
            await asyncio.sleep(0.2)
            events = await asyncio.to_thread(store.events_after, job_id, seq)
            job = await asyncio.to_thread(store.get, job_id)
            if job is None:
                yield f"event: error\ndata: {json.dumps({'detail': 'the job was deleted'})}\n\n"
                return
            state = job_json(job, store)
            for event in events:
                seq = event["seq"]
                step = {**state, "status": event["status"], "stage": event["stage"], "progress": event["progress"]}
                yield f"id: {seq}\nevent: progress\ndata: {json.dumps(step)}\n\n"
            if not events and state["queue_position"] != position:  # moved up the queue
                yield f"id: {seq}\nevent: progress\ndata: {json.dumps(state)}\n\n"
            position = state["queue_position"]
        yield f"id: {seq + 1}\nevent: done\ndata: {json.dumps(job_json(job, store))}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.get("/jobs/{job_id}/{name}")
def job_file(request: Request, job_id: str, name: str):
    """A result file: model.3mf, model.stl, model.glb, preview.png or report.json."""
    job = get_job(request, job_id)
    if name not in RESULT_FILES:
        raise HTTPException(404, f"no file {name!r}; files: {', '.join(RESULT_FILES)}")
    path = store_of(request).result_path(job, name)
    if path is None:
        raise HTTPException(409, f"the job is {job.status}; its files are ready once it has succeeded")
    stem = re.sub(r"[^\w\-]", "_", (job.options.get("title") or job.photo_name).rsplit(".", 1)[0])[:60]
    download = f"{stem or 'model'}.{name.split('.')[-1]}" if name != "report.json" else f"{stem}.report.json"
    return FileResponse(path, media_type=MEDIA_TYPES[name], filename=download)


class ShareRequest(BaseModel):
    title: Optional[str] = Field(None, max_length=200)
    description: str = Field("", max_length=5000)
    licence: str = Field("CC-BY-4.0", description=f"one of {', '.join(LICENCES)}")
    tags: list[str] = Field(default_factory=list, max_length=20)
    hub: str = Field("generic", description="generic (HTTP API from the config), printables or makerworld")


@router.post("/jobs/{job_id}/share")
async def share_job(request: Request, job_id: str, body: ShareRequest):
    """Upload the finished 3MF with its preview and metadata to the configured hub."""
    store = store_of(request)
    job = get_job(request, job_id)
    model = store.result_path(job, "model.3mf")
    if model is None:
        raise HTTPException(409, f"the job is {job.status}; share it once it has succeeded")
    package = ModelPackage(title=body.title or job.options.get("title") or job.photo_name.rsplit(".", 1)[0],
                           model_path=model, preview_path=store.result_path(job, "preview.png"),
                           description=body.description, licence=body.licence, tags=body.tags,
                           printer=job.options.get("printer"), source_photo=job.photo_name)
    try:
        client = hub_client(body.hub, out_dir=store.job_dir(job_id), config=request.app.state.hub_config)
        url = await asyncio.to_thread(client.upload, package)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    except HubError as exc:
        raise HTTPException(502, str(exc)) from None
    store.set_share_url(job_id, url)
    return {"share_url": url, "job": job_json(store.get(job_id), store)}


@router.delete("/jobs/{job_id}", status_code=204)
def delete_job(request: Request, job_id: str):
    """Remove a job and its files (a running build stops at its next progress step)."""
    get_job(request, job_id)
    store_of(request).delete(job_id)
    return Response(status_code=204)
