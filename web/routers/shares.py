"""Sharing a finished job to a hub: the hubs on offer, the share itself, its progress, the prepared package.

Thin: the hub list, every refusal and the share queue are fabricate.hub's; a hub's failure is a
HubError, which the app answers as 502 with a JSON detail (its http_status).
"""
from __future__ import annotations

import asyncio
from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse

from fabricate.hub import (ADAPTERS, MANUAL_HUBS, HubError, ManualHubAdapter, ModelPackage, ShareFailed, ShareQueue,
                           hub_overview, profile_of)
from fabricate.hub import share as share_to_hub
from fabricate.jobs.assets import result_file
from web.dependencies import ExistingJob, Store
from web.models import HubOut, JobOut, ShareOut, ShareRequest, ShareStatusOut
from web.routers.jobs import download_stem

router = APIRouter(tags=["shares"])


@router.get("/api/hubs", response_model=list[HubOut])
def list_hubs(request: Request):
    """Every hub a job can be shared to: the licences it offers, its tag limits, what sharing there needs, and
    whether this server is set up for it (never the token)."""
    return hub_overview(request.app.state.hub_config)


def share_package_path(job, hub: str, store):
    """The zip prepared for ``hub`` (one without an upload API), once the job has been shared to it; else None."""
    model = store.result_path(job, "model.3mf")
    if hub not in MANUAL_HUBS or model is None:
        return None
    path = ManualHubAdapter(hub, store.job_dir(job.id)).bundle_path(model)
    return path if path.is_file() else None


@router.get("/api/jobs/{job_id}/share/{hub}.zip")
def share_package(job: ExistingJob, hub: str, store: Store):
    """The zip prepared by sharing to a hub without an upload API (printables, makerworld), to upload there."""
    path = share_package_path(job, hub, store)
    if path is None:
        raise HTTPException(404, f"nothing is prepared for {hub!r}; share the job to printables or makerworld first")
    return FileResponse(path, media_type="application/zip", filename=f"{download_stem(job)}-{hub}-upload.zip")


# not /shares: the jobs router's /{job_id}/{name} (the downloads) would answer it
@router.get("/api/jobs/{job_id}/share/status", response_model=list[ShareStatusOut])
def job_shares(job: ExistingJob, store: Store):
    """This job's shares to hubs with an API, newest first: state, each step's state (the progress while one
    runs), link and last error."""
    model = store.result_path(job, "model.3mf")
    return [asdict(status) for status in ShareQueue(store.data_dir).status(model_path=model)] if model else []


@router.post("/api/jobs/{job_id}/share", response_model=ShareOut)
async def share_job(request: Request, job: ExistingJob, body: ShareRequest, store: Store):
    """Share the finished 3MF with its preview and metadata (400 for what the hub cannot take, before any
    request; 502 when the hub fails). Hubs with an API go through the share queue (progress in share/status)."""
    model = store.result_path(job, "model.3mf")
    if model is None:
        raise HTTPException(409, f"the job is {job.status}; share it once it has succeeded")
    hub = profile_of(body.hub)  # an unknown hub is refused naming the ones there are
    # A hub that shows the GLB gets it baked now if no one asked for it yet (seconds: off the event loop).
    glb = await asyncio.to_thread(result_file, store, job, "model.glb") if hub.uploads_glb else None
    package = ModelPackage(title=body.title or job.options.get("title") or job.photo_name.rsplit(".", 1)[0],
                           model_path=model, preview_path=store.result_path(job, "preview.png"),
                           description=body.description, licence=body.licence, tags=body.tags,
                           printer=job.options.get("printer"), source_photo=job.photo_name,
                           glb_path=glb)
    share_id = None
    if body.hub in ADAPTERS:  # several requests: a resumable record in the share queue beside the jobs
        config = request.app.state.hub_config if body.hub == "generic" else None
        status = await asyncio.to_thread(share_to_hub, body.hub, package, store.data_dir, publish=body.publish,
                                         config=config)
        if status.state == "failed":
            raise ShareFailed(f"share {status.id} failed: {status.error}")
        if status.state != "done":
            raise HubError(f"share {status.id} is {status.state}: {status.error}; `fabricate share --resume` "
                           "tries it again")
        url, share_id = status.link, status.id
    else:
        url = await asyncio.to_thread(ManualHubAdapter(body.hub, store.job_dir(job.id)).upload, package)
    store.set_share_url(job.id, url)
    package_url = f"/api/jobs/{job.id}/share/{body.hub}.zip" if share_package_path(job, body.hub, store) else None
    return ShareOut(share_url=url, package_url=package_url, share_id=share_id, job=JobOut.of(store.get(job.id), store))
