"""Read the whole build of a 3MF: every printed object, by its name, in millimetres on the plate.

The package is read part by part with bounded sizes (no part is ever written to disk,
so entry names cannot traverse anywhere), every XML part is parsed with a parser that
loads no DTD, expands no entity and reaches no network, and the model parts stream
through ``lxml.etree.iterparse`` so a large mesh costs its arrays, not a tree.

What is read: components (nested, with their transforms), several build items and
objects, objects in other model parts (the production extension's ``p:path``, as Bambu
Studio and OrcaSlicer write ``3D/Objects/*.model``), units (micron to metre), colour
groups, base materials, composite materials, textures (sampled at each texture
coordinate) and multi-properties (their colour layer); PrusaSlicer's and Bambu Studio's
object names and part types from their settings parts. Beam lattices, slice stacks and
support or surface objects are kept as parts that are not judged, with the reason.

Conformance: a breach of the 3MF core, materials or production specification, or of the
package (OPC) and XML rules they build on, raises :class:`ConformanceError` naming the
rule. Departures that change nothing that is printed (metadata names outside the
specification; a repeated metadata name whose value fabricate does not use; a
relationship to a part, such as a thumbnail, that is not in the package; a namespace
prefix never declared, on an element fabricate then ignores) become notes on the plate;
with ``strict=True`` the last three, and the like, are refused as well (:data:`STRICT_ONLY`).
"""
from __future__ import annotations

import io
import math
import posixpath
import re
import urllib.parse
import zipfile
from array import array
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from lxml import etree

from fabricate.errors import InputError, TooLarge
from fabricate.export.plate import UNCOLOURED, Plate, PlateObject, PlatePart
from fabricate.mesh.coloured_mesh import ColouredMesh

# --- namespaces, relationship and content types ------------------------------------------
CORE = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
MATERIAL = "http://schemas.microsoft.com/3dmanufacturing/material/2015/02"
PRODUCTION = "http://schemas.microsoft.com/3dmanufacturing/production/2015/06"
BEAM_LATTICE = "http://schemas.microsoft.com/3dmanufacturing/beamlattice/2017/02"
SLICE = "http://schemas.microsoft.com/3dmanufacturing/slice/2015/07"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MARKUP_COMPATIBILITY = "http://schemas.openxmlformats.org/markup-compatibility/2006"
RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
#: Extensions whose content fabricate reads, or knows it need not read to judge the print
#: (beam lattices and slices are reported as not checked; triangle sets only group triangles).
UNDERSTOOD_NAMESPACES = {
    CORE, MATERIAL, PRODUCTION, BEAM_LATTICE, SLICE,
    "http://schemas.microsoft.com/3dmanufacturing/beamlattice/balls/2020/07",
    "http://schemas.microsoft.com/3dmanufacturing/trianglesets/2021/07",
}
#: The 3MF specifications' namespaces all end in the year and month of their version
#: (".../material/2015/02"); a name in their space without one is no 3MF specification.
THREE_MF_NAMESPACE = re.compile(r"^https?://schemas\.(microsoft\.com|3mf\.io)/3dmanufacturing/")
DATED_NAMESPACE = re.compile(r"/\d{4}/\d{2}$")
START_PART = "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
PRINT_TICKET = "http://schemas.microsoft.com/3dmanufacturing/2013/01/printticket"
TEXTURE_CONTENT_TYPES = ("image/png", "image/jpeg")

MODEL, METADATA, RESOURCES, BUILD, ITEM = (
    f"{{{CORE}}}{n}" for n in ("model", "metadata", "resources", "build", "item"))
OBJECT, MESH, VERTICES, VERTEX, TRIANGLES, TRIANGLE, COMPONENTS, COMPONENT = (
    f"{{{CORE}}}{n}" for n in ("object", "mesh", "vertices", "vertex", "triangles", "triangle", "components",
                               "component"))
BASE_MATERIALS, BASE = f"{{{CORE}}}basematerials", f"{{{CORE}}}base"
COLOUR_GROUP, COLOUR, TEXTURE, TEXTURE_GROUP, TEX2COORD, COMPOSITE, COMPOSITE_ENTRY, MULTI, MULTI_ENTRY = (
    f"{{{MATERIAL}}}{n}" for n in ("colorgroup", "color", "texture2d", "texture2dgroup", "tex2coord",
                                   "compositematerials", "composite", "multiproperties", "multi"))

# --- limits -------------------------------------------------------------------------------
#: Largest part (uncompressed) and package: a 5-million-triangle painted model is ~850 MB.
MAX_PART_BYTES = 1 << 30
MAX_PACKAGE_BYTES = 2 << 30
MAX_PARTS = 10_000
#: Above this size a part may not expand more than MAX_RATIO times (deflate bombs reach ~1000).
RATIO_CHECKED_FROM = 16 << 20
MAX_RATIO = 250
#: Triangles of the whole plate after components are expanded (a small file can repeat one
#: object a million times).
MAX_PLATE_TRIANGLES = 20_000_000
MAX_COMPONENT_DEPTH = 64
#: Streamed vertices or triangles kept as elements before they are freed.
STREAM_BATCH = 8192
MAX_TEXTURE_PIXELS = 64_000_000
#: Settings parts kept for the plate are at most this large each (sliced G-code is not a setting).
MAX_SETTINGS_BYTES = 64 << 20
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".qoi", ".webp")

UNIT_MM = {"micron": 0.001, "millimeter": 1.0, "centimeter": 10.0, "inch": 25.4, "foot": 304.8, "meter": 1000.0}
OBJECT_TYPES = ("model", "solidsupport", "support", "surface", "other")
WELL_KNOWN_METADATA = ("Title", "Designer", "Description", "Copyright", "LicenseTerms", "Rating", "CreationDate",
                       "ModificationDate", "Application")
#: Metadata whose value fabricate uses (the plate's title; Application decides whether a
#: slicer loads the settings): a repeat with another value is ambiguous, so it is refused.
USED_METADATA = ("Title", "Application")
COLOUR_VALUE = re.compile(r"^#([0-9A-Fa-f]{6})([0-9A-Fa-f]{2})?$")

