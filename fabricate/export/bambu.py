"""Bambu Studio and OrcaSlicer parts of a 3MF: `Metadata/project_settings.config` (JSON) and
`Metadata/model_settings.config` (XML). Names as their shared reader `bbs_3mf.cpp` expects them;
sources and line numbers are collected in fabricate/export/SLICER_READERS.md.
"""
from __future__ import annotations

import json
from xml.sax.saxutils import quoteattr

from fabricate import __version__
from fabricate.export.prusaslicer import DENSITIES, TEMPERATURES
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.settings import PrintSettings

ORCA_INFILL = {"rectilinear": "zig-zag", "grid": "grid", "gyroid": "gyroid", "cubic": "cubic",
               "honeycomb": "honeycomb", "triangles": "triangles", "lightning": "lightning",
               "adaptivecubic": "adaptivecubic"}
SUPPORT_TYPE = {"off": "normal(auto)", "normal": "normal(auto)", "tree": "tree(auto)"}
IDENTITY_4X4 = "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"


def printable_area(printer: PrinterProfile) -> list:
    return [f"{x:g}x{y:g}" for x, y in printer.bed_outline_mm()]


def project_settings_dict(settings: PrintSettings, printer: PrinterProfile) -> dict:
    """The flattened preset: every value a string, per-filament values as arrays of strings."""
    filaments = settings.filaments
    each = lambda value: [str(value)] * len(filaments)
    return {
        "name": "project_settings",
        "from": "project",
        "version": "02.04.00.70",
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
        # Its length is the filament count (PresetBundle.cpp; an empty list fails the load).
        "filament_colour": [f.colour for f in filaments],
        # Always present when name is "project_settings": some legacy values make the reader use it.
        "filament_settings_id": [f"fabricate {f.material}" for f in filaments],
        "print_settings_id": f"fabricate {settings.preset}",
        "printer_settings_id": f"fabricate {printer.name}",
        "filament_type": [f.material for f in filaments],
        "nozzle_temperature": [str(TEMPERATURES[f.material][0]) for f in filaments],
        "hot_plate_temp": [str(TEMPERATURES[f.material][1]) for f in filaments],
        "filament_diameter": each(1.75),
        "filament_density": [str(DENSITIES[f.material]) for f in filaments],
        "nozzle_diameter": [f"{printer.nozzle_diameter_mm:g}"],
        "printable_area": printable_area(printer),
        "printable_height": f"{printer.build_volume_mm[2]:g}",
        "printer_notes": f"{printer.name}; made by fabricate {__version__}",
    }


def project_settings(settings: PrintSettings, printer: PrinterProfile) -> str:
    return json.dumps(project_settings_dict(settings, printer), indent=4) + "\n"


def model_settings(object_id: int, triangle_count: int, name: str, extruder: int = 1) -> str:
    """One object with one part, placed on plate 1."""
    quoted = quoteattr(name)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n'
        f'  <object id="{object_id}">\n'
        f'    <metadata key="name" value={quoted}/>\n'
        f'    <metadata key="extruder" value="{extruder}"/>\n'
        f'    <part id="1" subtype="normal_part">\n'
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
