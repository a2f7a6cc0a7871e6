"""3MF files: written in one streamed pass (lxml into the zip), read with lib3mf.

One object in millimetres with per-triangle colours in a Materials-extension colour
group and, for the chosen slicers, their painting attributes on each triangle and their
settings parts beside the model (what they are: fabricate/export/slicer_parts.py). The
model part streams straight into its zip entry: lxml writes the structure and escapes
the text, and the vertex and triangle rows, which are only numbers and fixed names, go
in as bytes formatted a chunk at a time. Nothing is read back or rewritten.
"""
from __future__ import annotations

import ctypes
import datetime
import zipfile
from typing import Optional

import numpy as np
from lxml import etree

from fabricate import __version__
from fabricate.atomic import atomic_open
from fabricate.errors import InputError
from fabricate.mesh.coloured_mesh import ColouredMesh

CORE_NAMESPACE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MATERIAL_NAMESPACE = "http://schemas.microsoft.com/3dmanufacturing/material/2015/02"
#: Our own metadata names carry a prefix ("fabricate:SourcePhoto"); each prefix gets a namespace under this.
METADATA_NAMESPACE = "https://fabricate.local/3mf/"
MODEL_PART = "3D/3dmodel.model"
MODEL_RELATIONSHIP = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
#: Content type of each part extension (the package's [Content_Types].xml lists those it holds).
CONTENT_TYPES = {"rels": "application/vnd.openxmlformats-package.relationships+xml",
                 "model": "application/vnd.ms-package.3dmanufacturing-3dmodel+xml",
                 "config": "text/plain"}
OBJECT_ID, COLOUR_GROUP_ID = 1, 2
#: Rows formatted per string: large enough that the per-chunk overhead vanishes, small enough to bound memory.
ROWS_PER_CHUNK = 20_000
#: zlib level for every part: on a 200,000-triangle model level 4 takes 40 % less time than
#: zlib's default (6) for 7 % more bytes; compressing is most of the writing time.
COMPRESS_LEVEL = 4
#: Above this many triangles the model part may pass the 2 GiB a plain zip entry holds (a painted
#: triangle and its share of the vertices take up to ~170 bytes).
ZIP64_TRIANGLES = 10_000_000


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


def export_3mf(mesh: ColouredMesh, stream, title: str = "fabricate model", source: Optional[str] = None,
               extra_metadata: Optional[dict] = None, slicer_parts=None) -> None:
    """Write ``mesh`` (millimetres) as a one-object 3MF package into the binary ``stream``.

    Colours go into a Materials-extension colour group: the object's own property is
    the first triangle's colour, and every triangle of another colour carries ``pid``
    and ``p1``.

    Parameters
    ----------
    mesh
        Closed mesh in millimetres with ``face_colours`` (or vertex colours).
    stream
        Writable binary file object (seekable or not).
    title
        Object name and the Title metadata.
    source
        Source photo name, stored as metadata.
    extra_metadata
        More name/value pairs for the model's metadata.
    slicer_parts : fabricate.export.slicer_parts.SlicerParts, optional
        Filament painting and settings for PrusaSlicer, Bambu Studio and OrcaSlicer.

    Raises
    ------
    ValueError
        A triangle refers to a vertex that does not exist or twice to the same one
        (3MF core specification: the three indices are distinct vertices).
    """
    # Slicers and lib3mf keep single precision: the file holds exactly the float32 vertices.
    vertices = np.asarray(mesh.vertices, np.float32)
    faces = np.asarray(mesh.faces, np.int64).reshape(-1, 3)
    _check_triangles(faces, len(vertices))
    if mesh.face_colours is None and mesh.vertex_colours is not None:
        mesh = mesh.with_face_colours_from_vertices()
    metadata = _metadata(title, source, extra_metadata, slicer_parts)
    settings_parts = slicer_parts.extra_files(OBJECT_ID, title, len(faces)) if slicer_parts is not None else {}
    extensions = {"rels", "model"} | {name.rsplit(".", 1)[-1] for name in settings_parts}
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as package:
        package.writestr("[Content_Types].xml", _content_types(extensions))
        package.writestr("_rels/.rels", _relationships())
        with package.open(MODEL_PART, "w", force_zip64=len(faces) > ZIP64_TRIANGLES) as part:
            _write_model(part, vertices, faces, mesh.face_colours, title, metadata, slicer_parts)
        for name, text in settings_parts.items():
            package.writestr(name, text)


def write_3mf(path, mesh: ColouredMesh, **options) -> None:
    """:func:`export_3mf` into the file ``path``, which appears only once fully written."""
    with atomic_open(path, "wb") as stream:
        export_3mf(mesh, stream, **options)


def _check_triangles(faces: np.ndarray, vertex_count: int) -> None:
    if len(faces) and (faces.min() < 0 or faces.max() >= vertex_count):
        raise ValueError(f"a triangle refers to a vertex outside the {vertex_count} vertices")
    repeated = (faces[:, 0] == faces[:, 1]) | (faces[:, 1] == faces[:, 2]) | (faces[:, 2] == faces[:, 0])
    if repeated.any():
        raise ValueError(f"{int(repeated.sum())} triangles use the same vertex twice")


def _metadata(title, source, extra_metadata, slicer_parts) -> list:
    """(name, value, preserve) of each model metadata entry, in file order."""
    entries = {
        "Title": title,
        "Application": f"fabricate {__version__}",
        "CreationDate": datetime.date.today().isoformat(),
        "Description": f"Made by fabricate {__version__}" + (f" from the photo {source}" if source else ""),
    }
    if source:
        entries["fabricate:SourcePhoto"] = source
    entries.update(extra_metadata or {})
    slicer_entries = {}
    if slicer_parts is not None:
        slicer_entries = slicer_parts.model_metadata
        if slicer_parts.application:
            entries["Application"] = slicer_parts.application
            entries["fabricate:Generator"] = f"fabricate {__version__}"
    # Ours ask a later editor to keep them (preserve); the slicers' are theirs to rewrite.
    return [(name, str(value), False) for name, value in slicer_entries.items()] + \
        [(name, str(value), True) for name, value in entries.items()]


