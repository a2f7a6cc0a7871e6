"""Result files a job makes only when first asked for: the textured GLB, the STL and the colour comparison's previews.

Baking the GLB (decimate, unwrap, pack, bake a texture) took about 5 s of every web job at
256, more than the rest of the job after the reconstruction, for a download few makers take
(the page previews the 3MF). A job keeps its coloured surface instead
(:data:`ASSET_SOURCE`, the photo's vertex colours the 3MF does not hold) and the first
request for the GLB bakes it from there: the same surface, the same options, so the same
file a build would have written. The STL, which most makers never take beside the 3MF, is
written from the same surface when first asked for (0.1 s a job otherwise).

Likewise a job that delit its photos keeps the comparison (:data:`COMPARISON_SOURCE`: the
delit surface before placement and what each photo saw there), and the page's two previews
of it (the photo's colours beside the object's own) are made when the page first shows
them: 0.8-1.1 s at 256 that every job otherwise spent on a colouring and two pictures.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from fabricate.atomic import atomic_open, write_bytes_atomic
from fabricate.errors import InputError
from fabricate.jobs.store import RESULT_FILES, Job, JobStoreBase
from fabricate.mesh.archive import mesh_from_npz, mesh_to_npz

#: The job's placed, coloured surface, beside its results (not offered for download).
ASSET_SOURCE = "asset-source.npz"
#: With delighting: the colour comparison the two previews are made from (not offered for download).
COMPARISON_SOURCE = "colour-comparison.npz"
#: Size of the two previews comparing the photo's colours with the delit ones (the page shows them small).
COMPARISON_PREVIEW_PX = 256
#: Result files made on first request, and the kept file each is made from.
ON_REQUEST = {"model.glb": ASSET_SOURCE, "model.stl": ASSET_SOURCE, "preview-photo.png": COMPARISON_SOURCE,
              "preview-delit.png": COMPARISON_SOURCE}
#: A kept surface larger than this is not read (a 5-million-triangle model is about 90 MB).
MAX_ASSET_SOURCE_BYTES = 512 << 20

_locks: dict = {}
_locks_guard = threading.Lock()


def keep_asset_source(mesh, path) -> None:
    """Keep ``mesh`` (the job's final surface) at ``path`` for the files baked on request."""
    write_bytes_atomic(path, mesh_to_npz(mesh))


def keep_colour_comparison(comparison, path) -> None:
    """Keep a job's :class:`fabricate.color.views.ColourComparison` at ``path`` for its previews."""
    write_bytes_atomic(path, comparison.to_npz())


def result_file(store: JobStoreBase, job: Job, name: str) -> Optional[Path]:
    """The path of ``job``'s result ``name``, baking it first when it is made on request; None when
    the job has not succeeded or offers no such file."""
    path = store.result_path(job, name)
    if path is not None or name not in ON_REQUEST or job.status != "succeeded":
        return path
    folder = store.job_dir(job.id)
    source = folder / ON_REQUEST[name]
    if not source.is_file():
        return None
    key = (job.id, name)
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # two requests at once bake once
        path = store.result_path(job, name)
        if path is None:
            try:
                _bake(name, source, folder / RESULT_FILES[name], job.options)
            except FileNotFoundError:  # the job was deleted meanwhile (its folder with it)
                return None
            path = store.result_path(job, name)
    with _locks_guard:  # once the file is there no request needs the lock
        _locks.pop(key, None)
    return path


def _read_kept(source: Path, what: str) -> bytes:
    if source.stat().st_size > MAX_ASSET_SOURCE_BYTES:
        raise InputError(f"{what} is larger than {MAX_ASSET_SOURCE_BYTES >> 20} MB")
    with open(source, "rb") as handle:
        return handle.read(MAX_ASSET_SOURCE_BYTES + 1)


def _bake(name: str, source: Path, target: Path, options: dict) -> None:
    if ON_REQUEST[name] == ASSET_SOURCE:  # a download of the finished surface: the GLB, the STL
        from fabricate.export.formats import write_model_output
        from fabricate.options import MakeOptions

        mesh = mesh_from_npz(_read_kept(source, "the job's kept surface"), "the job's kept surface")
        made = MakeOptions.from_flat(options)
        write_model_output(target, mesh, texture_size=made.texture_size, asset_triangles=made.asset_triangles)
        return
    from fabricate.color.views import ColourComparison
    from fabricate.render import render_preview

    comparison = ColourComparison.from_npz(_read_kept(source, "the job's colour comparison"),
                                           "the job's colour comparison")
    mesh = comparison.photo if name == "preview-photo.png" else comparison.delit
    image = render_preview(mesh.vertices, mesh.faces, mesh.face_colours, COMPARISON_PREVIEW_PX)
    with atomic_open(target) as stream:
        image.save(stream, format="PNG")
