"""3MF reading and writing with lib3mf: millimetres, one object, per-triangle colours."""
from __future__ import annotations

import ctypes
import datetime
from typing import Optional

import numpy as np

from fabricate import __version__
from fabricate.errors import InputError
from fabricate.atomic import atomic_path
from fabricate.mesh.coloured_mesh import ColouredMesh


def _wrapper():
    import lib3mf

    return lib3mf, lib3mf.get_wrapper()


def palette_indices(face_colours: np.ndarray):
    """Distinct colours and each face's index into them (packed-uint32 unique, fast)."""
    packed = (face_colours[:, 0].astype(np.uint32) << 16) | (face_colours[:, 1].astype(np.uint32) << 8) \
        | face_colours[:, 2].astype(np.uint32)
    order = np.argsort(packed, kind="stable")
    sorted_packed = packed[order]
    starts = np.concatenate([[True], sorted_packed[1:] != sorted_packed[:-1]])
    unique = sorted_packed[starts]
    index = np.empty(len(packed), np.int64)
    index[order] = np.cumsum(starts) - 1
    palette = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1).astype(np.uint8)
    return palette, index


def write_3mf(path, mesh: ColouredMesh, title: str = "fabricate model", source: Optional[str] = None,
              extra_metadata: Optional[dict] = None, slicer_parts=None) -> None:
    """Write ``mesh`` (millimetres) as a one-object 3MF with per-triangle colours.

    Colours go into a Materials-extension colour group; every triangle carries
    ``pid`` and ``p1`` (lib3mf's reader ignores ``p1`` without ``pid``). The file
    appears at ``path`` only once fully written.

    Parameters
    ----------
    path
        Output file.
    mesh
        Closed mesh in millimetres with ``face_colours`` (or vertex colours).
    title
        Object name and the Title metadata.
    source
        Source photo name, stored as metadata.
    extra_metadata
        More name/value pairs for the model's metadata.
    slicer_parts : fabricate.export.slicer_parts.SlicerParts, optional
        Filament painting and settings for PrusaSlicer, Bambu Studio and OrcaSlicer,
        added to the package after lib3mf has written the core model.
    """
    lib3mf, wrapper = _wrapper()
    model = wrapper.CreateModel()
    model.SetUnit(lib3mf.ModelUnit.MilliMeter)
    obj = model.AddMeshObject()
    obj.SetName(title)
    vertices = np.ascontiguousarray(mesh.vertices, np.float32)
    faces = np.ascontiguousarray(mesh.faces, np.uint32)
    n, m = len(vertices), len(faces)
    positions = (lib3mf.Position * n).from_buffer(vertices)
    triangles = (lib3mf.Triangle * m).from_buffer(faces)
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_setgeometry(
        obj._handle, ctypes.c_uint64(n), positions, ctypes.c_uint64(m), triangles))
    if mesh.face_colours is None and mesh.vertex_colours is not None:
        mesh = mesh.with_face_colours_from_vertices()
    if mesh.face_colours is not None:
        palette, index = palette_indices(mesh.face_colours)
        group = model.AddColorGroup()
        for r, g, b in palette:
            group.AddColor(wrapper.RGBAToColor(int(r), int(g), int(b), 255))
        # Colour-group property ids start at 1 and follow insertion order.
        properties = np.empty((m, 4), np.uint32)
        properties[:, 0] = group.GetResourceID()
        properties[:, 1:] = (index + 1).astype(np.uint32)[:, None]
        buffer = (lib3mf.TriangleProperties * m).from_buffer(properties)
        wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_setalltriangleproperties(
            obj._handle, ctypes.c_uint64(m), buffer))
        obj.SetObjectLevelProperty(group.GetResourceID(), int(index[0]) + 1)
    model.AddBuildItem(obj, wrapper.GetIdentityTransform())
    metadata = model.GetMetaDataGroup()
    entries = {
        "Title": title,
        "Application": f"fabricate {__version__}",
        "CreationDate": datetime.date.today().isoformat(),
        "Description": f"Made by fabricate {__version__}" + (f" from the photo {source}" if source else ""),
    }
    if source:
        entries["fabricate:SourcePhoto"] = source
    entries.update(extra_metadata or {})
    if slicer_parts is not None and slicer_parts.application:
        entries["Application"] = slicer_parts.application
        entries["fabricate:Generator"] = f"fabricate {__version__}"
    for name, value in entries.items():
        namespace = ""
        if ":" in name:
            prefix, name = name.split(":", 1)
            namespace = "https://fabricate.local/3mf/" + prefix
        metadata.AddMetaData(namespace, name, str(value), "xs:string", True)
    writer = model.QueryWriter("3mf")
    with atomic_path(path) as temporary:
        writer.WriteToFile(temporary)
        if slicer_parts is not None:
            slicer_parts.add_to_package(temporary, object_id=obj.GetModelResourceID(), title=title)