def _content_types(extensions) -> bytes:
    types = etree.Element("Types", nsmap={None: "http://schemas.openxmlformats.org/package/2006/content-types"})
    for extension in sorted(extensions):
        etree.SubElement(types, "Default", Extension=extension, ContentType=CONTENT_TYPES[extension])
    return etree.tostring(types, xml_declaration=True, encoding="utf-8")


def _relationships() -> bytes:
    relationships = etree.Element(
        "Relationships", nsmap={None: "http://schemas.openxmlformats.org/package/2006/relationships"})
    etree.SubElement(relationships, "Relationship", Type=MODEL_RELATIONSHIP, Target="/" + MODEL_PART, Id="rel0")
    return etree.tostring(relationships, xml_declaration=True, encoding="utf-8")


def _write_model(part, vertices, faces, face_colours, title, metadata, slicer_parts) -> None:
    """Stream the model part: metadata, colour group, the object's vertices and triangles, the build."""
    # Unprefixed tags are written as given, so they fall in the default (core) namespace.
    nsmap = {None: CORE_NAMESPACE, "m": MATERIAL_NAMESPACE}
    if slicer_parts is not None:
        nsmap.update(slicer_parts.namespaces)
    for name, _, _ in metadata:
        if ":" in name:
            prefix = name.split(":", 1)[0]
            nsmap.setdefault(prefix, METADATA_NAMESPACE + prefix)
    palette, colour = palette_indices(face_colours) if face_colours is not None else (None, None)
    object_colour, suffix_table, suffix_index = _triangle_attributes(len(faces), colour, slicer_parts)
    with etree.xmlfile(part, encoding="utf-8") as xml:
        xml.write_declaration()
        with xml.element("model", {"unit": "millimeter", "xml:lang": "en-US"}, nsmap=nsmap):
            for name, value, preserve in metadata:
                with xml.element("metadata", {"name": name, **({"preserve": "1"} if preserve else {})}):
                    xml.write(value)
            with xml.element("resources"):
                if palette is not None:
                    with xml.element(f"{{{MATERIAL_NAMESPACE}}}colorgroup", id=str(COLOUR_GROUP_ID)):
                        _write_rows(xml, part, '<m:color color="#%02X%02X%02XFF"/>', len(palette),
                                    lambda rows: palette[rows].ravel().tolist())
                with xml.element("object", {"id": str(OBJECT_ID), "name": title, "type": "model", **object_colour}):
                    with xml.element("mesh"):
                        with xml.element("vertices"):
                            # Nine significant digits read back as exactly the same float32.
                            _write_rows(xml, part, '<vertex x="%.9g" y="%.9g" z="%.9g"/>', len(vertices),
                                        lambda rows: vertices[rows].astype(np.float64).ravel().tolist())
                        with xml.element("triangles"):
                            _write_rows(xml, part, '<triangle v1="%d" v2="%d" v3="%d"%s/>', len(faces),
                                        lambda rows: _triangle_values(faces[rows], suffix_table, suffix_index[rows]))
            with xml.element("build"):
                xml.write(etree.Element("item", objectid=str(OBJECT_ID)))


def _triangle_attributes(triangle_count: int, colour, slicer_parts):
    """The object's own colour property, and the attributes after each triangle's vertex indices.

    Returns
    -------
    object_colour : dict
        ``pid`` and ``pindex`` of the object (the first triangle's colour), or empty.
    table : list of str
        Each distinct run of triangle attributes, as XML text.
    index : (m,) int
        Each triangle's entry in ``table``.
    """
    object_colour, table, index = {}, [""], np.zeros(triangle_count, np.int64)
    if colour is not None and triangle_count:
        default = int(colour[0])
        object_colour = {"pid": str(COLOUR_GROUP_ID), "pindex": str(default)}
        # A triangle of the object's own colour inherits it and needs no property of its own.
        table = ["" if k == default else f' pid="{COLOUR_GROUP_ID}" p1="{k}"' for k in range(int(colour.max()) + 1)]
        index = colour
    if slicer_parts is not None:
        paint_table, filament = slicer_parts.triangle_attributes()
        table = [own + paint for own in table for paint in paint_table]
        index = index * len(paint_table) + filament
    return object_colour, table, index


def _triangle_values(faces: np.ndarray, suffix_table: list, suffix_index: np.ndarray) -> list:
    """v1, v2, v3 and the attribute text of each triangle, flat."""
    values = np.empty((len(faces), 4), object)
    values[:, :3] = faces
    values[:, 3] = np.asarray(suffix_table, object)[suffix_index]
    return values.ravel().tolist()


def _write_rows(xml, part, template: str, count: int, values_of) -> None:
    """Write ``template`` filled with ``values_of(rows)`` for each of ``count`` rows, one a line, as raw bytes.

    ``values_of`` gets a slice of rows and returns their values, flat; formatting a chunk
    of rows with one ``%`` is far faster than building an element per row.
    """
    xml.write("\n")
    xml.flush()  # what lxml holds must reach the part before our bytes
    line = template + "\n"
    for start in range(0, count, ROWS_PER_CHUNK):
        rows = slice(start, min(start + ROWS_PER_CHUNK, count))
        part.write(((line * (rows.stop - rows.start)) % tuple(values_of(rows))).encode("utf-8"))


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
