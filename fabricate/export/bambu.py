"""Bambu Studio and OrcaSlicer parts of a 3MF: `Metadata/project_settings.config` (JSON) and
`Metadata/model_settings.config` (XML). Names as their shared reader `bbs_3mf.cpp` expects them;
sources and line numbers are collected in fabricate/export/SLICER_READERS.md.

The settings name the slicer's own system presets for the printer (its `[slicer_presets]` table
in printer_profiles/) and list, per preset, the keys fabricate sets: the readers keep those and
reset every other key to the system preset's value.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from fabricate import __version__
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.settings import FILAMENT_DIAMETER_MM, MATERIAL_FIGURES, PrintSettings

#: The generator version we claim, in Bambu's own AA.BB.CC.DD form (= 2.0.0 to their Semver parser).
#: Bambu Studio asks about a newer version above its own and converts files below 2.0.0; OrcaSlicer
#: compares it with its own 2.x version: 2.0.0 is neither newer nor old to Bambu Studio 2.0-2.3
#: and OrcaSlicer 2.0-2.3.
BAMBU_FILE_VERSION = "02.00.00.00"
#: Both slicers load a 3MF's settings only when its Application metadata starts with "BambuStudio-".
BAMBU_APPLICATION = f"BambuStudio-{BAMBU_FILE_VERSION}"

ORCA_INFILL = {"rectilinear": "zig-zag", "grid": "grid", "gyroid": "gyroid", "cubic": "cubic",
               "honeycomb": "honeycomb", "triangles": "triangles", "lightning": "lightning",
               "adaptivecubic": "adaptivecubic"}
SUPPORT_TYPE = {"off": "normal(auto)", "normal": "normal(auto)", "tree": "tree(auto)"}
#: The filament keys holding the bed temperature on each plate (`curr_bed_type` value -> key;
#: the first layer's key adds "_initial_layer").
PLATE_TEMPERATURE_KEY = {"Cool Plate": "cool_plate_temp", "Engineering Plate": "eng_plate_temp",
                         "High Temp Plate": "hot_plate_temp", "Textured PEI Plate": "textured_plate_temp",
                         "Supertack Plate": "supertack_plate_temp"}
#: Smooth PEI (Bambu's "High Temp Plate") takes the same temperatures as textured PEI; we write it
#: whatever the plate, so a maker who swaps to it keeps our temperatures.
SMOOTH_PEI_PLATE = "High Temp Plate"
IDENTITY_4X4 = "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"


def printable_area(printer: PrinterProfile) -> list:
    return [f"{x:g}x{y:g}" for x, y in printer.bed_outline_mm()]


def print_keys(settings: PrintSettings) -> dict:
    """The keys of the print (process) preset that fabricate sets."""
    return {
        "layer_height": f"{settings.layer_height:g}",
        "initial_layer_print_height": f"{settings.first_layer_height:g}",
        "wall_loops": str(settings.wall_loops),
        "top_shell_layers": str(settings.top_layers),
        "bottom_shell_layers": str(settings.bottom_layers),
        "sparse_infill_density": f"{settings.infill_density:g}%",
        "sparse_infill_pattern": ORCA_INFILL[settings.infill_pattern],
        "enable_support": "1" if settings.supports != "off" else "0",
        "support_type": SUPPORT_TYPE[settings.supports],
        "support_threshold_angle": str(round(settings.support_threshold_deg)),
        "support_on_build_plate_only": "1" if settings.support_buildplate_only else "0",
        "brim_type": "outer_only" if settings.brim_width_mm > 0 else "no_brim",
        "brim_width": f"{settings.brim_width_mm:g}",
    }


def filament_keys(settings: PrintSettings, printer: PrinterProfile) -> dict:
    """The keys of the filament presets that fabricate sets: one string per filament."""
    figures = [MATERIAL_FIGURES[f.material] for f in settings.filaments]
    each = lambda name: [str(getattr(m, name)) for m in figures]
    keys = {
        "filament_type": [f.material for f in settings.filaments],
        "filament_diameter": [f"{FILAMENT_DIAMETER_MM:g}"] * len(figures),
        "filament_density": each("density_g_cm3"),
        "nozzle_temperature": each("nozzle_c"),
        "nozzle_temperature_initial_layer": each("nozzle_first_layer_c"),
    }
    for plate in dict.fromkeys([printer.bed_type, SMOOTH_PEI_PLATE]):
        keys[PLATE_TEMPERATURE_KEY[plate]] = each("bed_c")
        keys[PLATE_TEMPERATURE_KEY[plate] + "_initial_layer"] = each("bed_first_layer_c")
    return keys


def printer_keys(printer: PrinterProfile) -> dict:
    """The keys of the printer preset that fabricate sets: none on a printer the slicer knows.

    Its system printer preset is the printer (start and filament-change G-code, excluded bed
    corners, extruders); elsewhere we describe the printable space ourselves.
    """
    if printer.slicer_presets is not None:
        return {}
    return {
        "nozzle_diameter": [f"{printer.nozzle_diameter_mm:g}"],
        "printable_area": printable_area(printer),
        "printable_height": f"{printer.build_volume_mm[2]:g}",
        "printer_notes": f"{printer.name}; made by fabricate {__version__}",
    }


@dataclass(frozen=True)
class PresetNames:
    """The presets a project names: `*_settings_id`, and the system preset each inherits ("" for none)."""

    print: str
    filaments: list
    printer: str
    print_inherits: str
    filament_inherits: list
    printer_inherits: str

    @property
    def inherits_group(self) -> list:
        """The readers' order: print, then each filament, then the printer (PresetBundle.cpp)."""
        return [self.print_inherits, *self.filament_inherits, self.printer_inherits]


