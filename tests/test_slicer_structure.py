"""Structure of the Bambu Studio / OrcaSlicer and PrusaSlicer parts of our 3MF.

Every element, attribute and key our writer uses is checked against the names the
slicers' own readers look for. Citations: BS = bambulab/BambuStudio
src/libslic3r/Format/bbs_3mf.cpp @3822a79f, ORCA = SoftFever/OrcaSlicer same file
@56d8bd8f (line numbers in fabricate/export/SLICER_READERS.md); PS = prusa3d/PrusaSlicer
src/libslic3r/Format/3mf.cpp @69c8e56.
"""
import json
import re
import zipfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import trimesh

from fabricate.color.palette import assign_filaments
from fabricate.export import write_3mf
from fabricate.export.painting import paint_code
from fabricate.export.slicer_parts import SlicerParts
from fabricate.mesh import ColouredMesh
from fabricate.printing import get_printer
from fabricate.printing.settings import Filament, build_settings

from conftest import read_3mf_with_lib3mf

# --- names the Bambu/Orca reader looks for -------------------------------------------------
MODEL_FILE = "3D/3dmodel.model"                                    # BS 152, ORCA 149
BBS_PROJECT_CONFIG_FILE = "Metadata/project_settings.config"      # BS 170, ORCA 167
BBS_MODEL_CONFIG_FILE = "Metadata/model_settings.config"          # BS 171, ORCA 168
MMU_SEGMENTATION_ATTR = "paint_color"                             # BS 297, ORCA 281
BBL_APPLICATION_TAG = "Application"                               # BS 135, ORCA 136
CONFIG_TAG, OBJECT_TAG, PART_TAG = "config", "object", "part"     # BS 227/196/229, ORCA -/192/219
METADATA_TAG, KEY_ATTR, VALUE_ATTR = "metadata", "key", "value"   # BS 207/301/302, ORCA 203/285/286
ID_ATTR, SUBTYPE_ATTR = "id", "subtype"                           # BS 281/305, ORCA 265/289
MESH_STAT_TAG = "mesh_stat"                                       # BS 198, ORCA 194
PLATE_TAG, INSTANCE_TAG = "plate", "model_instance"               # BS 230/231, ORCA 220/221
PLATERID_ATTR, PLATER_NAME_ATTR, LOCK_ATTR = "plater_id", "plater_name", "locked"  # BS 327/328/306, ORCA 310/311/290
OBJECT_ID_ATTR, INSTANCEID_ATTR, IDENTIFYID_ATTR = "object_id", "instance_id", "identify_id"  # BS 324-326, ORCA 307-309
NAME_KEY, MATRIX_KEY = "name", "matrix"                           # BS 350/353, ORCA 330/333
# Object/part metadata other than name/module is applied as a config key: `extruder` (BS 2167-2173, ORCA 2005-2011).
OBJECT_CONFIG_KEYS = {"extruder"}
ASSEMBLE_TAG, ASSEMBLE_ITEM_TAG = "assemble", "assemble_item"     # written by both slicers themselves
MESH_STAT_ATTRS = {"face_count", "edges_fixed", "degenerate_facets", "facets_removed", "facets_reversed",
                   "backwards_edges"}                              # BS 4372-4392 (optional)
# project_settings.config keys: the print/filament/printer option names of their presets (PrintConfig.cpp).
PROJECT_KEYS = {"name", "from", "version", "layer_height", "initial_layer_print_height", "wall_loops",
                "top_shell_layers", "bottom_shell_layers", "sparse_infill_density", "sparse_infill_pattern",
                "enable_support", "support_type", "support_threshold_angle", "support_on_build_plate_only",
                "brim_type", "brim_width", "filament_colour", "filament_type", "filament_settings_id",
                "print_settings_id", "printer_settings_id", "nozzle_temperature", "hot_plate_temp",
                "filament_diameter", "filament_density", "nozzle_diameter", "printable_area", "printable_height",
                "printer_notes"}
PER_FILAMENT_KEYS = {"filament_colour", "filament_type", "filament_settings_id", "nozzle_temperature",
                     "hot_plate_temp", "filament_diameter", "filament_density"}
# The system presets they inherit and the keys we change from them (PresetBundle.cpp
# load_config_file_config), the plate and its temperatures (PrintConfig.cpp; see SLICER_READERS.md §5).
PROJECT_KEYS |= {"printer_model", "inherits_group", "different_settings_to_system", "curr_bed_type",
                 "nozzle_temperature_initial_layer", "hot_plate_temp_initial_layer", "textured_plate_temp",
                 "textured_plate_temp_initial_layer"}