# --- the rules, as cited in messages -------------------------------------------------------
R_PACKAGE = "3MF core 1.1: a 3MF document is a ZIP package of deflated or stored parts"
R_PART_NAME = "OPC 9.1.1: part names are unique, absolute, without empty or dot segments"
R_CONTENT_TYPES = "OPC 10.1.2: a package has a [Content_Types].xml part"
R_XML = "3MF core 2.3.2: XML parts are well-formed"
R_UTF8 = "3MF core 2.3.2: XML is encoded in UTF-8"
R_DTD = "3MF core 2.3.2: DTD content must not be used"
R_XML_XSI = "3MF core 2.3.2: no xml or xsi attributes other than xml:lang"
R_SPACE = "3MF core 2.3.4: the xml:space attribute is not used"
R_UNDEFINED_NAMESPACE = "3MF core 2.3.2/2.3.3: no elements or attributes from a namespace no 3MF specification defines"
R_UNDECLARED_PREFIX = "Namespaces in XML 1.0: every prefix is declared"
R_START_PART = "3MF core 2.1.1: exactly one StartPart relationship names the root 3D model part"
R_TARGET = "3MF core 2.1.1: relationship targets are parts of the package"
R_EXTERNAL = "3MF core 2.1: a 3MF document references nothing outside its package"
R_PRINT_TICKET = "3MF core 2.1.4: a 3D model part has at most one PrintTicket"
R_RELATIONSHIP = "OPC 8.3: relationships have a Target, a Type and a unique Id"
R_MODEL = "3MF core 3.4: a model part holds one <model> with <resources> then <build>"
R_UNIT = "3MF core 3.4: unit is micron, millimeter, centimeter, inch, foot or meter"
R_REQUIRED = "3MF core 3.4: a consumer must not process a model whose required extensions it does not support"
R_METADATA_NAME = "3MF core 3.4.1: metadata has a name, prefixed by a namespace declared on <model> if not well-known"
R_METADATA_REPEAT = "3MF core 3.4.1: no two metadata elements have the same name"
R_RESOURCE_ID = "3MF core 3.4.2: resource ids are positive integers, unique in the model"
R_ITEM = "3MF core 3.4.3.1: a build item references an object of the model"
R_ITEM_OTHER = "3MF core 3.4.3.1: build items do not reference objects of type other"
R_OBJECT = "3MF core 4: an object has a unique id, a known type and a mesh or components"
R_PINDEX = "3MF core 4: an object's pindex comes with its pid"
R_PROPERTY = "3MF core 4 and materials 1.1: pid references a property group defined before it, pindex an entry of it"
R_VERTEX = "3MF core 4.1.3.1: a vertex has finite x, y and z"
R_TRIANGLE = "3MF core 4.1.4.1: a triangle's v1, v2, v3 index vertices of its mesh"
R_COMPONENT = "3MF core 4.2.1: a component references an object defined before it"
R_MATRIX = "3MF core 3.3: a transform is 12 finite numbers"
R_BASE = "3MF core 5.1: a base material has a name and an sRGB displaycolor"
R_COLOUR = "3MF materials 2.1: a colour is #RRGGBB or #RRGGBBAA"
R_TEXTURE = "3MF materials 6: a texture2d has a path to an image part and a content type image/png or image/jpeg"
R_TEXTURE_GROUP = "3MF materials 3: a texture2dgroup's texid names a texture2d defined before it"
R_COMPOSITE = "3MF materials 4: compositematerials has matid naming a basematerials group, and matindices"
R_MULTI = ("3MF materials 5: multiproperties pids name property groups defined before it, at most one material "
           "and one colour group, no multiproperties")
R_PATH = "3MF production 2: p:path names a model part, and only the root model part uses p:path"

R_MULTI_ENTRIES = "3MF materials 5.1: a multiproperties holds <m:multi> elements"
R_CHILD_BUILD = "3MF core 3.4: every model part has a <build> (a consumer ignores those of non-root parts)"

#: Breaches of these rules that change nothing printed are notes, refused with strict=True;
#: notes under any other rule (a departure the Consortium's own MUSTPASS files make) stay notes.
STRICT_ONLY = (R_METADATA_REPEAT, R_TARGET, R_UNDECLARED_PREFIX, R_MULTI_ENTRIES, R_CHILD_BUILD)


class ConformanceError(InputError):
    """A 3MF that breaks a rule of the 3MF specification or of the package and XML formats it uses."""

    def __init__(self, where: str, message: str, rule: str):
        super().__init__(f"{where}: {message} (breaks {rule})")
        self.rule = rule


def read_plate(path, strict: bool = False) -> Plate:
    """Every printed object of a 3MF file.

    Parameters
    ----------
    path
        The .3mf file.
    strict
        Refuse also the breaches listed in :data:`STRICT_ONLY` instead of noting them.

    Returns
    -------
    Plate
        One :class:`~fabricate.export.plate.PlateObject` per build item, in build order.

    Raises
    ------
    ConformanceError
        The file breaks a rule of the specification; the message names it.
    TooLarge
        A part, the package or the expanded plate is over the limits above.
    InputError
        Not a ZIP package, or unreadable.
    """
    with _Package(path) as package:
        return _PlateReader(package, strict).read()


# --- the package ----------------------------------------------------------------------------
def _part_key(name: str) -> str:
    """OPC part names compare without case and percent-encoding."""
    return urllib.parse.unquote(name).lstrip("/").casefold()


class _Package:
    """The ZIP entries of a 3MF, checked for what a hostile archive can do, read with bounds."""

    def __init__(self, path):
        self.label = str(path)
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise InputError(f"{path} is not a 3MF package: a 3MF is a ZIP archive ({exc})") from None
        self.parts = {}
        infos = [info for info in self.zip.infolist() if not info.is_dir()]
        if len(infos) > MAX_PARTS:
            raise TooLarge(f"{path} holds {len(infos)} parts; at most {MAX_PARTS} are read")
        total = 0
        for info in infos:
            self._check_entry(info)
            key = _part_key(info.filename)
            if key in self.parts:
                raise ConformanceError(self.label, f"the part {info.filename} appears twice", R_PART_NAME)
            self.parts[key] = info
            total += info.file_size
        if total > MAX_PACKAGE_BYTES:
            raise TooLarge(f"{path} expands to {total >> 20} MiB; at most {MAX_PACKAGE_BYTES >> 20} MiB are read")

    def _check_entry(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        segments = name.split("/")
        if (name.startswith("/") or "\\" in name or "\0" in name or any(s in ("", ".", "..") for s in segments)
                or re.match(r"^[A-Za-z]:", name)):
            raise ConformanceError(self.label, f"the entry {name!r} is not a valid part name", R_PART_NAME)
        if info.flag_bits & 0x1:
            raise ConformanceError(self.label, f"the part {name} is encrypted", R_PACKAGE)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ConformanceError(self.label, f"the part {name} uses compression method {info.compress_type}",
                                   R_PACKAGE)
        if info.file_size > MAX_PART_BYTES:
            raise TooLarge(f"{self.label}: the part {name} expands to {info.file_size >> 20} MiB; "
                           f"at most {MAX_PART_BYTES >> 20} MiB are read")
        if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise TooLarge(f"{self.label}: the part {name} expands {info.file_size // max(info.compress_size, 1)} "
                           f"times: a decompression bomb")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zip.close()

    def has(self, name: str) -> bool:
        return _part_key(name) in self.parts

    def name_of(self, name: str) -> str:
        """The part's name as stored."""
        return self.parts[_part_key(name)].filename

    def open(self, name: str):
        """A stream of the part that stops with TooLarge past its declared size."""
        info = self.parts[_part_key(name)]
        return _Bounded(self.zip.open(info), info.file_size, f"{self.label}: {info.filename}")

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def names(self) -> list:
        return [info.filename for info in self.parts.values()]


class _Bounded(io.RawIOBase):
    """A read-only stream of at most ``limit`` bytes; more means the archive lied about the size."""

    def __init__(self, raw, limit: int, label: str):
        self.raw, self.left, self.label = raw, limit, label

    def readable(self):
        return True

    def readinto(self, buffer) -> int:
        try:
            count = self.raw.readinto(buffer)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            raise InputError(f"{self.label} cannot be read: {exc}") from None
        self.left -= count
        if self.left < 0:
            raise TooLarge(f"{self.label} holds more than its declared size: a decompression bomb")
        return count

    def close(self):
        self.raw.close()
        super().close()


# --- XML -------------------------------------------------------------------------------------
def _parser_options() -> dict:
    # No DTD is loaded, no entity expanded, nothing fetched; lxml's default depth and text limits stay on.
    return dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False)


