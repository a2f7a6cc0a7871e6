"""Mesh files by format: one exporter per format in :data:`EXPORTERS`, each writing to a binary stream.

3MF is ours (fabricate/export/threemf.py); STL and GLB come from trimesh. :func:`write_mesh`
picks the exporter by the file's extension and puts the file in place through the one
atomic writer (fabricate/atomic.py); :func:`write_plate` writes a plate of several objects.
What ``fabricate make`` writes (:data:`MODEL_OUTPUTS`, :func:`write_model_output`) adds the
assets for engines and editors: a textured PBR GLB, OBJ + MTL + PNG, a quad-dominant OBJ.
Reading: 3MF with fabricate/export/read3mf.py (:func:`load_plate_file` gives its objects one
by one), the rest with trimesh. Every mesh read is refused, as bad input, when its numbers
cannot be used (non-finite coordinates, triangles naming vertices that do not exist).
"""
from __future__ import annotations

import os
import re
from typing import Optional

import numpy as np

from fabricate.atomic import atomic_open
from fabricate.errors import InputError
from fabricate.export.plate import Plate
from fabricate.export.threemf import export_3mf, export_plate_3mf, read_3mf
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.validate import invalid_numbers

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


#: What ``fabricate make`` writes (the model, ``--also``): format -> the suffix of its file.
#: The GLB is the textured asset (fabricate/export/textured.py), "obj" comes with its MTL and
#: PNG, "quad-obj" is the quad-dominant remesh (fabricate/export/quads.py).
MODEL_OUTPUTS = {"3mf": ".3mf", "stl": ".stl", "glb": ".glb", "obj": ".obj", "quad-obj": ".quad.obj"}
#: The formats ``--also`` accepts (the 3MF is always the main model's format of choice).
ALSO_FORMATS = tuple(name for name in MODEL_OUTPUTS if name != "3mf")


def output_file(base, file_format: str) -> str:
    """Where ``file_format`` goes for a model named ``base`` (the path without its extension)."""
    return os.fspath(base) + MODEL_OUTPUTS[file_format]


def output_format(path) -> str:
    """The :data:`MODEL_OUTPUTS` format a path names (the longest suffix it ends in)."""
    name = os.fspath(path).lower()
    matches = [f for f, suffix in MODEL_OUTPUTS.items() if name.endswith(suffix)]
    if not matches:
        raise InputError(f"cannot write {os.path.basename(os.fspath(path))}; use one of "
                         f"{', '.join(MODEL_OUTPUTS.values())}")
    return max(matches, key=lambda f: len(MODEL_OUTPUTS[f]))


def output_files(path) -> list:
    """Every file :func:`write_model_output` writes for ``path`` (an OBJ brings its material and texture)."""
    if output_format(path) == "obj":
        from fabricate.export.textured import obj_files

        return obj_files(path)
    return [os.fspath(path)]


def write_model_output(path, mesh: ColouredMesh, texture_size: Optional[int] = None,
                       asset_triangles: Optional[int] = None, **details) -> list:
    """Write a finished model in the format ``path`` names (:data:`MODEL_OUTPUTS`); returns the paths written.

    ``texture_size`` and ``asset_triangles`` shape the textured assets (GLB, OBJ), ``details``
    the 3MF; every file appears only once complete.
    """
    from fabricate.export import textured

    file_format = output_format(path)
    asset = {"texture_size": texture_size or textured.DEFAULT_TEXTURE_SIZE,
             "asset_triangles": asset_triangles or textured.DEFAULT_ASSET_TRIANGLES}
    if file_format == "glb":
        with atomic_open(path, "wb") as stream:
            textured.export_textured_glb(mesh, stream, **asset)
        return [os.fspath(path)]
    if file_format == "obj":
        return textured.write_obj_with_texture(path, mesh, **asset)
    if file_format == "quad-obj":
        from fabricate.export.quads import write_quad_obj

        return [write_quad_obj(path, mesh)]
    write_mesh(path, mesh, file_format, **details)
    return [os.fspath(path)]


def write_plate(path, plate: Plate, **details) -> None:
    """Write a plate: as a 3MF of named objects, or merged into one mesh for the single-mesh formats."""
    name = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if name != "3mf":
        write_mesh(path, plate.merged_mesh(), name or None, **details)
        return
    with atomic_open(path, "wb") as stream:
        export_plate_3mf(plate, stream, **details)


def repaired_path(path) -> str:
    """Where a repair of ``path`` goes by default: NAME.repaired.EXT, as .3mf when EXT cannot be written."""
    stem, extension = os.path.splitext(os.fspath(path))
    return stem + ".repaired" + (extension if extension.lower() in WRITABLE else ".3mf")


