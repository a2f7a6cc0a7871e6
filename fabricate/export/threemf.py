"""3MF files: written in one streamed pass (lxml into the zip); read by fabricate/export/read3mf.py.

One object (or a plate of several, :func:`export_plate_3mf`) in millimetres with per-triangle
colours in a Materials-extension colour group and, for the chosen slicers, their painting
attributes on each triangle and their settings parts beside the model (what they are:
fabricate/export/slicer_parts.py). The model part streams straight into its zip entry: lxml writes the structure and escapes
the text, and the vertex and triangle rows, which are only numbers and fixed names, go
in as bytes formatted a chunk at a time. Nothing is read back or rewritten.
"""
from __future__ import annotations

import datetime
import zipfile
from dataclasses import dataclass
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
    palette, colour = palette_indices(mesh.face_colours) if mesh.face_colours is not None else (None, None)
    _write_package(stream, [_MeshObject(OBJECT_ID, title, vertices, faces, colour)], [], [OBJECT_ID], palette,
                   COLOUR_GROUP_ID, metadata, slicer_parts, settings_parts)


def export_plate_3mf(plate, stream, title: Optional[str] = None, source: Optional[str] = None,
                     extra_metadata: Optional[dict] = None) -> None:
    """Write a plate of several objects (fabricate.export.plate.Plate) as a 3MF into ``stream``.

    Every judged part keeps its name, colours and place: its vertices are already plate
    coordinates, so build items carry no transform. An object of one part is one mesh
    object; an object of several is a components object over one mesh object per part,
    as the 3MF core specification builds assemblies. Parts that are not judged (beam
    lattices, modifiers, supports) are not written: fabricate cannot write them as they were.
    A plate of one object of one part is laid out as :func:`export_3mf` lays out its mesh.
    """
    written = [(obj, obj.checked_parts) for obj in plate.objects if obj.checked_parts]
    coloured = [part.mesh.face_colours for _, parts in written for part in parts if part.mesh.face_colours is not None]
    palette, index = palette_indices(np.concatenate(coloured)) if coloured else (None, None)
    meshes, assemblies, build, start = [], [], [], 0
    for obj, parts in written:
        first_id = len(meshes) + len(assemblies) + 1
        for offset, part in enumerate(parts):
            faces = np.asarray(part.mesh.faces, np.int64).reshape(-1, 3)
            vertices = np.asarray(part.mesh.vertices, np.float32)
            _check_triangles(faces, len(vertices))
            colour = None
            if part.mesh.face_colours is not None:
                colour, start = index[start:start + len(faces)], start + len(faces)
            meshes.append(_MeshObject(first_id + offset, obj.name if len(parts) == 1 else part.name, vertices, faces,
                                      colour))
        if len(parts) > 1:
            assemblies.append((first_id + len(parts), obj.name, list(range(first_id, first_id + len(parts)))))
        build.append(first_id + len(parts) if len(parts) > 1 else first_id)
    title = title or plate.title or "fabricate plate"
    _write_package(stream, meshes, assemblies, build, palette, len(meshes) + len(assemblies) + 1,
                   _metadata(title, source, extra_metadata, None), None, {})


@dataclass
class _MeshObject:
    """One mesh object resource: float32 vertices, triangles, and each triangle's palette index (or None)."""

    object_id: int
    name: str
    vertices: np.ndarray
    faces: np.ndarray
    colour: Optional[np.ndarray]


def _write_package(stream, meshes: list, assemblies: list, build: list, palette, colour_group_id: int, metadata,
                   slicer_parts, settings_parts: dict) -> None:
    """The package: content types, relationships, the streamed model part, then the settings parts."""
    triangle_count = sum(len(m.faces) for m in meshes)
    extensions = {"rels", "model"} | {name.rsplit(".", 1)[-1] for name in settings_parts}
    with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as package:
        package.writestr("[Content_Types].xml", _content_types(extensions))
        package.writestr("_rels/.rels", _relationships())
        with package.open(MODEL_PART, "w", force_zip64=triangle_count > ZIP64_TRIANGLES) as part:
            _write_model(part, meshes, assemblies, build, palette, colour_group_id, metadata, slicer_parts)
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


