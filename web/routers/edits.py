"""Edits of a finished job by plain words: each message (or undo, or redo) becomes a new version.

The job's ``model.3mf`` is step 0; every edit, undo or redo writes the next step as
``edits/NNN.3mf`` in the job's folder, through the library (fabricate.edit), which keeps the
history inside each file. An instruction not understood answers 422 with what works, and
writes nothing.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from fabricate.edit import edit_model, load_model, redo_model, undo_model, write_model
from fabricate.edit.history import read_history
from web.dependencies import ExistingJob, Store
from web.models import VersionOut

router = APIRouter(prefix="/api/jobs", tags=["edits"])
#: One edit at a time per server: each step's number is the count of steps before it.
_EDIT_LOCK = threading.Lock()


class EditRequest(BaseModel):
    text: Optional[str] = Field(None, max_length=2000, description='e.g. "make it 20% taller and add a keyring hole"')
    undo: Optional[int] = Field(None, ge=1, le=100, description="Go back this many edits instead")
    redo: Optional[int] = Field(None, ge=1, le=100, description="Go forward this many undone edits instead")


def _steps(store, job) -> list:
    """The job's model files, oldest first: model.3mf, then each edit's."""
    first = store.result_path(job, "model.3mf")
    if first is None:
        raise HTTPException(409, f"the job is {job.status}; it can be edited once it has succeeded")
    return [first] + sorted((store.job_dir(job.id) / "edits").glob("[0-9][0-9][0-9].3mf"))


def _describe(job, step: int, path: Path, report: Optional[dict] = None) -> VersionOut:
    history = read_history(path)
    version = history.versions[-1] if history is not None else None
    return VersionOut(step=step, version=version.number if version else 0, text=version.text if version else None,
                      summary=version.summary if version else ["as made"],
                      operations=version.operations if version else [],
                      undo_available=history.current if history else 0,
                      redo_available=len(history.undone) if history else 0,
                      download=f"/api/jobs/{job.id}/versions/{step}/model.3mf", report=report)


def _report(result) -> dict:
    """The new version's checks in the fields of a job's report.json (the page renders them the same way),
    with the print analysis ``make`` runs (overhangs, thin walls, floating parts) on the edited model."""
    from fabricate.printing.analysis import analyse_print

    mesh, settings = result.model.mesh, result.settings
    analysis = analyse_print(mesh, mesh, result.printer.nozzle_diameter_mm, settings.support_threshold_deg,
                             settings.layer_height)
    return {"validation": result.validation.to_dict(), "analysis": analysis.to_dict(),
            "fit": {"printer": result.printer.id, "size_mm": [round(float(v), 2) for v in result.model.mesh.extents]},
            "filaments": result.filaments.summary(), "print_settings": result.settings.to_dict(),
            "repairs": result.repairs}


@router.post("/{job_id}/edits", status_code=201, response_model=VersionOut)
def create_edit(request: EditRequest, job: ExistingJob, store: Store):
    """Edit the latest version by ``text`` (or ``undo`` / ``redo`` N edits); answers the new version."""
    if sum(value is not None for value in (request.text, request.undo, request.redo)) != 1:
        raise HTTPException(422, "give text, undo or redo (one of them)")
    with _EDIT_LOCK:
        steps = _steps(store, job)
        model = load_model(steps[-1], job.options.get("printer"))
        if request.undo:
            result = undo_model(model, request.undo)
        elif request.redo:
            result = redo_model(model, request.redo)
        else:
            result = edit_model(model, request.text)
        target = store.job_dir(job.id) / "edits" / f"{len(steps):03d}.3mf"
        target.parent.mkdir(exist_ok=True)
        write_model(result, target)
    return _describe(job, len(steps), target, _report(result))


@router.get("/{job_id}/versions", response_model=list[VersionOut])
def list_versions(job: ExistingJob, store: Store):
    """Every version of the job's model, oldest first, with what each edit did in plain words."""
    return [_describe(job, step, path) for step, path in enumerate(_steps(store, job))]


@router.get("/{job_id}/versions/{step}/model.3mf")
def version_file(step: int, job: ExistingJob, store: Store):
    steps = _steps(store, job)
    if not 0 <= step < len(steps):
        raise HTTPException(404, f"no version {step}; the job has {len(steps)}")
    return FileResponse(steps[step], media_type="model/3mf", filename=f"{job.id}-v{step}.3mf")
