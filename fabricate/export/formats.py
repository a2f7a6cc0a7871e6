"""Mesh files by extension: 3MF (lib3mf), STL and GLB (trimesh); atomic writes."""
from __future__ import annotations

import os

import numpy as np

from fabricate.errors import InputError
from fabricate.atomic import atomic_path
from fabricate.export.threemf import read_3mf, write_3mf
from fabricate.mesh.coloured_mesh import ColouredMesh

WRITABLE = (".3mf", ".stl", ".glb")
READABLE = (".3mf", ".stl", ".glb", ".gltf", ".obj", ".ply", ".off")


def write_stl(path, mesh: ColouredMesh) -> None:
    """Binary STL (geometry only, millimetres)."""
    with atomic_path(path) as temporary:
        mesh.to_trimesh().export(temporary, file_type="stl")


def write_glb(path, mesh: ColouredMesh) -> None:
    """Binary glTF with vertex colours (viewers and the web preview)."""
    if mesh.vertex_colours is None and mesh.face_colours is not None:
        # glTF has no per-face colour: give each face its own three vertices.
        vertices = mesh.vertices[mesh.faces].reshape(-1, 3)
        faces = np.arange(len(vertices)).reshape(-1, 3)
        mesh = mesh.copy(vertices=vertices, faces=faces, vertex_colours=np.repeat(mesh.face_colours, 3, axis=0))
    with atomic_path(path) as temporary:
        mesh.to_trimesh().export(temporary, file_type="glb")


def write_mesh(path, mesh: ColouredMesh, **threemf_options) -> None:
    """Write by extension: .3mf, .stl or .glb."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    if extension == ".3mf":
        write_3mf(path, mesh, **threemf_options)
    elif extension == ".stl":
        write_stl(path, mesh)
    elif extension == ".glb":
        write_glb(path, mesh)
    else:
        raise InputError(f"cannot write {extension or 'files without an extension'}; use one of {', '.join(WRITABLE)}")


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
