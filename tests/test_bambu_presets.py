"""Bambu Studio / OrcaSlicer open our 3MF on their own system presets, plate and painting.

The preset names come from tests/data/bambu/bbl_system_presets.json: facts read from
bambulab/BambuStudio resources/profiles/BBL at the commit it names (AGPL-3.0; names only).
Reader citations (BS = bambulab/BambuStudio @3822a79f, ORCA = SoftFever/OrcaSlicer @56d8bd8f)
are in fabricate/export/SLICER_READERS.md.
"""
import json
import re
import shutil
import zipfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import trimesh

from fabricate.export import write_3mf
from fabricate.export.slicer_parts import SlicerParts
from fabricate.mesh import ColouredMesh
from fabricate.printing import get_printer, list_printers
from fabricate.printing.settings import MATERIALS, PRESETS, Filament, build_settings

SYSTEM_PRESETS = json.loads((Path(__file__).parent / "data" / "bambu" / "bbl_system_presets.json").read_text())
BAMBU_PRINTERS = [p.id for p in list_printers() if p.vendor == "Bambu Lab"]
CORE = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
MATERIAL = "{http://schemas.microsoft.com/3dmanufacturing/material/2015/02}"
#: Keys that name presets rather than set them (PresetBundle.cpp ignore_settings_list, the JSON's
#: reserved keys in Config.cpp load_from_json) and the project options that no preset holds
#: (PresetBundle.cpp s_project_options): none of them belongs in different_settings_to_system.
NOT_PRESET_SETTINGS = {"name", "from", "version", "print_settings_id", "filament_settings_id", "printer_settings_id",
                       "printer_model", "inherits_group", "different_settings_to_system"}
PROJECT_OPTIONS = {"filament_colour", "curr_bed_type"}
#: BedType names the readers accept for curr_bed_type (PrintConfig.cpp s_keys_map_BedType, BS 427-434).
BED_TYPES = {"Cool Plate", "Engineering Plate", "High Temp Plate", "Textured PEI Plate", "Supertack Plate"}


def small_ball(face_filament_count: int):
    sphere = trimesh.creation.icosphere(2)
    sphere.apply_scale(20)
    sphere.apply_translation([120, 120, 20])
    face_filament = np.arange(len(sphere.faces)) % face_filament_count
    return sphere, face_filament


def write_package(path, printer_id, preset, materials, slicers=("prusa", "bambu", "orca")):
    printer = get_printer(printer_id)
    sphere, face_filament = small_ball(len(materials))
    colours = ["#E61E1E", "#1EC81E", "#1E1EDC", "#F0F0F0"]
    filaments = [Filament(colours[i % 4], m) for i, m in enumerate(materials)]
    settings = build_settings(printer, preset, filaments=filaments)
    palette = np.array([[int(c[1 + 2 * k:3 + 2 * k], 16) for k in range(3)] for c in colours[:len(materials)]],
                       np.uint8)
    mesh = ColouredMesh(sphere.vertices, sphere.faces, face_colours=palette[face_filament])
    write_3mf(path, mesh, title="Ball", slicer_parts=SlicerParts(face_filament, settings, printer, slicers))
    return face_filament, settings


def project_of(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("Metadata/project_settings.config"))


def split_keys(entry: str) -> set:
    """One different_settings_to_system entry as the readers split it (Config.cpp unescape_strings_cstyle:
    ';'-separated, quoted only when a key holds a space or quote, which none does)."""
    assert '"' not in entry and " " not in entry
    return set(entry.split(";")) if entry else set()


def materials_for(printer_id: str) -> list:
    """Four materials this printer has system filament presets for (the A1 mini has no ABS/ASA)."""
    known = [m for m in MATERIALS if m in get_printer(printer_id).slicer_presets.filament_by_material]
    return known[:4]


def test_every_bambu_printer_names_its_system_presets_from_the_pinned_bundle():
    assert len(BAMBU_PRINTERS) == 6
    for printer_id in BAMBU_PRINTERS:
        presets = get_printer(printer_id).slicer_presets
        assert presets is not None, printer_id
        assert f"{SYSTEM_PRESETS['repository']}@{SYSTEM_PRESETS['commit']}" in presets.source