def preset_names(settings: PrintSettings, printer: PrinterProfile) -> PresetNames:
    """The system presets of the printer's slicer profile; our own names where it has none."""
    presets = printer.slicer_presets
    materials = [f.material for f in settings.filaments]
    if presets is None:
        return PresetNames(f"fabricate {settings.preset}", [f"fabricate {m}" for m in materials],
                           f"fabricate {printer.name}", "", [""] * len(materials), "")
    system_filaments = [presets.filament_by_material.get(m, "") for m in materials]
    print_name = presets.print_preset(settings.layer_height)
    return PresetNames(print_name, [s or f"fabricate {m}" for s, m in zip(system_filaments, materials)],
                       presets.printer, print_name, system_filaments, presets.printer)


def different_settings_to_system(settings: PrintSettings, printer: PrinterProfile) -> list:
    """Per preset, in the `inherits_group` order, the keys we set, joined by ";" as the readers split them."""
    joined = lambda keys: ";".join(sorted(keys))
    return [joined(print_keys(settings)), *[joined(filament_keys(settings, printer))] * len(settings.filaments),
            joined(printer_keys(printer))]


def project_settings_dict(settings: PrintSettings, printer: PrinterProfile) -> dict:
    """The flattened preset: every value a string, per-filament values as arrays of strings."""
    names = preset_names(settings, printer)
    project = {
        "name": "project_settings",
        "from": "project",
        "version": BAMBU_FILE_VERSION,
        # Project options, never reset to a preset: the filament count is the colour list's length
        # (PresetBundle.cpp; an empty list fails the load).
        "filament_colour": [f.colour for f in settings.filaments],
        "curr_bed_type": printer.bed_type,
        "print_settings_id": names.print,
        # Always present when name is "project_settings": some legacy values make the reader use it.
        "filament_settings_id": names.filaments,
        "printer_settings_id": names.printer,
        "inherits_group": names.inherits_group,
        "different_settings_to_system": different_settings_to_system(settings, printer),
    }
    if printer.slicer_presets is not None:
        project["printer_model"] = printer.slicer_presets.printer_model
    return project | print_keys(settings) | filament_keys(settings, printer) | printer_keys(printer)


def project_settings(settings: PrintSettings, printer: PrinterProfile) -> str:
    return json.dumps(project_settings_dict(settings, printer), indent=4) + "\n"


def model_settings(object_id: int, triangle_count: int, name: str, extruder: int = 1) -> str:
    """One mesh object with its one part, placed on plate 1.

    The reader matches a `<part id>` to the mesh object holding the part's triangles, so for a
    plain mesh object the part's id is the object's own id (otherwise its name, matrix and
    extruder are silently dropped).
    """
    quoted = quoteattr(name)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n'
        f'  <object id="{object_id}">\n'
        f'    <metadata key="name" value={quoted}/>\n'
        f'    <metadata key="extruder" value="{extruder}"/>\n'
        f'    <part id="{object_id}" subtype="normal_part">\n'
        f'      <metadata key="name" value={quoted}/>\n'
        f'      <metadata key="matrix" value="{IDENTITY_4X4}"/>\n'
        f'      <metadata key="extruder" value="{extruder}"/>\n'
        f'      <mesh_stat face_count="{triangle_count}" edges_fixed="0" degenerate_facets="0" '
        'facets_removed="0" facets_reversed="0" backwards_edges="0"/>\n'
        '    </part>\n  </object>\n'
        '  <plate>\n'
        '    <metadata key="plater_id" value="1"/>\n'
        '    <metadata key="plater_name" value=""/>\n'
        '    <metadata key="locked" value="false"/>\n'
        '    <model_instance>\n'
        f'      <metadata key="object_id" value="{object_id}"/>\n'
        '      <metadata key="instance_id" value="0"/>\n'
        f'      <metadata key="identify_id" value="{100 + object_id}"/>\n'
        '    </model_instance>\n  </plate>\n'
        '  <assemble>\n'
        f'    <assemble_item object_id="{object_id}" instance_id="0" transform="1 0 0 0 1 0 0 0 1 0 0 0" offset="0 0 0"/>\n'
        '  </assemble>\n</config>\n')