PER_FILAMENT_KEYS |= {"nozzle_temperature_initial_layer", "textured_plate_temp", "textured_plate_temp_initial_layer"}
# PrusaSlicer
# (cited by constant name; the behaviour is also proved by slicing in test_prusaslicer.py)
SLIC3RPE_NAMESPACE = "http://schemas.slic3r.org/3mf/2017/06"       # PS constant SLIC3RPE_NAMESPACE
MMU_SEGMENTATION_ATTR_PS = "slic3rpe:mmu_segmentation"             # PS constant MMU_SEGMENTATION_ATTR
MM_PAINTING_VERSION = "slic3rpe:MmPaintingVersion"                 # PS constant SLIC3RPE_MM_PAINTING_VERSION, checked l.2257


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    sphere = trimesh.creation.icosphere(4)
    sphere.apply_scale(30)
    sphere.apply_translation([120, 120, 30])
    x, z = sphere.vertices[:, 0:1], sphere.vertices[:, 2:3]
    colours = np.select([x < 110, x < 125, z < 30], [np.array([[230, 30, 30]]), np.array([[30, 200, 30]]),
                                                     np.array([[30, 30, 220]])], np.array([[240, 240, 240]]))
    colours = colours.astype(np.uint8)
    mesh = ColouredMesh(sphere.vertices, sphere.faces, colours).with_face_colours_from_vertices()
    printer = get_printer("bambu-x1c")
    filaments = assign_filaments(mesh, 4)
    settings = build_settings(printer, "fine", filaments=[Filament("#E61E1E"), Filament("#1EC81E"),
                                                          Filament("#1E1EDC"), Filament("#F0F0F0", "PETG")],
                              supports="tree", brim_width_mm=5)
    mesh = mesh.copy(face_colours=filaments.palette[filaments.face_filament])
    path = tmp_path_factory.mktemp("pkg") / "ball.3mf"
    parts = SlicerParts(filaments.face_filament, settings, printer, ("bambu",))
    write_3mf(path, mesh, title="Ball & <friends>", slicer_parts=parts)
    return path, mesh, filaments, settings


def test_lib3mf_still_reads_the_painted_package(package):
    path, mesh, _, _ = package
    vertices, faces, colours, _ = read_3mf_with_lib3mf(path)
    assert len(faces) == len(mesh.faces) and len(colours) == 4


def test_paint_color_on_every_triangle(package):
    path, _, filaments, _ = package
    with zipfile.ZipFile(path) as z:
        model = z.read(MODEL_FILE).decode()
    codes = re.findall(r"<triangle [^>]*?\b" + MMU_SEGMENTATION_ATTR + r'="([0-9A-F]+)"', model)
    assert len(codes) == len(filaments.face_filament)
    assert codes == [paint_code(k + 1) for k in filaments.face_filament]
    assert "mmu_segmentation" not in model  # only Bambu extras were asked for
    application = re.search(r'<metadata name="' + BBL_APPLICATION_TAG + r'"[^>]*>([^<]+)<', model).group(1)
    assert application.startswith("BambuStudio-")  # BS 4075-4081: the gate for loading project settings