@pytest.mark.parametrize("printer_id", BAMBU_PRINTERS)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_written_presets_exist_by_name_and_fit_the_printer(tmp_path, printer_id, preset):
    materials = materials_for(printer_id)
    _, settings = write_package(tmp_path / "p.3mf", printer_id, preset, materials)
    project = project_of(tmp_path / "p.3mf")
    machine = project["printer_settings_id"]
    assert machine in SYSTEM_PRESETS["machine"] and SYSTEM_PRESETS["machine"][machine]["instantiation"] == "true"
    assert project["printer_model"] == SYSTEM_PRESETS["machine"][machine]["printer_model"]
    process = SYSTEM_PRESETS["process"][project["print_settings_id"]]
    assert machine in process["compatible_printers"]
    # The nearest system layer height; ours is kept because layer_height is listed as changed.
    heights = {name: float(p["layer_height"]) for name, p in SYSTEM_PRESETS["process"].items()
               if machine in p["compatible_printers"]}
    assert abs(float(process["layer_height"]) - settings.layer_height) == \
        min(abs(h - settings.layer_height) for h in heights.values())
    for name, material in zip(project["filament_settings_id"], materials):
        filament = SYSTEM_PRESETS["filament"][name]
        assert machine in filament["compatible_printers"] and filament["filament_type"] == material
    n = len(materials)
    assert project["inherits_group"] == [project["print_settings_id"], *project["filament_settings_id"], machine]
    assert len(project["different_settings_to_system"]) == n + 2  # print, each filament, printer


def test_a_material_without_a_system_preset_inherits_nothing(tmp_path):
    write_package(tmp_path / "p.3mf", "bambu-a1-mini", "standard", ["PLA", "ABS"])
    project = project_of(tmp_path / "p.3mf")
    assert project["filament_settings_id"][0] in SYSTEM_PRESETS["filament"]
    assert project["inherits_group"][2] == "" and project["filament_settings_id"][1] == "fabricate ABS"


@pytest.mark.parametrize("printer_id", BAMBU_PRINTERS)
def test_different_settings_to_system_lists_exactly_what_we_set(tmp_path, printer_id):
    materials = materials_for(printer_id)
    write_package(tmp_path / "p.3mf", printer_id, "fine", materials)
    project = project_of(tmp_path / "p.3mf")
    n = len(materials)
    sections = [split_keys(entry) for entry in project["different_settings_to_system"]]
    print_section, filament_sections, printer_section = sections[0], sections[1:-1], sections[-1]
    settings_written = set(project) - NOT_PRESET_SETTINGS - PROJECT_OPTIONS
    per_filament = {k for k in settings_written if isinstance(project[k], list) and len(project[k]) == n}
    assert all(section == per_filament for section in filament_sections)
    assert print_section == settings_written - per_filament
    assert printer_section == set()  # the system printer preset is the printer: we change nothing in it
    assert not print_section & per_filament


def test_plate_and_its_temperatures(tmp_path):
    write_package(tmp_path / "p.3mf", "bambu-x1c", "standard", ["PLA", "PETG"])
    project = project_of(tmp_path / "p.3mf")
    assert project["curr_bed_type"] in BED_TYPES and project["curr_bed_type"] == "Textured PEI Plate"
    assert project["textured_plate_temp"] == ["60", "80"] and project["textured_plate_temp_initial_layer"] == ["65", "80"]
    assert project["nozzle_temperature_initial_layer"] == ["220", "245"]


def bambu_semver(text: str) -> tuple:
    """Bambu's semver_parse_version (src/semver/semver.c BS 175-214): a 4th part folds into the patch."""
    parts = [int(p) for p in text.split(".")]
    major, minor, patch = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if len(parts) == 4:
        patch = patch * 100 + parts[3]
    return major, minor, patch


@pytest.mark.parametrize("slicers", [("prusa", "bambu", "orca"), ("bambu",), ("orca",)])
def test_application_opens_the_settings_without_version_dialogs(tmp_path, slicers):
    write_package(tmp_path / "p.3mf", "bambu-x1c", "standard", ["PLA"], slicers)
    with zipfile.ZipFile(tmp_path / "p.3mf") as z:
        model = z.read("3D/3dmodel.model").decode()
    application = re.search(r'<metadata name="Application"[^>]*>([^<]+)<', model).group(1)
    assert application.startswith("BambuStudio-") and "PrusaSlicer" not in application
    version = bambu_semver(application[len("BambuStudio-"):])
    assert version >= (2, 0, 0)                   # Plater.cpp: below 2.0.0 the prime tower is converted (BS 8281)
    assert version <= bambu_semver("02.00.00.50")  # no newer-version dialog in any Bambu Studio 2.x (BS 8090)
    assert version <= (2, 3, 0)                   # nor in OrcaSlicer 2.3 (ORCA Plater.cpp 5541)
    assert project_of(tmp_path / "p.3mf")["version"] == application[len("BambuStudio-"):]