def _write_model(part, meshes: list, assemblies: list, build: list, palette, colour_group_id: int, metadata,
                 slicer_parts) -> None:
    """Stream the model part: metadata, colour group, each mesh object's vertices and triangles, the
    components objects (id, name, part ids), the build."""
    # Unprefixed tags are written as given, so they fall in the default (core) namespace.
    nsmap = {None: CORE_NAMESPACE, "m": MATERIAL_NAMESPACE}
    if slicer_parts is not None:
        nsmap.update(slicer_parts.namespaces)
    for name, _, _ in metadata:
        if ":" in name:
            prefix = name.split(":", 1)[0]
            nsmap.setdefault(prefix, METADATA_NAMESPACE + prefix)
    with etree.xmlfile(part, encoding="utf-8") as xml:
        xml.write_declaration()
        with xml.element("model", {"unit": "millimeter", "xml:lang": "en-US"}, nsmap=nsmap):
            for name, value, preserve in metadata:
                with xml.element("metadata", {"name": name, **({"preserve": "1"} if preserve else {})}):
                    xml.write(value)
            with xml.element("resources"):
                if palette is not None:
                    with xml.element(f"{{{MATERIAL_NAMESPACE}}}colorgroup", id=str(colour_group_id)):
                        _write_rows(xml, part, '<m:color color="#%02X%02X%02XFF"/>', len(palette),
                                    lambda rows: palette[rows].ravel().tolist())
                for mesh in meshes:
                    _write_mesh_object(xml, part, mesh, colour_group_id, slicer_parts)
                for object_id, name, part_ids in assemblies:
                    with xml.element("object", {"id": str(object_id), "name": name, "type": "model"}):
                        with xml.element("components"):
                            for part_id in part_ids:
                                xml.write(etree.Element("component", objectid=str(part_id)))
            with xml.element("build"):
                for object_id in build:
                    xml.write(etree.Element("item", objectid=str(object_id)))


def _write_mesh_object(xml, part, mesh: _MeshObject, colour_group_id: int, slicer_parts) -> None:
    vertices, faces = mesh.vertices, mesh.faces
    object_colour, suffix_table, suffix_index = _triangle_attributes(len(faces), mesh.colour, colour_group_id,
                                                                     slicer_parts)
    with xml.element("object", {"id": str(mesh.object_id), "name": mesh.name, "type": "model", **object_colour}):
        with xml.element("mesh"):
            with xml.element("vertices"):
                # Nine significant digits read back as exactly the same float32.
                _write_rows(xml, part, '<vertex x="%.9g" y="%.9g" z="%.9g"/>', len(vertices),
                            lambda rows: vertices[rows].astype(np.float64).ravel().tolist())
            with xml.element("triangles"):
                _write_rows(xml, part, '<triangle v1="%d" v2="%d" v3="%d"%s/>', len(faces),
                            lambda rows: _triangle_values(faces[rows], suffix_table, suffix_index[rows]))


def _triangle_attributes(triangle_count: int, colour, colour_group_id: int, slicer_parts):
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
        object_colour = {"pid": str(colour_group_id), "pindex": str(default)}
        # A triangle of the object's own colour inherits it and needs no property of its own.
        table = ["" if k == default else f' pid="{colour_group_id}" p1="{k}"' for k in range(int(colour.max()) + 1)]
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
    """Every solid a 3MF prints, merged into one mesh in millimetres (previews, single-mesh formats).

    Read by fabricate/export/read3mf.py (components, build transforms, units, colours);
    metadata keeps each name without its namespace prefix ("SourcePhoto"). For the objects
    one by one, use :func:`fabricate.export.read3mf.read_plate`.
    """
    from fabricate.export.read3mf import read_plate

    plate = read_plate(path)
    if not plate.objects:
        raise InputError(f"{path}: the 3MF has no object on its build plate")
    mesh = plate.merged_mesh()
    mesh.metadata = {name.rsplit(":", 1)[-1]: value for name, value in plate.metadata.items()}
    return mesh