def read_3mf(path) -> ColouredMesh:
    """Read every mesh object placed on the build plate of a 3MF into one mesh.

    Build-item transforms are applied; colour-group and base-material colours become
    ``face_colours``. Metadata names and values go to ``metadata``.
    """
    lib3mf, wrapper = _wrapper()
    model = wrapper.CreateModel()
    reader = model.QueryReader("3mf")
    try:
        reader.ReadFromFile(str(path))
    except Exception as exc:
        raise InputError(f"{path} is not a readable 3MF file ({exc})") from None
    all_v, all_f, all_c = [], [], []
    offset = 0
    items = model.GetBuildItems()
    while items.MoveNext():
        item = items.GetCurrent()
        resource = item.GetObjectResource()
        if not resource.IsMeshObject():
            raise InputError(f"{path}: component objects are not supported; export the model as one mesh")
        obj = model.GetMeshObjectByID(resource.GetResourceID())
        vertices, faces, properties = _mesh_arrays(lib3mf, wrapper, obj)
        t = item.GetObjectTransform()
        matrix = np.array([[t.Fields[r][c] for c in range(3)] for r in range(4)], np.float64)
        vertices = vertices @ matrix[:3] + matrix[3]
        all_v.append(vertices)
        all_f.append(faces + offset)
        all_c.append(_face_colours(model, properties, lib3mf))
        offset += len(vertices)
    if not all_v:
        raise InputError(f"{path}: the 3MF has no object on its build plate")
    metadata = {}
    group = model.GetMetaDataGroup()
    for i in range(group.GetMetaDataCount()):
        entry = group.GetMetaData(i)
        metadata[entry.GetName()] = entry.GetValue()
    metadata["unit"] = str(model.GetUnit())
    colours = None if any(c is None for c in all_c) else np.concatenate(all_c)
    return ColouredMesh(np.concatenate(all_v), np.concatenate(all_f), None, colours, metadata)


def _mesh_arrays(lib3mf, wrapper, obj):
    n, m = obj.GetVertexCount(), obj.GetTriangleCount()
    vertices = np.zeros((n, 3), np.float32)
    faces = np.zeros((m, 3), np.uint32)
    properties = np.zeros((m, 4), np.uint32)
    needed = ctypes.c_uint64(0)
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_getvertices(
        obj._handle, ctypes.c_uint64(n), needed, (lib3mf.Position * n).from_buffer(vertices)))
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_gettriangleindices(
        obj._handle, ctypes.c_uint64(m), needed, (lib3mf.Triangle * m).from_buffer(faces)))
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_getalltriangleproperties(
        obj._handle, ctypes.c_uint64(m), needed, (lib3mf.TriangleProperties * m).from_buffer(properties)))
    return vertices.astype(np.float64), faces.astype(np.int64), properties


def _face_colours(model, properties: np.ndarray, lib3mf=None):
    """Colours of the triangles' first property, from colour groups or base materials."""
    if len(properties) == 0 or not properties[:, 0].any():
        return None
    colours = np.full((len(properties), 3), 200, np.uint8)
    for resource_id in np.unique(properties[:, 0]):
        if resource_id == 0:
            continue
        rows = properties[:, 0] == resource_id
        kind = model.GetPropertyTypeByID(int(resource_id))
        if kind == lib3mf.PropertyType.Colors:
            group = model.GetColorGroupByID(int(resource_id))
            lookup = group.GetColor
        elif kind == lib3mf.PropertyType.BaseMaterial:
            group = model.GetBaseMaterialGroupByID(int(resource_id))
            lookup = group.GetDisplayColor
        else:
            continue
        ids = np.array(group.GetAllPropertyIDs(), np.int64)
        table = np.array([[c.Red, c.Green, c.Blue] for c in map(lookup, ids.tolist())], np.uint8).reshape(-1, 3)
        order = np.argsort(ids)
        position = np.clip(np.searchsorted(ids[order], properties[rows, 1]), 0, len(ids) - 1)
        colours[rows] = table[order][position]
    return colours
