"""The JSON the API answers with, as Pydantic models (so /openapi.json documents every answer)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, Field

from fabricate.hub import LICENCES, PROFILES
from fabricate.jobs import RESULT_FILES, Job, JobStore
from fabricate.printing import list_printers
from fabricate.printing.profiles import PrinterProfile


class JobOut(BaseModel):
    """A job: where it is, what it was asked, and (once succeeded) the library's report."""

    id: str
    status: Literal["queued", "running", "succeeded", "failed"]
    stage: Optional[str] = Field(description="The stage running or last run: image, reconstruct, mesh, ...")
    progress: float = Field(description="0-100; 100 only once the model is written")
    queue_position: Optional[int] = Field(description="1 = next to start; null unless queued")
    error: Optional[str] = Field(description="Why the job failed, in plain words")
    elapsed_s: float
    photo_name: str = Field(description="The first (front) photo's name")
    photo_names: list[str] = Field(description="Every photo's name, in the order given")
    options: dict = Field(description="Every option of the job, defaults filled in")
    links: dict[str, str] = Field(description="self, events, share and one link per result file")
    share_url: Optional[str]
    created_at: float
    started_at: Optional[float]
    finished_at: Optional[float]
    stage_seconds: dict[str, float]
    result: Optional[dict] = Field(description="The report (report.json) once the job has succeeded: options, "
                                               "fit, validation, analysis, filaments, views, timings")

    @classmethod
    def of(cls, job: Job, store: JobStore) -> "JobOut":
        base = f"/api/jobs/{job.id}"
        links = {"self": base, "events": base + "/events", "share": base + "/share"}
        links.update({name: f"{base}/{name}" for name in RESULT_FILES})
        return cls(id=job.id, status=job.status, stage=job.stage, progress=round(job.progress, 1),
                   queue_position=store.queue_position(job), error=job.error, elapsed_s=job.elapsed_s,
                   photo_name=job.photo_name, photo_names=job.photo_names, options=job.options, links=links,
                   share_url=job.share_url, created_at=job.created_at, started_at=job.started_at,
                   finished_at=job.finished_at, stage_seconds=job.stage_seconds, result=job.result)


class ShareRequest(BaseModel):
    title: Optional[str] = Field(None, max_length=200)
    description: str = Field("", max_length=5000)
    licence: str = Field("CC-BY-4.0", description=f"one of {', '.join(LICENCES)}")
    tags: list[str] = Field(default_factory=list, max_length=20)
    hub: str = Field("generic", description=f"one of {', '.join(PROFILES)} (GET /api/hubs describes each)")
    publish: bool = Field(False, description="Publish at once; otherwise a draft (hubs with drafts: "
                                             f"{', '.join(n for n, p in PROFILES.items() if p.drafts)})")


class ShareOut(BaseModel):
    share_url: str = Field(description="The model on the hub, or for a hub without an upload API its upload page")
    package_url: Optional[str] = Field(None, description="For a hub without an upload API: the prepared zip, "
                                                         "to download here and upload on share_url")
    share_id: Optional[str] = Field(None, description="The share's record (hubs with an API), as in share/status")
    job: JobOut


class ShareStepOut(BaseModel):
    name: str = Field(description="thing, request:<file>, store:<file>, finalize:<file>, publish or model")
    state: Literal["pending", "sent", "done"] = Field(description="sent: its answer is not known yet")


class ShareStatusOut(BaseModel):
    """One share to a hub with an API, as recorded in the share queue (never a token)."""

    id: str
    hub: str
    title: str
    state: Literal["queued", "running", "waiting", "done", "failed"]
    link: Optional[str]
    error: Optional[str]
    steps_done: int
    steps_total: int
    next_attempt_at: float = Field(description="When a waiting share is tried again (Unix time)")
    created_at: float
    steps: list[ShareStepOut]


class HubLicenceOut(BaseModel):
    id: str = Field(description="SPDX id")
    name: str


class HubOut(BaseModel):
    """A hub the Share dialog offers: what it takes and what sharing to it needs."""

    name: str
    title: str
    kind: Literal["api", "manual"] = Field(description="api: uploaded by fabricate; manual: a package to upload")
    configured: bool = Field(description="Whether its token (and address) are set up on this server")
    needs: str = Field(description="What sharing to it needs, in plain words")
    drafts: bool = Field(description="Whether an upload stays a draft unless published")
    site_url: str
    licences: list[HubLicenceOut] = Field(description="The licences it offers; any other is refused")
    max_tags: Optional[int]
    max_tag_length: Optional[int]
    slug_tags: bool
    max_title_length: Optional[int]


class OutlineOut(BaseModel):
    """The detected object's outline in the photo's pixels (EXIF orientation applied)."""

    width: int
    height: int
    outline: list[list[float]] = Field(description="Polygon points [x, y]")
    source: str = Field(description="alpha (the photo's transparency) or segmentation")
    note: Optional[str] = Field(None, description="Set when a large JPEG was decoded reduced (width and height are then the reduced size)")


class PrinterOut(BaseModel):
    id: str
    name: str
    vendor: str
    model: str
    build_volume_mm: list[float]
    filament_slots: int
    nozzle_diameter_mm: float
    bed_shape: str
    bed_origin_mm: list[float]

    @classmethod
    def of(cls, p: PrinterProfile) -> "PrinterOut":
        return cls(id=p.id, name=p.name, vendor=p.vendor, model=p.model, build_volume_mm=list(p.build_volume_mm),
                   filament_slots=p.filament_slots, nozzle_diameter_mm=p.nozzle_diameter_mm, bed_shape=p.bed_shape,
                   bed_origin_mm=list(p.bed_origin_mm))


def printer_list() -> list[PrinterOut]:
    return [PrinterOut.of(p) for p in list_printers()]


class VersionOut(BaseModel):
    """One version of a job's model after conversational edits (issue 18)."""

    step: int = Field(description="0 = the model as made; each edit, undo or redo adds one step")
    version: int = Field(description="The version in the file's history (an undo goes back to an earlier number)")
    text: Optional[str] = Field(description="The instruction that made it (null for the made model, an undo or redo)")
    summary: list[str] = Field(description="What the operations did, in plain words, e.g. 'height x1.2: 150 -> 180 mm'")
    operations: list[dict] = Field(description="The checked operations: {operation, parameters}")
    undo_available: int = Field(description="How many edits an undo can go back")
    redo_available: int = Field(description="How many undone edits a redo can restore")
    download: str = Field(description="The 3MF of this version (its edit history inside)")
    report: Optional[dict] = Field(None, description="For a new version: validation, fit, filaments and print settings "
                                                     "(the fields of report.json)")