def _check_readable(path: str) -> str:
    extension = os.path.splitext(path)[1].lower()
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    if extension not in READABLE:
        raise InputError(f"cannot read {extension or 'files without an extension'}; use one of {', '.join(READABLE)}")
    return extension


def load_plate_file(path, strict: bool = False) -> Plate:
    """A mesh or project file as a plate: a 3MF's printed objects one by one, any other file as one object.

    ``strict`` refuses also the departures from the 3MF specification that change nothing
    printed (fabricate.export.read3mf.STRICT_ONLY).
    """
    from fabricate.export.read3mf import read_plate

    path = os.fspath(path)
    if _check_readable(path) == ".3mf":
        return read_plate(path, strict=strict)
    return Plate.of_mesh(os.path.basename(path), load_mesh_file(path))


def load_mesh_file(path) -> ColouredMesh:
    """Read a mesh file as stored, without repairing it.

    STL stores each triangle's corners separately, and a textured GLB or OBJ splits
    its vertices along the texture's seams; corners at exactly the same position are
    joined, as slicers do, so the topology can be judged. A 3MF's objects are merged
    (see :func:`load_plate_file` for them one by one).
    """
    path = os.fspath(path)
    extension = _check_readable(path)
    name = os.path.basename(path)
    if extension == ".3mf":
        return read_3mf(path)
    if extension == ".stl":
        _check_stl_size(path)
    if extension == ".obj":
        _check_obj_indices(path)
    import trimesh

    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except IndexError as exc:  # trimesh indexes its vertex array with the file's face numbers
        raise InputError(f"{name}: a triangle refers to a vertex that does not exist ({exc})") from None
    except Exception as exc:
        raise InputError(f"{name} is not a readable {extension[1:].upper()} file ({exc})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InputError(f"{name} holds no triangles")
    vertices, faces = np.asarray(loaded.vertices, np.float64), np.asarray(loaded.faces, np.int64)
    problem = invalid_numbers(vertices, faces)
    if problem:
        raise InputError(f"{name}: {problem}")
    colours = None
    if loaded.visual is not None and loaded.visual.kind == "vertex":
        colours = np.asarray(loaded.visual.vertex_colors)[:, :3]
    if extension == ".stl" or (loaded.visual is not None and loaded.visual.kind == "texture"):
        _, first, inverse = np.unique(vertices, axis=0, return_index=True, return_inverse=True)
        vertices, faces = vertices[first], inverse.ravel()[faces]
        colours = None if colours is None else colours[first]
    return ColouredMesh(vertices, faces, colours, None, {"source": name})


#: A binary STL: an 80-byte header, a little-endian triangle count, then 50 bytes per triangle.
STL_HEADER, STL_TRIANGLE = 84, 50


def _check_stl_size(path: str) -> None:
    """A binary STL whose triangle count disagrees with its size is truncated or corrupt: say so
    (trimesh would read it as no triangles)."""
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        head = stream.read(1024)
    count = int.from_bytes(head[80:84], "little") if size >= STL_HEADER else None
    if count is not None and STL_HEADER + STL_TRIANGLE * count == size:
        return
    if head.lstrip().lower().startswith(b"solid") and (b"facet" in head or b"endsolid" in head):
        return  # ASCII STL
    name = os.path.basename(path)
    if count is None:
        raise InputError(f"{name} is neither ASCII STL nor binary STL: {size} bytes is less than a binary STL's "
                         f"{STL_HEADER}-byte header")
    raise InputError(f"{name}: the binary STL header counts {count:,} triangles ({STL_HEADER + STL_TRIANGLE * count:,} "
                     f"bytes) but the file has {size:,} bytes ({max(size - STL_HEADER, 0) // STL_TRIANGLE:,} whole "
                     "triangles): it is truncated or corrupt")


#: An OBJ face corner whose vertex number is 0 (OBJ counts from 1; trimesh would take it as the last vertex).
OBJ_ZERO_INDEX = re.compile(rb"^f[ \t]+(?:[^\n]*[ \t])?0(?=[/ \t\r\n]|$)", re.M)


def _check_obj_indices(path: str) -> None:
    with open(path, "rb") as stream:
        data = stream.read()
    match = OBJ_ZERO_INDEX.search(data)
    if match:
        end = data.find(b"\n", match.start())
        line = data[match.start():end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
        raise InputError(f"{os.path.basename(path)}: a face uses vertex 0 ({line!r}), but OBJ numbers vertices "
                         "from 1: it refers to a vertex that does not exist")