def test_model_settings_uses_only_reader_names(package):
    path, _, _, _ = package
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read(BBS_MODEL_CONFIG_FILE))
        model = ET.fromstring(z.read(MODEL_FILE))
    core = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
    object_ids = {o.get("id") for o in model.iter(core + "object")}
    build_ids = {i.get("objectid") for i in model.iter(core + "item")}
    assert root.tag == CONFIG_TAG
    allowed_tags = {CONFIG_TAG, OBJECT_TAG, PART_TAG, METADATA_TAG, MESH_STAT_TAG, PLATE_TAG, INSTANCE_TAG,
                    ASSEMBLE_TAG, ASSEMBLE_ITEM_TAG}
    assert {e.tag for e in root.iter()} <= allowed_tags
    for metadata in root.iter(METADATA_TAG):
        assert set(metadata.attrib) == {KEY_ATTR, VALUE_ATTR}
    objects = root.findall(OBJECT_TAG)
    assert len(objects) == 1 and objects[0].get(ID_ATTR) in object_ids & build_ids
    object_keys = {m.get(KEY_ATTR) for m in objects[0].findall(METADATA_TAG)}
    assert object_keys <= {NAME_KEY} | OBJECT_CONFIG_KEYS
    part = objects[0].find(PART_TAG)
    assert part.get(SUBTYPE_ATTR) == "normal_part"
    assert {m.get(KEY_ATTR) for m in part.findall(METADATA_TAG)} <= {NAME_KEY, MATRIX_KEY} | OBJECT_CONFIG_KEYS
    assert set(part.find(MESH_STAT_TAG).attrib) <= MESH_STAT_ATTRS
    extruder = {m.get(KEY_ATTR): m.get(VALUE_ATTR) for m in objects[0].findall(METADATA_TAG)}["extruder"]
    assert int(extruder) >= 1  # 1-based, 0 = default
    plates = root.findall(PLATE_TAG)
    plate_keys = {m.get(KEY_ATTR): m.get(VALUE_ATTR) for m in plates[0].findall(METADATA_TAG)}
    assert set(plate_keys) <= {PLATERID_ATTR, PLATER_NAME_ATTR, LOCK_ATTR}
    assert [p.find(f"{METADATA_TAG}[@{KEY_ATTR}='{PLATERID_ATTR}']").get(VALUE_ATTR) for p in plates] == \
        [str(i + 1) for i in range(len(plates))]  # plater_id runs 1..N
    instance = {m.get(KEY_ATTR): m.get(VALUE_ATTR) for m in plates[0].find(INSTANCE_TAG).findall(METADATA_TAG)}
    assert set(instance) == {OBJECT_ID_ATTR, INSTANCEID_ATTR, IDENTIFYID_ATTR}
    assert instance[OBJECT_ID_ATTR] == objects[0].get(ID_ATTR) and instance[INSTANCEID_ATTR] == "0"
    assert objects[0].find(f"{METADATA_TAG}[@{KEY_ATTR}='{NAME_KEY}']").get(VALUE_ATTR) == "Ball & <friends>"


def test_project_settings_json(package):
    path, _, filaments, settings = package
    with zipfile.ZipFile(path) as z:
        project = json.loads(z.read(BBS_PROJECT_CONFIG_FILE))
    assert set(project) <= PROJECT_KEYS
    # Values must be strings or arrays of strings: a number is skipped, a non-string in an array stops the load.
    for key, value in project.items():
        assert isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)), key
    for key in PER_FILAMENT_KEYS:
        assert len(project[key]) == len(settings.filaments), key
    assert project["filament_colour"] == [f.colour for f in settings.filaments]
    assert project["layer_height"] == "0.12" and project["enable_support"] == "1"
    assert project["support_type"] == "tree(auto)" and project["brim_width"] == "5"


def test_prusa_parts(tmp_path, package):
    _, mesh, filaments, settings = package
    path = tmp_path / "p.3mf"
    write_3mf(path, mesh, slicer_parts=SlicerParts(filaments.face_filament, settings, get_printer("prusa-mk4s-mmu3"),
                                                   ("prusa",)))
    with zipfile.ZipFile(path) as z:
        model = z.read(MODEL_FILE).decode()
        config = z.read("Metadata/Slic3r_PE.config").decode().splitlines()
        model_config = ET.fromstring(z.read("Metadata/Slic3r_PE_model.config"))
    assert f'xmlns:slic3rpe="{SLIC3RPE_NAMESPACE}"' in model
    assert f'<metadata name="{MM_PAINTING_VERSION}">1</metadata>' in model
    assert model.count(MMU_SEGMENTATION_ATTR_PS + '="') == len(mesh.faces)
    assert "paint_color" not in model
    assert config[0].startswith(";") and config[1] == ""  # the reader never parses the first line
    assert all(line.startswith("; ") and " = " in line for line in config[2:])
    volume = model_config.find("object/volume")
    assert volume.get("firstid") == "0" and volume.get("lastid") == str(len(mesh.faces) - 1)


def test_package_has_the_permissions_of_a_new_file(package):
    import os
    import stat

    path = package[0]
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def test_every_part_once_with_a_content_type(package):
    path = package[0]
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        types = ET.fromstring(z.read("[Content_Types].xml"))
        relationships = ET.fromstring(z.read("_rels/.rels"))
    assert len(names) == len(set(names))
    assert {MODEL_FILE, BBS_PROJECT_CONFIG_FILE, BBS_MODEL_CONFIG_FILE} <= set(names)
    declared = {d.get("Extension") for d in types}
    assert {n.rsplit(".", 1)[1] for n in names if not n.endswith("].xml")} <= declared
    assert [r.get("Target") for r in relationships] == ["/" + MODEL_FILE]  # BS 1774-1777: the start part
