"""A mesh as a compressed ``.npz`` archive, and back, without pickles.

Used where fabricate keeps a mesh for later in its own files: an edit history's earlier
versions (inside the 3MF) and a web job's coloured surface, from which its textured GLB is
baked when first asked for. Reading checks every array's kind and shape before a mesh is made.
"""
from __future__ import annotations

import io
import zipfile

import numpy as np

from fabricate.errors import InputError
from fabricate.mesh.coloured_mesh import ColouredMesh

#: The arrays every archive holds (``extra`` ones may not take these names).
MESH_ARRAYS = ("vertices", "faces", "face_colours", "vertex_colours")
#: zlib level (1: fastest; on a 200k-triangle mesh higher levels save under 1 %, in 3x the time).
ARCHIVE_COMPRESS_LEVEL = 1


def mesh_to_npz(mesh: ColouredMesh, vertex_dtype=np.float64, vertex_colours: bool = True,
                extra: dict | None = None) -> bytes:
    """The mesh's vertices (as ``vertex_dtype``), triangles, face colours and (when asked) vertex
    colours: np.savez_compressed's archive, which np.load reads, at :data:`ARCHIVE_COMPRESS_LEVEL`.
    ``extra`` adds named arrays of plain numbers kept beside the mesh (see :func:`mesh_and_extra_from_npz`)."""
    none = np.zeros((0, 3), np.uint8)
    arrays = {"vertices": np.asarray(mesh.vertices, vertex_dtype), "faces": np.asarray(mesh.faces, np.uint32),
              "face_colours": np.asarray(mesh.face_colours if mesh.face_colours is not None else none, np.uint8)}
    if vertex_colours:
        arrays["vertex_colours"] = np.asarray(mesh.vertex_colours if mesh.vertex_colours is not None else none,
                                              np.uint8)
    for name, array in (extra or {}).items():
        if name in MESH_ARRAYS or not name.isidentifier():
            raise ValueError(f"{name!r} cannot be kept beside a mesh")
        arrays[name] = np.asarray(array)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=ARCHIVE_COMPRESS_LEVEL) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as part:
                np.lib.format.write_array(part, array, allow_pickle=False)
    return buffer.getvalue()


def mesh_from_npz(data: bytes, what: str) -> ColouredMesh:
    """The mesh :func:`mesh_to_npz` stored; ``what`` names it in the error a damaged archive raises."""
    return mesh_and_extra_from_npz(data, what)[0]


def mesh_and_extra_from_npz(data: bytes, what: str) -> tuple:
    """The mesh :func:`mesh_to_npz` stored and a dict of its ``extra`` arrays (numbers only: each
    caller checks the shapes it expects)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            vertices, faces, face_colours = arrays["vertices"], arrays["faces"], arrays["face_colours"]
            vertex_colours = arrays["vertex_colours"] if "vertex_colours" in arrays.files else None
            extra = {name: arrays[name] for name in arrays.files if name not in MESH_ARRAYS}
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{what} is damaged: {exc}") from None
    if any(array.dtype.kind not in "biuf" for array in extra.values()):
        raise InputError(f"{what} is damaged: it holds arrays that are not numbers")
    rows = lambda array, kinds: array.ndim == 2 and array.shape[1:] == (3,) and array.dtype.kind in kinds
    if not (rows(vertices, "f") and rows(faces, "iu") and rows(face_colours, "u")) \
            or (vertex_colours is not None and not rows(vertex_colours, "u")) \
            or (len(faces) and int(faces.max()) >= len(vertices)) or not np.isfinite(vertices).all():
        raise InputError(f"{what} is damaged: its arrays do not form a mesh")
    fits = lambda colours, count: colours if colours is not None and len(colours) == count and count else None
    return ColouredMesh(vertices.astype(np.float64), faces.astype(np.int64), fits(vertex_colours, len(vertices)),
                        fits(face_colours, len(faces))), extra
