"""Result files a job makes only when first asked for: the textured GLB.

Baking the GLB (decimate, unwrap, pack, bake a texture) took about 5 s of every web job at
256, more than the rest of the job after the reconstruction, for a download few makers take
(the page previews the 3MF). A job keeps its coloured surface instead
(:data:`ASSET_SOURCE`, the photo's vertex colours the 3MF does not hold) and the first
request for the GLB bakes it from there: the same surface, the same options, so the same
file a build would have written.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from fabricate.atomic import write_bytes_atomic
from fabricate.errors import InputError
from fabricate.jobs.store import RESULT_FILES, Job, JobStoreBase
from fabricate.mesh.archive import mesh_from_npz, mesh_to_npz

#: The job's placed, coloured surface, beside its results (not offered for download).
ASSET_SOURCE = "asset-source.npz"
#: Result files baked on first request from ASSET_SOURCE rather than by every build.
ON_REQUEST = ("model.glb",)
#: A kept surface larger than this is not read (a 5-million-triangle model is about 90 MB).
MAX_ASSET_SOURCE_BYTES = 512 << 20

_locks: dict = {}
_locks_guard = threading.Lock()


def keep_asset_source(mesh, path) -> None:
    """Keep ``mesh`` (the job's final surface) at ``path`` for the files baked on request."""
    write_bytes_atomic(path, mesh_to_npz(mesh))


def result_file(store: JobStoreBase, job: Job, name: str) -> Optional[Path]:
    """The path of ``job``'s result ``name``, baking it first when it is made on request; None when
    the job has not succeeded or offers no such file."""
    path = store.result_path(job, name)
    if path is not None or name not in ON_REQUEST or job.status != "succeeded":
        return path
    folder = store.job_dir(job.id)
    source = folder / ASSET_SOURCE
    if not source.is_file():
        return None
    key = (job.id, name)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # two requests at once bake once
        path = store.result_path(job, name)
        if path is None:
            try:
                _bake(source, folder / RESULT_FILES[name], job.options)
            except FileNotFoundError:  # the job was deleted meanwhile (its folder with it)
                return None
            path = store.result_path(job, name)
    with _locks_guard:  # once the file is there no request needs the lock
        _locks.pop(key, None)
    return path


def _bake(source: Path, target: Path, options: dict) -> None:
    from fabricate.export.formats import write_model_output
    from fabricate.options import MakeOptions

    if source.stat().st_size > MAX_ASSET_SOURCE_BYTES:
        raise InputError(f"the job's kept surface is larger than {MAX_ASSET_SOURCE_BYTES >> 20} MB")
    with open(source, "rb") as handle:
        mesh = mesh_from_npz(handle.read(MAX_ASSET_SOURCE_BYTES + 1), "the job's kept surface")
    made = MakeOptions.from_flat(options)
    write_model_output(target, mesh, texture_size=made.texture_size, asset_triangles=made.asset_triangles)