def _check_encoding(head: bytes, where: str) -> None:
    """UTF-8 only: refuse a UTF-16/32 byte order mark or an encoding declaration naming another."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        raise ConformanceError(where, "the XML is not encoded in UTF-8 (it starts with a UTF-16/32 byte order mark)",
                               R_UTF8)
    declaration = re.match(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']+)[\"']", head)
    encoding = declaration.group(2).decode("ascii", "replace") if declaration else "utf-8"
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise ConformanceError(where, f"the XML declares the encoding {encoding}", R_UTF8)


def _syntax_error(exc: etree.XMLSyntaxError, log, where: str, notes: "_Notes") -> None:
    """Refuse an XML error, unless all of them are prefixes never declared (noted: lxml keeps
    such an element under its literal name, in no namespace, so nothing fabricate reads matches it).

    ``log`` is the parser's own error log (the exception's may hold other parses' errors too).
    """
    errors = list(log) or [exc]
    if all(getattr(e, "type_name", "") == "NS_ERR_UNDEFINED_NAMESPACE" for e in errors):
        first = errors[0]
        notes.add(where, f"line {first.line}: {first.message.strip()}; the element is ignored", R_UNDECLARED_PREFIX)
        return
    fatal = next((e for e in errors if getattr(e, "type_name", "") != "NS_ERR_UNDEFINED_NAMESPACE"), errors[0])
    line = getattr(fatal, "line", None) or getattr(exc, "lineno", "?")
    message = getattr(fatal, "message", None) or str(exc)
    raise ConformanceError(where, f"not well-formed XML (line {line}: {message.strip()})", R_XML)


def _parse_xml(data: bytes, where: str, notes: "_Notes"):
    """A whole (small) XML part as a tree, refusing what a 3MF XML part must not contain."""
    _check_encoding(data[:512], where)
    parser = etree.XMLParser(recover=False, **_parser_options())
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        _syntax_error(exc, parser.error_log, where, notes)
        root = etree.fromstring(data, etree.XMLParser(recover=True, **_parser_options()))
        if root is None:
            raise ConformanceError(where, "not well-formed XML", R_XML) from None
    if root.getroottree().docinfo.doctype:
        raise ConformanceError(where, "the XML has a DOCTYPE", R_DTD)
    return root


def _looks_like_xml(head: bytes) -> bool:
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) and tag.startswith("{") else str(tag)


def _namespace(tag) -> Optional[str]:
    return etree.QName(tag).namespace if isinstance(tag, str) and tag.startswith("{") else None


def _undefined_three_mf(namespace: Optional[str]) -> bool:
    return bool(namespace) and bool(THREE_MF_NAMESPACE.match(namespace)) and not DATED_NAMESPACE.search(namespace)


@dataclass
class _Notes:
    """Departures from the specification that change nothing printed (refused when strict)."""

    strict: bool
    lines: list = field(default_factory=list)

    def add(self, where: str, message: str, rule: str) -> None:
        if self.strict and rule in STRICT_ONLY:
            raise ConformanceError(where, message, rule)
        line = f"{where}: {message} (departs from {rule})"
        if line not in self.lines:
            self.lines.append(line)


# --- values -----------------------------------------------------------------------------------
def _line(element) -> str:
    return f"line {element.sourceline}" if getattr(element, "sourceline", None) else "the model"


def _integer(value, lowest: int, where: str, what: str, rule: str) -> int:
    """Digits for a whole number from ``lowest`` below 2^31: ST_ResourceID from 1, ST_ResourceIndex from 0."""
    text = "" if value is None else str(value).strip()
    if not text.isdigit() or not lowest <= int(text) < 2 ** 31:
        raise ConformanceError(where, f"{what} is {value!r}, not {'a resource id' if lowest else 'an index'}", rule)
    return int(text)


def _resource_id(value, where: str, what: str) -> int:
    return _integer(value, 1, where, what, R_RESOURCE_ID)


def _index(value, where: str, what: str, rule: str) -> int:
    return _integer(value, 0, where, what, rule)


def _number(value, where: str, what: str, rule: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConformanceError(where, f"{what} is {value!r}, not a number", rule) from None
    if not math.isfinite(number):
        raise ConformanceError(where, f"{what} is {value!r}, not a finite number", rule)
    return number


def _matrix(value: Optional[str], where: str, unit_mm: float) -> np.ndarray:
    """A 3MF transform (row vectors: p' = p M) as a 4x4 column-vector matrix with its
    translation in millimetres."""
    result = np.eye(4)
    if value is None:
        return result
    numbers = value.split()
    if len(numbers) != 12:
        raise ConformanceError(where, f"the transform {value!r} has {len(numbers)} numbers, not 12", R_MATRIX)
    m = np.array([_number(n, where, "a transform entry", R_MATRIX) for n in numbers]).reshape(4, 3)
    result[:3, :3] = m[:3].T
    result[:3, 3] = m[3] * unit_mm
    return result


def _colour(value, where: str, rule: str) -> tuple:
    match = COLOUR_VALUE.match(value or "")
    if not match:
        raise ConformanceError(where, f"the colour {value!r} is not #RRGGBB or #RRGGBBAA", rule)
    rgb = match.group(1)
    return tuple(int(rgb[i:i + 2], 16) for i in (0, 2, 4))


# --- one model part ---------------------------------------------------------------------------
@dataclass
class _Mesh:
    vertices: np.ndarray  # (n, 3) in the part's unit
    faces: np.ndarray  # (m, 3)
    pid: np.ndarray  # (m,) property group of each triangle, -1 for none
    p1: np.ndarray  # (m,) its index, -1 for none
    beam_lattice: bool = False


@dataclass
class _Component:
    object_id: int
    part: str  # the model part holding the object
    matrix: np.ndarray


@dataclass
class _Object:
    id: int
    part: str
    name: Optional[str]
    type: str
    pid: Optional[int]
    pindex: Optional[int]
    mesh: Optional[_Mesh] = None
    components: list = field(default_factory=list)
    sliced: bool = False


@dataclass
class _Group:
    """A property group as a colour per entry (what a printer of colour needs from it)."""

    kind: str  # basematerials, colorgroup, texture2dgroup, compositematerials, multiproperties
    colours: Optional[np.ndarray]  # (k, 3) uint8; None until computed (textures, multiproperties)
    size: int
    readable: bool = True
    texture: Optional[int] = None  # texture2dgroup: its texture2d, and each entry's (u, v)
    coordinates: Optional[np.ndarray] = None
    layers: list = field(default_factory=list)  # multiproperties: the layered groups, and each entry's indices
    entries: Optional[np.ndarray] = None


@dataclass
class _Item:
    object_id: int
    part: str
    matrix: np.ndarray
    where: str


class _ModelPart:
    """One model part: its objects, property groups, build items and metadata, checked."""

    def __init__(self, package: _Package, name: str, root_part: bool, notes: _Notes):
        self.package, self.name, self.root_part, self.notes = package, package.name_of(name), root_part, notes
        self.where = f"{package.label}: {self.name}"
        self.objects, self.groups, self.textures, self.items, self.metadata = {}, {}, {}, [], []
        self.resource_ids = set()
        self.meshes = {}
        self._parse()

    # streaming ------------------------------------------------------------------------------
    def _parse(self) -> None:
        self._name_problems = {}
        with self.package.open(self.name) as stream:
            head = stream.read(512)
            _check_encoding(head, self.where)
            source = io.BufferedReader(_Prefixed(head, stream), 1 << 20)
            context = etree.iterparse(source, events=("start", "end"), recover=False, **_parser_options())
            root = container = columns = None
            streamed = 0
            try:
                for event, element in context:
                    tag = element.tag
                    if event == "start":
                        if root is None:
                            root = element
                            self._start_model(element)
                        self._check_names(element)
                        if tag == VERTICES or tag == TRIANGLES:
                            container = element
                            columns = tuple(array("d" if tag == VERTICES else "q") for _ in range(3 if tag == VERTICES
                                                                                                    else 5))
                            self.meshes[element] = columns
                        continue
                    if container is None:
                        continue
                    if tag == VERTEX or tag == TRIANGLE:
                        (self._vertex if tag == VERTEX else self._triangle)(element, columns)
                        streamed += 1
                        if streamed % STREAM_BATCH == 0:
                            del container[:]  # their numbers are in the arrays now
                    elif element is container:
                        del container[:]
                        container = None
            except etree.XMLSyntaxError as exc:
                # Returns only when every error was an undeclared prefix.
                _syntax_error(exc, context.error_log, self.where, self.notes)
        if root is None:
            raise ConformanceError(self.where, "not well-formed XML (no root element)", R_XML)
        self._check_model(root)

    def _start_model(self, root) -> None:
        if root.getroottree().docinfo.doctype:
            raise ConformanceError(self.where, "the XML has a DOCTYPE", R_DTD)
        if root.tag != MODEL:
            raise ConformanceError(self.where, f"the root element is {root.tag!r}, not a core <model>", R_MODEL)
        self.nsmap = dict(root.nsmap)
        ignorable = (root.get(f"{{{MARKUP_COMPATIBILITY}}}Ignorable") or "").split()
        self.ignorable = {self.nsmap.get(prefix) for prefix in ignorable}

    def _check_names(self, element) -> None:
        """xml:/xsi: attributes and names from a namespace no 3MF specification defines (judged once per name)."""
        for name in (element.tag, *element.keys()):
            if name[0] != "{":
                continue
            problem = self._name_problems.get(name, 0)
            if problem == 0:
                problem = self._name_problems[name] = self._name_problem(name, name is element.tag)
            if problem is not None:
                raise ConformanceError(self.where, f"{_line(element)}: {problem[0]}", problem[1])

    def _name_problem(self, name: str, is_tag: bool) -> Optional[tuple]:
        namespace, local = _namespace(name), _local(name)
        what = f"the element {local}" if is_tag else f"the attribute {local}"
        if namespace == XML_NAMESPACE and not is_tag:
            if local == "space":
                return "xml:space is used", R_SPACE
            if local != "lang":
                return f"the attribute xml:{local}", R_XML_XSI
        elif namespace == XSI:
            return f"the {'element' if is_tag else 'attribute'} xsi:{local}", R_XML_XSI
        elif _undefined_three_mf(namespace) and namespace not in self.ignorable:
            return f"{what} is in the namespace {namespace}", R_UNDEFINED_NAMESPACE
        return None

    def _vertex(self, element, columns) -> None:
        index = len(columns[0])
        for axis, column in zip("xyz", columns):
            value = element.get(axis)
            if value is None:
                raise ConformanceError(self.where, f"{_line(element)}: vertex {index} has no {axis}", R_VERTEX)
            try:
                number = float(value)
            except ValueError:
                raise ConformanceError(self.where, f"{_line(element)}: vertex {index} has {axis}={value!r}, "
                                       "not a number", R_VERTEX) from None
            if not math.isfinite(number):
                raise ConformanceError(self.where, f"{_line(element)}: vertex {index} has the non-finite coordinate "
                                       f"{axis}={value!r}", R_VERTEX)
            column.append(number)

    def _triangle(self, element, columns) -> None:
        # The hot loop of large files: plain int() and one range test per index.
        get = element.get
        try:
            values = (int(get("v1")), int(get("v2")), int(get("v3")))
        except (TypeError, ValueError):
            values = ()
        if len(values) != 3 or min(values) < 0 or max(values) >= 2 ** 31:
            indices = " ".join(f"{name}={get(name)!r}" for name in ("v1", "v2", "v3"))
            raise ConformanceError(self.where, f"{_line(element)}: triangle {len(columns[0])} has {indices}, not "
                                   "three vertex indices", R_TRIANGLE)
        for value, column in zip(values, columns):
            column.append(value)
        pid, p1 = get("pid"), get("p1")
        try:
            pid, p1 = (-1 if pid is None else int(pid)), (-1 if p1 is None else int(p1))
        except ValueError:
            pid = p1 = -2
        if pid == 0 or pid < -1 or p1 < -1 or max(pid, p1) >= 2 ** 31:
            raise ConformanceError(self.where, f"{_line(element)}: triangle {len(columns[0]) - 1} has "
                                   f"pid={get('pid')!r} p1={get('p1')!r}", R_PROPERTY)
        columns[3].append(pid)
        columns[4].append(p1)

    # structure --------------------------------------------------------------------------------
    def _check_model(self, root) -> None:
        unit = root.get("unit", "millimeter")
        if unit not in UNIT_MM:
            raise ConformanceError(self.where, f"unit={unit!r}", R_UNIT)
        self.unit_mm = UNIT_MM[unit]
        for prefix in (root.get("requiredextensions") or "").split():
            namespace = self.nsmap.get(prefix)
            if namespace is None:
                raise ConformanceError(self.where, f"the required extension prefix {prefix!r} is not declared",
                                       R_REQUIRED)
            if namespace not in UNDERSTOOD_NAMESPACES:
                raise ConformanceError(self.where, f"it requires the extension {namespace}, which fabricate does not "
                                       "read", R_REQUIRED)
        children = [child for child in root if isinstance(child.tag, str)]
        core = [child for child in children if _namespace(child.tag) == CORE]
        order = [child.tag for child in core]
        expected = [METADATA] * order.count(METADATA) + [RESOURCES, BUILD]
        if order != expected:
            found = ", ".join(f"<{_local(t)}>" for t in dict.fromkeys(order)) or "nothing"
            missing = [f"<{_local(t)}>" for t in (RESOURCES, BUILD) if order.count(t) != 1]
            problem = (f"{' and '.join(missing)} missing or repeated" if missing else
                       "its children are out of order (metadata, resources, build)")
            if not self.root_part and order == [METADATA] * order.count(METADATA) + [RESOURCES]:
                self.notes.add(self.where, "the model part has no <build>", R_CHILD_BUILD)
            else:
                raise ConformanceError(self.where, f"{problem}; found {found}", R_MODEL)
        unknown = [child for child in children if _namespace(child.tag) is None]
        if unknown:
            raise ConformanceError(self.where, f"{_line(unknown[0])}: <{unknown[0].tag}> is not in any namespace",
                                   R_MODEL)
        self._check_metadata([child for child in core if child.tag == METADATA])
        resources = next(child for child in core if child.tag == RESOURCES)
        for child in resources:
            if isinstance(child.tag, str):
                self._resource(child)
        build = next((child for child in core if child.tag == BUILD), None)
        if build is not None and self.root_part:
            for child in build:
                if child.tag == ITEM:
                    self._item(child)
                elif isinstance(child.tag, str) and _namespace(child.tag) in (CORE, None):
                    raise ConformanceError(self.where, f"{_line(child)}: <{_local(child.tag)}> in <build>", R_MODEL)

    def _check_metadata(self, elements) -> None:
        seen = {}
        for element in elements:
            name = element.get("name")
            if not name:
                raise ConformanceError(self.where, f"{_line(element)}: a <metadata> element has no name",
                                       R_METADATA_NAME)
            if ":" in name:
                prefix = name.split(":", 1)[0]
                if prefix not in self.nsmap:
                    raise ConformanceError(self.where, f"{_line(element)}: the metadata name {name!r} uses the "
                                           f"undeclared prefix {prefix!r}", R_METADATA_NAME)
            elif name not in WELL_KNOWN_METADATA:
                # The specification asks consumers to ignore names they do not know (its own
                # conformance test MUSTPASS 3.4.1c holds one); Bambu Studio writes several.
                self.notes.add(self.where, f"the metadata name {name!r} is neither a 3MF name nor namespace-prefixed; "
                               "it is ignored", R_METADATA_NAME)
            value = "".join(element.itertext())
            if name in seen:
                if name in USED_METADATA and value != seen[name] and self.root_part:
                    raise ConformanceError(self.where, f"{_line(element)}: the metadata {name!r} appears twice, "
                                           f"as {seen[name]!r} and {value!r}", R_METADATA_REPEAT)
                self.notes.add(self.where, f"the metadata {name!r} appears twice; the first is kept", R_METADATA_REPEAT)
                continue
            seen[name] = value
            self.metadata.append((name, value))

    def _register(self, element) -> int:
        number = _resource_id(element.get("id"), self.where, f"{_line(element)}: <{_local(element.tag)}>'s id")
        if number in self.resource_ids:
            raise ConformanceError(self.where, f"{_line(element)}: the resource id {number} is used twice",
                                   R_RESOURCE_ID)
        self.resource_ids.add(number)
        return number

    def _resource(self, element) -> None:
        tag, namespace = element.tag, _namespace(element.tag)
        if namespace is None:
            return  # an undeclared prefix, already noted
        if namespace == SLICE and _local(tag) == "slicestack":
            self._register(element)
            return
        if namespace not in (CORE, MATERIAL):
            return  # an extension's resource fabricate does not read
        if tag == OBJECT:
            self._object(element)
            return
        reader = {BASE_MATERIALS: self._base_materials, COLOUR_GROUP: self._colour_group, TEXTURE: self._texture,
                  TEXTURE_GROUP: self._texture_group, COMPOSITE: self._composite, MULTI: self._multi}.get(tag)
        if reader is not None:
            reader(element, self._register(element))
        elif namespace == CORE:
            raise ConformanceError(self.where, f"{_line(element)}: <{_local(tag)}> is not a core resource", R_MODEL)
        elif element.get("id") is not None:
            self._register(element)  # display properties and other material resources share the id space

    # property groups --------------------------------------------------------------------------
    def _base_materials(self, element, number: int) -> None:
        colours = []
        for base in element.iterchildren(BASE):
            if base.get("name") is None:
                raise ConformanceError(self.where, f"{_line(base)}: a <base> has no name", R_BASE)
            if base.get("displaycolor") is None:
                raise ConformanceError(self.where, f"{_line(base)}: a <base> has no displaycolor", R_BASE)
            colours.append(_colour(base.get("displaycolor"), f"{self.where}: {_line(base)}", R_BASE))
        self.groups[number] = _Group("basematerials", np.array(colours, np.uint8).reshape(-1, 3), len(colours))

    def _colour_group(self, element, number: int) -> None:
        colours = []
        for colour in element.iterchildren(COLOUR):
            if colour.get("color") is None:
                raise ConformanceError(self.where, f"{_line(colour)}: an <m:color> has no color", R_COLOUR)
            colours.append(_colour(colour.get("color"), f"{self.where}: {_line(colour)}", R_COLOUR))
        self.groups[number] = _Group("colorgroup", np.array(colours, np.uint8).reshape(-1, 3), len(colours))

    def _texture(self, element, number: int) -> None:
        path, content_type = element.get("path"), element.get("contenttype")
        if not path:
            raise ConformanceError(self.where, f"{_line(element)}: texture2d {number} has no path", R_TEXTURE)
        if content_type not in TEXTURE_CONTENT_TYPES:
            raise ConformanceError(self.where, f"{_line(element)}: texture2d {number} has the content type "
                                   f"{content_type!r}", R_TEXTURE)
        if not self.package.has(path):
            raise ConformanceError(self.where, f"{_line(element)}: texture2d {number}'s image {path} is not in the "
                                   "package", R_TEXTURE)
        self.textures[number] = (path, element.get("tilestyleu", "wrap"), element.get("tilestylev", "wrap"))

    def _texture_group(self, element, number: int) -> None:
        texture = element.get("texid")
        if texture is None:
            raise ConformanceError(self.where, f"{_line(element)}: texture2dgroup {number} has no texid",
                                   R_TEXTURE_GROUP)
        texture = _resource_id(texture, self.where, f"texture2dgroup {number}'s texid")
        if texture not in self.textures:
            raise ConformanceError(self.where, f"{_line(element)}: texture2dgroup {number}'s texid {texture} is not "
                                   "a texture2d defined before it", R_TEXTURE_GROUP)
        coordinates = [(_number(c.get("u"), self.where, f"{_line(c)}: u", R_TEXTURE_GROUP),
                        _number(c.get("v"), self.where, f"{_line(c)}: v", R_TEXTURE_GROUP))
                       for c in element.iterchildren(TEX2COORD)]
        self.groups[number] = _Group("texture2dgroup", None, len(coordinates), texture=texture,
                                     coordinates=np.array(coordinates, np.float64).reshape(-1, 2))

    def _composite(self, element, number: int) -> None:
        material, indices = element.get("matid"), element.get("matindices")
        if material is None or indices is None:
            raise ConformanceError(self.where, f"{_line(element)}: compositematerials {number} has no "
                                   f"{'matid' if material is None else 'matindices'}", R_COMPOSITE)
        material = _resource_id(material, self.where, f"compositematerials {number}'s matid")
        base = self.groups.get(material)
        if base is None or base.kind != "basematerials":
            raise ConformanceError(self.where, f"{_line(element)}: compositematerials {number}'s matid {material} is "
                                   "not a basematerials group defined before it", R_COMPOSITE)
        indices = [_index(i, self.where, f"compositematerials {number}'s matindices", R_COMPOSITE)
                   for i in indices.split()]
        if not indices or max(indices) >= base.size:
            raise ConformanceError(self.where, f"{_line(element)}: compositematerials {number}'s matindices "
                                   f"{indices} are not entries of basematerials {material}", R_COMPOSITE)
        colours = []
        for composite in element.iterchildren(COMPOSITE_ENTRY):
            values = [_number(v, self.where, f"{_line(composite)}: a composite value", R_COMPOSITE)
                      for v in (composite.get("values") or "").split()]
            # Materials 4.1: missing values count as zero, extra ones are ignored; the mix is by proportion.
            weights = np.array((values + [0.0] * len(indices))[:len(indices)])
            weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(indices), 1 / len(indices))
            colours.append(np.round(weights @ base.colours[indices].astype(np.float64)))
        self.groups[number] = _Group("compositematerials", np.array(colours, np.uint8).reshape(-1, 3), len(colours))

    def _multi(self, element, number: int) -> None:
        pids = element.get("pids")
        if pids is None:
            raise ConformanceError(self.where, f"{_line(element)}: multiproperties {number} has no pids", R_MULTI)
        layers = [_resource_id(p, self.where, f"multiproperties {number}'s pids") for p in pids.split()]
        kinds = []
        for layer in layers:
            group = self.groups.get(layer)
            if group is None and layer in self.textures:
                # The Consortium's MUSTPASS 3.4.2 and 3.4.3a layer a texture2d itself: no colour comes of it.
                self.notes.add(self.where, f"{_line(element)}: multiproperties {number} layers texture2d {layer}, an "
                               "image, not a property group; that layer is ignored", R_MULTI)
                group = _Group("texture2d", None, 0, readable=False)
            if group is None:
                raise ConformanceError(self.where, f"{_line(element)}: multiproperties {number} layers {layer}, which "
                                       "is not a property group defined before it", R_MULTI)
            kinds.append(group.kind)
        if "multiproperties" in kinds:
            raise ConformanceError(self.where, f"{_line(element)}: multiproperties {number} layers another "
                                   "multiproperties", R_MULTI)
        if sum(kind in ("basematerials", "compositematerials") for kind in kinds) > 1:
            raise ConformanceError(self.where, f"{_line(element)}: multiproperties {number} layers more than one "
                                   "material (basematerials or compositematerials)", R_MULTI)
        if kinds.count("colorgroup") > 1:
            raise ConformanceError(self.where, f"{_line(element)}: multiproperties {number} layers more than one "
                                   "colour group", R_MULTI)
        entries = []
        for multi in element.iterchildren(MULTI_ENTRY):
            indices = [_index(i, self.where, f"{_line(multi)}: pindices", R_MULTI)
                       for i in (multi.get("pindices") or "").split()]
            # Materials 5.1: missing pindices are 0.
            entries.append((indices + [0] * len(layers))[:len(layers)])
        group = _Group("multiproperties", None, len(entries), layers=layers,
                       entries=np.array(entries, np.int64).reshape(-1, len(layers)))
        stray = [child for child in element if isinstance(child.tag, str) and _local(child.tag) == "multi"
                 and child.tag != MULTI_ENTRY]
        if stray and not entries:
            # The Consortium's own multiprop examples write <multi> without the m: prefix.
            group.readable = False
            self.notes.add(self.where, f"{_line(element)}: multiproperties {number}'s {len(stray)} <multi> elements "
                           "are not in the materials namespace; its colours are not read", R_MULTI_ENTRIES)
        self.groups[number] = group

    def _property(self, pid: Optional[int], pindex: Optional[int], where: str) -> None:
        """Check an object's own property reference."""
        if pid is None:
            return
        group = self.groups.get(pid)
        if group is None:
            raise ConformanceError(self.where, f"{where}: pid {pid} is not a property group defined before it",
                                   R_PROPERTY)
        if pindex is not None and group.readable and pindex >= group.size:
            raise ConformanceError(self.where, f"{where}: pindex {pindex} is past the {group.size} entries of "
                                   f"property group {pid}", R_PROPERTY)

    # objects and build -------------------------------------------------------------------------
    def _object(self, element) -> None:
        number = self._register(element)
        where = f"{_line(element)}: object {number}"
        kind = element.get("type", "model")
        if kind not in OBJECT_TYPES:
            raise ConformanceError(self.where, f"{where} has the type {kind!r}", R_OBJECT)
        pid, pindex = element.get("pid"), element.get("pindex")
        if pindex is not None and pid is None:
            raise ConformanceError(self.where, f"{where} has a pindex but no pid", R_PINDEX)
        pid = None if pid is None else _resource_id(pid, self.where, f"{where}'s pid")
        pindex = None if pindex is None else _index(pindex, self.where, f"{where}'s pindex", R_PROPERTY)
        if pid is not None and pindex is None:
            pindex = 0
        self._property(pid, pindex, where)
        obj = _Object(number, self.name, element.get("name"), kind, pid, pindex,
                      sliced=element.get(f"{{{SLICE}}}slicestackid") is not None)
        shapes = [child for child in element if child.tag in (MESH, COMPONENTS)]
        if len(shapes) != 1:
            raise ConformanceError(self.where, f"{where} has {len(shapes)} of <mesh> and <components>, not one",
                                   R_OBJECT)
        if shapes[0].tag == MESH:
            obj.mesh = self._mesh(shapes[0], obj, where)
        else:
            for component in shapes[0]:
                if component.tag == COMPONENT:
                    obj.components.append(self._component(component, number))
                elif isinstance(component.tag, str) and _namespace(component.tag) in (CORE, None):
                    raise ConformanceError(self.where, f"{_line(component)}: <{_local(component.tag)}> in "
                                           "<components>", R_OBJECT)
        self.objects[number] = obj

    def _mesh(self, element, obj: _Object, where: str) -> _Mesh:
        vertices = self.meshes.pop(element.find(VERTICES), None)
        triangles = self.meshes.pop(element.find(TRIANGLES), None)
        if vertices is None or triangles is None:
            raise ConformanceError(self.where, f"{where}'s mesh lacks <vertices> or <triangles>", R_OBJECT)
        v = np.stack([np.frombuffer(c, np.float64) for c in vertices], axis=1) if len(vertices[0]) else np.zeros((0, 3))
        f = np.stack([np.frombuffer(c, np.int64) for c in triangles[:3]], axis=1) if len(triangles[0]) else \
            np.zeros((0, 3), np.int64)
        if len(f) and f.max() >= len(v):
            bad = int(np.flatnonzero(f.max(axis=1) >= len(v))[0])
            raise ConformanceError(self.where, f"{where}: triangle {bad} refers to vertex {int(f[bad].max())}, but the "
                                   f"mesh has {len(v)} vertices", R_TRIANGLE)
        mesh = _Mesh(v * self.unit_mm, f, np.frombuffer(triangles[3], np.int64).copy(),
                     np.frombuffer(triangles[4], np.int64).copy(),
                     beam_lattice=element.find(f"{{{BEAM_LATTICE}}}beamlattice") is not None)
        for group_id in np.unique(mesh.pid[mesh.pid >= 0]).tolist():
            group = self.groups.get(group_id)
            if group is None:
                raise ConformanceError(self.where, f"{where}: its triangles use pid {group_id}, which is not a "
                                       "property group defined before it", R_PROPERTY)
            used = mesh.p1[mesh.pid == group_id]
            if group.readable and len(used) and used.max() >= group.size:
                raise ConformanceError(self.where, f"{where}: a triangle uses entry {int(used.max())} of property "
                                       f"group {group_id}, which has {group.size}", R_PROPERTY)
        return mesh

    def _component(self, element, owner: int) -> _Component:
        return _Component(*self._reference(element, f"{_line(element)}: a component of object {owner}", R_COMPONENT,
                                           "which is not defined before it"))

    def _reference(self, element, where: str, rule: str, undefined: str) -> tuple:
        """The object id, its model part and the transform of a component or build item, checked."""
        if element.get("objectid") is None:
            raise ConformanceError(self.where, f"{where} has no objectid", rule)
        number = _resource_id(element.get("objectid"), self.where, f"{where}'s objectid")
        part = self._path(element, where)
        if part == self.name and number not in self.objects:
            raise ConformanceError(self.where, f"{where} references object {number}, {undefined}", rule)
        return number, part, _matrix(element.get("transform"), f"{self.where}: {where}", self.unit_mm)

    def _path(self, element, where: str) -> str:
        path = element.get(f"{{{PRODUCTION}}}path")
        if path is None:
            return self.name
        if not self.root_part:
            raise ConformanceError(self.where, f"{where} has a p:path in a model part that is not the root", R_PATH)
        if not path.startswith("/") or not self.package.has(path):
            raise ConformanceError(self.where, f"{where} has p:path={path!r}, which is not a part of the package",
                                   R_PATH)
        return self.package.name_of(path)

    def _item(self, element) -> None:
        where = f"{_line(element)}: build item {len(self.items) + 1}"
        self.items.append(_Item(*self._reference(element, where, R_ITEM, "which the model does not define"),
                                f"{self.where}: {where}"))


class _Prefixed(io.RawIOBase):
    """``head`` then the rest of ``stream`` (the encoding check reads the head first)."""

    def __init__(self, head: bytes, stream):
        self.head, self.stream = head, stream

    def readable(self):
        return True

    def readinto(self, buffer) -> int:
        if self.head:
            count = min(len(buffer), len(self.head))
            buffer[:count] = self.head[:count]
            self.head = self.head[count:]
            return count
        return self.stream.readinto(buffer)


# --- the whole package -------------------------------------------------------------------------
class _PlateReader:
    def __init__(self, package: _Package, strict: bool):
        self.package, self.notes = package, _Notes(strict)
        self.model_parts, self.triangle_counts = {}, {}
        self.triangles = 0

    def read(self) -> Plate:
        if not self.package.has("[Content_Types].xml"):
            raise ConformanceError(self.package.label, "the package has no [Content_Types].xml", R_CONTENT_TYPES)
        root = self._model_part(self._check_relationships(), root_part=True)
        names = _SlicerNames(self.package, self.notes)
        objects = [self._plate_object(item, names) for item in root.items]
        self._check_xml_parts(skip=set(self.model_parts) | {_part_key(name) for name in names.parsed})
        return Plate(_unique_names(objects), dict(root.metadata), self._settings(), self.notes.lines)

    # relationships -----------------------------------------------------------------------------
    def _check_relationships(self) -> str:
        """Check every relationships part; return the root model part's name."""
        if not self.package.has("_rels/.rels"):
            raise ConformanceError(self.package.label, "the package has no _rels/.rels", R_START_PART)
        start = None
        for name in self.package.names():
            if not name.lower().endswith(".rels") or "_rels/" not in name.lower():
                continue
            folder = name.rsplit("_rels/", 1)[0]
            relationships = self._relationships(name, folder)
            starts = [target for kind, target in relationships if kind == START_PART]
            if name.lower() == "_rels/.rels":
                if len(starts) != 1:
                    problem = "no" if not starts else f"{len(starts)}"
                    raise ConformanceError(f"{self.package.label}: {name}", f"{problem} StartPart relationships "
                                           "(a 3MF has exactly one root 3D model part)", R_START_PART)
                start = starts[0]
                if not self.package.has(start):
                    raise ConformanceError(f"{self.package.label}: {name}", f"the root 3D model part {start} is not "
                                           "in the package", R_START_PART)
        return self.package.name_of(start)

    def _relationships(self, name: str, folder: str) -> list:
        """(type, target part name) of each relationship of a relationships part, checked."""
        where = f"{self.package.label}: {name}"
        elements = [e for e in _parse_xml(self.package.read(name), where, self.notes)
                    if e.tag == f"{{{RELATIONSHIPS}}}Relationship"]
        tickets = [e for e in elements if e.get("Type") == PRINT_TICKET]
        if len(tickets) > 1:
            raise ConformanceError(where, f"{len(tickets)} PrintTicket relationships", R_PRINT_TICKET)
        result, ids = [], set()
        for element in elements:
            target, kind, rid = element.get("Target"), element.get("Type"), element.get("Id")
            if not target or not kind or not rid or rid in ids:
                raise ConformanceError(where, f"line {element.sourceline}: a relationship without Target, Type or a "
                                       "unique Id", R_RELATIONSHIP)
            ids.add(rid)
            if element.get("TargetMode") == "External" or urllib.parse.urlsplit(target).scheme:
                raise ConformanceError(where, f"the relationship {rid} points outside the package, to {target}",
                                       R_EXTERNAL)
            resolved = target if target.startswith("/") else "/" + posixpath.normpath(posixpath.join(folder, target))
            if not self.package.has(resolved):
                if kind == START_PART:
                    raise ConformanceError(where, f"the relationship {rid} names the model part {target}, which is "
                                           "not in the package", R_TARGET)
                self.notes.add(where, f"the relationship {rid} names {target}, which is not in the package "
                               f"(fabricate does not use it)", R_TARGET)
            result.append((kind, resolved))
        return result

    def _check_xml_parts(self, skip: set) -> None:
        """Every XML part must parse: 3MF's own and the slicers' settings alike (their readers fail on bad XML)."""
        for name in self.package.names():
            if _part_key(name) in skip or name.lower().endswith(".rels") or name.lower().endswith(IMAGE_EXTENSIONS):
                continue
            with self.package.open(name) as stream:
                head = stream.read(64)
            if _looks_like_xml(head) or name.lower().endswith((".xml", ".model")):
                _parse_xml(self.package.read(name), f"{self.package.label}: {name}", self.notes)

    # objects -----------------------------------------------------------------------------------
    def _model_part(self, name: str, root_part: bool = False) -> _ModelPart:
        key = _part_key(name)
        if key not in self.model_parts:
            self.model_parts[key] = _ModelPart(self.package, name, root_part, self.notes)
        return self.model_parts[key]

    def _object(self, part: str, number: int, where: str) -> _Object:
        obj = self._model_part(part).objects.get(number)
        if obj is None:
            raise ConformanceError(where, f"object {number} is not defined in {part}", R_PATH)
        return obj

    def _leaves(self, obj: _Object, matrix: np.ndarray, where: str, chain=()) -> list:
        """(mesh object, plate transform) of every mesh an object is built of."""
        if (obj.part, obj.id) in chain:  # defining before referencing rules cycles out; this guards the reader
            raise ConformanceError(where, f"object {obj.id}'s components refer back to it", R_COMPONENT)
        if len(chain) > MAX_COMPONENT_DEPTH:
            raise TooLarge(f"{where}: components nest more than {MAX_COMPONENT_DEPTH} deep")
        if obj.type == "other":
            raise ConformanceError(where, f"it prints object {obj.id}, of type other", R_ITEM_OTHER)
        if obj.mesh is not None:
            return [(obj, matrix)]
        leaves = []
        for component in obj.components:
            child = self._object(component.part, component.object_id, where)
            leaves += self._leaves(child, matrix @ component.matrix, where, chain + ((obj.part, obj.id),))
        return leaves

    def _expanded_triangles(self, obj: _Object, where: str, depth: int = 0) -> int:
        """How many triangles an object is once its components are expanded (counted before expanding them)."""
        key = (obj.part, obj.id)
        if key not in self.triangle_counts:
            if depth > MAX_COMPONENT_DEPTH:
                raise TooLarge(f"{where}: components nest more than {MAX_COMPONENT_DEPTH} deep")
            self.triangle_counts[key] = len(obj.mesh.faces) if obj.mesh is not None else sum(
                self._expanded_triangles(self._object(c.part, c.object_id, where), where, depth + 1)
                for c in obj.components)
        return self.triangle_counts[key]

    def _plate_object(self, item: _Item, names: "_SlicerNames") -> PlateObject:
        top = self._object(item.part, item.object_id, item.where)
        self.triangles += self._expanded_triangles(top, item.where)
        if self.triangles > MAX_PLATE_TRIANGLES:
            raise TooLarge(f"{item.where}: the plate expands to over {MAX_PLATE_TRIANGLES:,} triangles")
        leaves = self._leaves(top, item.matrix, item.where)
        name = top.name or names.object_name(top.id) or f"object {top.id}"
        parts = []
        for index, (leaf, matrix) in enumerate(leaves, 1):
            part_name = leaf.name if len(leaves) > 1 else name
            part_name = names.part_name(top.id, leaf.id) or part_name or f"part {index}"
            for piece_name, mesh, not_checked in names.volumes(top.id, leaf.id, self._mesh(leaf, matrix), part_name):
                parts.append(PlatePart(piece_name, mesh, not_checked or _not_checked(leaf)))
        return PlateObject(name, parts)

    def _mesh(self, obj: _Object, matrix: np.ndarray) -> ColouredMesh:
        part = self._model_part(obj.part)
        mesh = ColouredMesh(obj.mesh.vertices, obj.mesh.faces, None, _face_colours(part, obj),
                            {"object_id": obj.id, "part": obj.part})
        return mesh.transformed(matrix)

    def _settings(self) -> dict:
        """Slicer settings parts (Metadata/*, not thumbnails), as bytes."""
        settings = {}
        for name in self.package.names():
            lower = name.lower()
            if lower.startswith("metadata/") and not lower.endswith(IMAGE_EXTENSIONS + (".rels", ".gcode")):
                if self.package.parts[_part_key(name)].file_size <= MAX_SETTINGS_BYTES:
                    settings[name] = self.package.read(name)
        return settings


def _not_checked(obj: _Object) -> Optional[str]:
    if obj.mesh.beam_lattice:
        return "beam lattice objects are not checked"
    if obj.sliced:
        return "slice stack objects are not checked"
    if obj.type in ("support", "surface"):
        return f"{obj.type} objects are not solids and are not checked"
    return None


def _unique_names(objects: list) -> list:
    """Two objects of the same name get their build item number, so every report line is unambiguous."""
    counts = {}
    for obj in objects:
        counts[obj.name] = counts.get(obj.name, 0) + 1
    for number, obj in enumerate(objects, 1):
        if counts[obj.name] > 1:
            obj.name = f"{obj.name} (item {number})"
    return objects


# --- colours ----------------------------------------------------------------------------------
def _face_colours(part: _ModelPart, obj: _Object) -> Optional[np.ndarray]:
    """Each triangle's colour: its own property, else its object's (3MF core 4.1.4.1), from p1 only
    (a consumer that does not blend applies p1 to the whole triangle)."""
    mesh = obj.mesh
    pid, index = mesh.pid.copy(), mesh.p1.copy()
    own = (pid >= 0) & (index >= 0)
    default = obj.pid is not None
    pid[~own] = obj.pid if default else -1
    index[~own] = obj.pindex if default else -1
    if not (pid >= 0).any():
        return None
    colours = np.tile(np.array(UNCOLOURED, np.uint8), (len(pid), 1))
    for group_id in np.unique(pid[pid >= 0]).tolist():
        table = _colour_table(part, group_id)
        if table is None:
            continue
        rows = pid == group_id
        inside = rows & (index < len(table))
        colours[inside] = table[index[inside]]
    return colours


def _colour_table(part: _ModelPart, group_id: int) -> Optional[np.ndarray]:
    """The colour of every entry of a property group (None when it cannot be read)."""
    group = part.groups[group_id]
    if not group.readable:
        return None
    if group.colours is None and group.kind == "texture2dgroup":
        group.colours = _sample_texture(part, group)
    elif group.colours is None and group.kind == "multiproperties":
        # The colour a printer of colour needs is the colour layer's (the material is the
        # layer beneath it); with none, the material's display colour.
        tables = [_colour_table(part, layer) if layer in part.groups else None for layer in group.layers]
        kinds = [part.groups[layer].kind if layer in part.groups else None for layer in group.layers]
        order = [i for i, kind in enumerate(kinds) if kind in ("colorgroup", "texture2dgroup")] + \
                [i for i, kind in enumerate(kinds) if kind not in ("colorgroup", "texture2dgroup")]
        layer = next((i for i in order if tables[i] is not None), None)
        if layer is None:
            return None
        entries = group.entries[:, layer]
        table = tables[layer]
        group.colours = np.where((entries < len(table))[:, None], table[np.minimum(entries, len(table) - 1)],
                                 np.array(UNCOLOURED, np.uint8)).astype(np.uint8)
    return group.colours


def _sample_texture(part: _ModelPart, group: _Group) -> np.ndarray:
    """The texture's colour at each texture coordinate (nearest pixel; (0, 0) is the lower left)."""
    from PIL import Image

    path, tile_u, tile_v = part.textures[group.texture]
    where = f"{part.package.label}: {path}"
    try:
        image = Image.open(io.BytesIO(part.package.read(path)))
        if image.width * image.height > MAX_TEXTURE_PIXELS:
            raise TooLarge(f"{where}: the texture has {image.width} x {image.height} pixels; at most "
                           f"{MAX_TEXTURE_PIXELS:,} are read")
        pixels = np.asarray(image.convert("RGB"))
    except TooLarge:
        raise
    except Exception as exc:
        raise ConformanceError(where, f"the texture image cannot be decoded ({exc})", R_TEXTURE) from None
    height, width = pixels.shape[:2]
    u = _tile(group.coordinates[:, 0], tile_u)
    v = _tile(group.coordinates[:, 1], tile_v)
    x = np.clip((u * width).astype(np.int64), 0, width - 1)
    y = np.clip(((1.0 - v) * height).astype(np.int64), 0, height - 1)
    return pixels[y, x].astype(np.uint8).reshape(-1, 3)


def _tile(values: np.ndarray, style: str) -> np.ndarray:
    """Texture coordinates folded into [0, 1] by the tile style (materials 6: wrap is the default)."""
    if style == "mirror":
        folded = np.mod(values, 2.0)
        return np.where(folded > 1.0, 2.0 - folded, folded)
    if style in ("clamp", "none"):
        return np.clip(values, 0.0, 1.0)
    return np.mod(values, 1.0)


# --- slicer projects ----------------------------------------------------------------------------
#: PrusaSlicer volume types and Bambu Studio / OrcaSlicer part subtypes that are printed.
PRINTED_VOLUMES = ("ModelPart", "normal_part")


class _SlicerNames:
    """Object and part names, and volumes, from PrusaSlicer's and Bambu Studio's model settings.

    PrusaSlicer keeps one mesh per object and lists its volumes as triangle ranges
    (Metadata/Slic3r_PE_model.config: object id, volume firstid/lastid, metadata
    name/volume_type); Bambu Studio and OrcaSlicer name each object and each part by the
    component's object id (Metadata/model_settings.config: object id, part id/subtype,
    metadata key="name").
    """

    PRUSA, BAMBU = "Metadata/Slic3r_PE_model.config", "Metadata/model_settings.config"

    def __init__(self, package: _Package, notes: _Notes):
        self.objects, self.parts, self.prusa_volumes, self.parsed = {}, {}, {}, []
        for name, reader in ((self.PRUSA, self._read_prusa), (self.BAMBU, self._read_bambu)):
            if package.has(name):
                reader(_parse_xml(package.read(name), f"{package.label}: {name}", notes))
                self.parsed.append(name)

    @staticmethod
    def _value(element, key: str) -> Optional[str]:
        for metadata in element.iterchildren("metadata"):
            if metadata.get("key") == key:
                return metadata.get("value")
        return None

    def _read_prusa(self, config) -> None:
        for obj in config.iterchildren("object"):
            number = obj.get("id")
            self.objects[number] = self._value(obj, "name")
            volumes = []
            for volume in obj.iterchildren("volume"):
                try:
                    first, last = int(volume.get("firstid")), int(volume.get("lastid"))
                except (TypeError, ValueError):
                    continue
                volumes.append((first, last, self._value(volume, "name"), self._value(volume, "volume_type")))
            self.prusa_volumes[number] = volumes

    def _read_bambu(self, config) -> None:
        for obj in config.iterchildren("object"):
            number = obj.get("id")
            self.objects.setdefault(number, self._value(obj, "name"))
            for part in obj.iterchildren("part"):
                self.parts[(number, part.get("id"))] = (self._value(part, "name"), part.get("subtype"))

    def object_name(self, number: int) -> Optional[str]:
        return self.objects.get(str(number))

    def part_name(self, object_id: int, leaf_id: int) -> Optional[str]:
        return self.parts.get((str(object_id), str(leaf_id)), (None, None))[0]

    def volumes(self, object_id: int, leaf_id: int, mesh: ColouredMesh, name: str) -> list:
        """(name, mesh, not_checked) of each volume of a mesh (one, unless a slicer split it)."""
        subtype = self.parts.get((str(object_id), str(leaf_id)), (None, None))[1]
        if subtype and subtype not in PRINTED_VOLUMES:
            return [(name, mesh, f"a {subtype.replace('_', ' ')} is not printed and is not checked")]
        volumes = self.prusa_volumes.get(str(object_id), [])
        if len(volumes) <= 1 or volumes[-1][1] >= len(mesh.faces):
            return [(name, mesh, None)]
        pieces = []
        for index, (first, last, volume_name, kind) in enumerate(volumes, 1):
            piece = mesh.with_faces(mesh.faces[first:last + 1],
                                    None if mesh.face_colours is None else mesh.face_colours[first:last + 1])
            printed = kind in (None, *PRINTED_VOLUMES)
            reason = None if printed else f"a PrusaSlicer {kind} is not printed and is not checked"
            pieces.append((volume_name or f"{name} volume {index}", piece, reason))
        return pieces