def decode_paint(code: str) -> int:
    """The state of an unsplit triangle from its paint string, as the readers decode it.

    FacetsAnnotation::set_triangle_from_string (Model.cpp BS 4390-4410) reads the hex digits from
    the last to the first, each one LSB first; TriangleSelector::deserialize (BS 1801ff) reads a
    nibble: its low 2 bits are the split sides (0 = leaf); a leaf's high 2 bits are the state,
    unless both are set: then nibbles of 15 each add 15 until the next, which adds to 3.
    """
    bits = [(int(ch, 16) >> i) & 1 for ch in reversed(code) for i in range(4)]
    position = 0

    def nibble():
        nonlocal position
        value = sum(bits[position + i] << i for i in range(4))
        position += 4
        return value

    first = nibble()
    assert first & 0b11 == 0, "fabricate paints whole triangles: no split"
    if first & 0b1100 != 0b1100:
        state = first >> 2
    else:
        extra, fifteens = nibble(), 0
        while extra == 0b1111:
            fifteens, extra = fifteens + 1, nibble()
        state = extra + 15 * fifteens + 3
    assert position == len(bits), "nothing after the one leaf"
    return state


def test_every_paint_color_of_a_four_colour_file_decodes_to_its_filament(tmp_path):
    face_filament, settings = write_package(tmp_path / "p.3mf", "bambu-x1c", "standard", ["PLA"] * 4)
    with zipfile.ZipFile(tmp_path / "p.3mf") as z:
        model = ET.fromstring(z.read("3D/3dmodel.model"))
        project = json.loads(z.read("Metadata/project_settings.config"))
    colours = [c.get("color")[:7] for c in model.iter(MATERIAL + "color")]
    mesh_object = next(o for o in model.iter(CORE + "object") if o.find(CORE + "mesh") is not None)
    triangles = mesh_object.find(CORE + "mesh").find(CORE + "triangles").findall(CORE + "triangle")
    assert len(triangles) == len(face_filament)
    for triangle, filament in zip(triangles, face_filament):
        state = decode_paint(triangle.get("paint_color"))  # 1-based filament (Model.hpp EnforcerBlockerType)
        assert state == filament + 1
        assert triangle.get("{http://schemas.slic3r.org/3mf/2017/06}mmu_segmentation") == triangle.get("paint_color")
        # The standard colour group agrees: the triangle's own colour, or the object's.
        index = int(triangle.get("p1", mesh_object.get("pindex")))
        assert colours[index] == project["filament_colour"][state - 1]
    assert {decode_paint(t.get("paint_color")) for t in triangles} == {1, 2, 3, 4}


def test_large_states_decode():
    from fabricate.export.painting import MAX_STATE, paint_code

    assert [decode_paint(paint_code(s)) for s in range(1, MAX_STATE + 1)] == list(range(1, MAX_STATE + 1))


def test_model_settings_part_is_the_mesh_object(tmp_path):
    write_package(tmp_path / "p.3mf", "bambu-x1c", "standard", ["PLA"])
    with zipfile.ZipFile(tmp_path / "p.3mf") as z:
        model = ET.fromstring(z.read("3D/3dmodel.model"))
        config = ET.fromstring(z.read("Metadata/model_settings.config"))
    mesh_ids = {o.get("id") for o in model.iter(CORE + "object") if o.find(CORE + "mesh") is not None}
    # bbs_3mf.cpp matches a part to the mesh object holding its triangles (BS 5043-5046).
    assert {p.get("id") for p in config.iter("part")} == mesh_ids


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("prusa-slicer"), reason="prusa-slicer is not installed")
@pytest.mark.parametrize("printer_id", ["bambu-x1c", "prusa-mk4s-mmu3"])
def test_prusaslicer_slices_the_default_file_with_our_tools_and_settings(tmp_path, printer_id):
    from fabricate.export.slice import config_block

    from fabricate.export.slice import slice_3mf

    write_package(tmp_path / "p.3mf", printer_id, "draft", ["PLA", "PETG", "PLA", "PETG"])
    slice_3mf(tmp_path / "p.3mf", tmp_path / "p.gcode", timeout=300)  # the product's own slicer run
    gcode = (tmp_path / "p.gcode").read_text()
    assert {int(t) for t in re.findall(r"^T(\d+)\s*$", gcode, re.M)} == {0, 1, 2, 3}
    config = config_block(gcode)
    assert config["layer_height"] == "0.28" and config["first_layer_temperature"] == "220,245,220,245"
    assert config["first_layer_bed_temperature"] == "65,80,65,80"
