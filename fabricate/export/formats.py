"""Mesh files by format: one exporter per format in :data:`EXPORTERS`, each writing to a binary stream.

3MF is ours (fabricate/export/threemf.py); STL and GLB come from trimesh. :func:`write_mesh`
picks the exporter by the file's extension and puts the file in place through the one
atomic writer (fabricate/atomic.py). Reading: 3MF with lib3mf, the rest with trimesh.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from fabricate.atomic import atomic_open
from fabricate.errors import InputError
from fabricate.export.threemf import export_3mf, read_3mf
from fabricate.mesh.coloured_mesh import ColouredMesh

READABLE = (".3mf", ".stl", ".glb", ".gltf", ".obj", ".ply", ".off")


def export_stl(mesh: ColouredMesh, stream, **_details) -> None:
    """Binary STL (geometry only, millimetres); a title, source or slicer parts have no place in it."""
    stream.write(mesh.to_trimesh().export(file_type="stl"))


def export_glb(mesh: ColouredMesh, stream, **_details) -> None:
    """Binary glTF with vertex colours (viewers and the web preview); geometry and colours only."""
    if mesh.vertex_colours is None and mesh.face_colours is not None:
        # glTF has no per-face colour: give each face its own three vertices.
        vertices = mesh.vertices[mesh.faces].reshape(-1, 3)
        faces = np.arange(len(vertices)).reshape(-1, 3)
        mesh = mesh.copy(vertices=vertices, faces=faces, vertex_colours=np.repeat(mesh.face_colours, 3, axis=0))
    stream.write(mesh.to_trimesh().export(file_type="glb"))


#: Format (the extension without its dot) -> ``exporter(mesh, stream, **details)``. Details
#: (title, source, extra_metadata, slicer_parts) are kept by the formats that can hold them.
EXPORTERS = {"3mf": export_3mf, "stl": export_stl, "glb": export_glb}
WRITABLE = tuple("." + name for name in EXPORTERS)


def write_mesh(path, mesh: ColouredMesh, file_format: Optional[str] = None, **details) -> None:
    """Write ``mesh`` to ``path`` in ``file_format`` (default: by the extension), appearing only once complete."""
    name = (file_format or os.path.splitext(os.fspath(path))[1].lstrip(".")).lower()
    if name not in EXPORTERS:
        raise InputError(f"cannot write {'.' + name if name else 'files without an extension'}; "
                         f"use one of {', '.join(WRITABLE)}")
    with atomic_open(path, "wb") as stream:
        EXPORTERS[name](mesh, stream, **details)


def write_stl(path, mesh: ColouredMesh) -> None:
    write_mesh(path, mesh, "stl")


def write_glb(path, mesh: ColouredMesh) -> None:
    write_mesh(path, mesh, "glb")


def load_mesh_file(path) -> ColouredMesh:
    """Read a mesh file as stored, without repairing it.

    STL stores each triangle's corners separately; corners at exactly the same
    position are joined, as slicers do, so the topology can be judged.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    if extension not in READABLE:
        raise InputError(f"cannot read {extension or 'files without an extension'}; use one of {', '.join(READABLE)}")
    if extension == ".3mf":
        return read_3mf(path)
    import trimesh

    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:
        raise InputError(f"{os.path.basename(path)} is not a readable {extension[1:].upper()} file ({exc})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InputError(f"{os.path.basename(path)} holds no triangles")
    vertices, faces = np.asarray(loaded.vertices, np.float64), np.asarray(loaded.faces, np.int64)
    colours = None
    if loaded.visual is not None and loaded.visual.kind == "vertex":
        colours = np.asarray(loaded.visual.vertex_colors)[:, :3]
    if extension == ".stl":
        _, first, inverse = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
        vertices, faces = vertices[first], inverse.ravel()[faces]
        colours = None if colours is None else colours[first]
    return ColouredMesh(vertices, faces, colours, None, {"source": os.path.basename(path)})
