"""PrusaSlicer's parts of a 3MF: `Metadata/Slic3r_PE.config` and `Metadata/Slic3r_PE_model.config`.

Keys are PrusaSlicer's own (they appear verbatim in the `; key = value` block at the
end of its G-code). The reader (`ConfigBase::load_from_gcode_string_legacy`,
src/libslic3r/Config.cpp) walks the file from the end and never parses the first
line, so the file starts with a comment line and a blank line.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from fabricate import __version__
from fabricate.printing.profiles import PrinterProfile
from fabricate.printing.settings import PrintSettings

#: Nozzle / bed temperatures per material (typical values printed on spools).
TEMPERATURES = {"PLA": (215, 60), "PETG": (240, 80), "ABS": (255, 100), "ASA": (260, 100), "TPU": (225, 50),
                "PLA-CF": (220, 60), "PETG-CF": (245, 80)}
#: Density in g/cm³ (typical datasheet values), so slicers can report grams.
DENSITIES = {"PLA": 1.24, "PETG": 1.27, "ABS": 1.04, "ASA": 1.07, "TPU": 1.21, "PLA-CF": 1.29, "PETG-CF": 1.30}
PRUSA_INFILL = {"rectilinear": "rectilinear", "grid": "grid", "gyroid": "gyroid", "cubic": "cubic",
                "honeycomb": "honeycomb", "triangles": "triangles", "lightning": "lightning",
                "adaptivecubic": "adaptivecubic"}
# PrusaSlicer 2.6+ has organic (tree) supports; 2.5 reads "organic" as grid with a warning.
PRUSA_SUPPORT_STYLE = {"normal": "grid", "tree": "organic"}

GENERIC_START_GCODE = (
    "G90\\nM83\\nM140 S[first_layer_bed_temperature]\\nM104 S[first_layer_temperature]\\n"
    "G28\\nM190 S[first_layer_bed_temperature]\\nM109 S[first_layer_temperature]\\nG92 E0\\n")
GENERIC_END_GCODE = "M104 S0\\nM140 S0\\nG91\\nG1 Z10 F600\\nG90\\nM84\\n"


def bed_shape(printer: PrinterProfile) -> str:
    x0, y0 = printer.bed_origin_mm
    sx, sy, _ = printer.build_volume_mm
    corners = [(x0, y0), (x0 + sx, y0), (x0 + sx, y0 + sy), (x0, y0 + sy)]
    return ",".join(f"{x:g}x{y:g}" for x, y in corners)


def print_config(settings: PrintSettings, printer: PrinterProfile) -> dict:
    """PrusaSlicer print, filament and printer settings for this job."""
    count = len(settings.filaments)
    per_extruder = lambda value: ",".join([str(value)] * count)
    colours = ";".join(f'"{f.colour}"' for f in settings.filaments)
    temperature = [TEMPERATURES[f.material] for f in settings.filaments]
    supports = settings.supports != "off"
    wipe_x, wipe_y = printer.bed_origin_mm[0] + 10, printer.bed_origin_mm[1] + printer.build_volume_mm[1] - 60
    config = {
        # print
        "layer_height": settings.layer_height,
        "first_layer_height": settings.first_layer_height,
        "perimeters": settings.wall_loops,
        "top_solid_layers": settings.top_layers,
        "bottom_solid_layers": settings.bottom_layers,
        "fill_density": f"{settings.infill_density:g}%",
        "fill_pattern": PRUSA_INFILL[settings.infill_pattern],
        "support_material": int(supports),
        "support_material_auto": int(supports),
        "support_material_style": PRUSA_SUPPORT_STYLE.get(settings.supports, "grid"),
        "support_material_threshold": round(settings.support_threshold_deg),
        "support_material_buildplate_only": int(settings.support_buildplate_only),
        "support_material_extruder": 0,
        "support_material_interface_extruder": 0,
        "brim_width": settings.brim_width_mm,
        "brim_type": "outer_only" if settings.brim_width_mm > 0 else "no_brim",
        "wipe_tower": int(count > 1),
        "wipe_tower_x": wipe_x,
        "wipe_tower_y": wipe_y,
        "wipe_tower_width": 40,
        # filament
        "filament_colour": colours,
        "filament_type": ";".join(f.material for f in settings.filaments),
        "filament_diameter": per_extruder(1.75),
        "filament_density": ",".join(str(DENSITIES[f.material]) for f in settings.filaments),
        "temperature": ",".join(str(t[0]) for t in temperature),
        "first_layer_temperature": ",".join(str(t[0]) for t in temperature),
        "bed_temperature": ",".join(str(t[1]) for t in temperature),
        "first_layer_bed_temperature": ",".join(str(t[1]) for t in temperature),
        # printer
        "printer_notes": f"{printer.name}; made by fabricate {__version__}",
        "bed_shape": bed_shape(printer),
        "max_print_height": printer.build_volume_mm[2],
        "nozzle_diameter": per_extruder(printer.nozzle_diameter_mm),
        "extruder_colour": colours,
        "extruder_offset": ",".join(["0x0"] * count),
        "retract_length": per_extruder(0.8),
        "gcode_flavor": "marlin2",
        "use_relative_e_distances": 1,
        "layer_gcode": "G92 E0",
        "start_gcode": GENERIC_START_GCODE,
        "end_gcode": GENERIC_END_GCODE,
        "toolchange_gcode": "",
        "single_extruder_multi_material": 0,
    }
    return config


def slic3r_pe_config(settings: PrintSettings, printer: PrinterProfile) -> str:
    lines = [f"; generated by fabricate {__version__}", ""]
    lines += [f"; {key} = {value}" for key, value in sorted(print_config(settings, printer).items())]
    return "\n".join(lines) + "\n"


def slic3r_pe_model_config(object_id: int, triangle_count: int, name: str, extruder: int = 1) -> str:
    """Object and volume entries: one object with one volume covering every triangle."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n'
        f' <object id="{object_id}" instances_count="1">\n'
        f'  <metadata type="object" key="name" value={quoteattr(name)}/>\n'
        f'  <metadata type="object" key="extruder" value="{extruder}"/>\n'
        f'  <volume firstid="0" lastid="{triangle_count - 1}">\n'
        f'   <metadata type="volume" key="name" value={quoteattr(name)}/>\n'
        '   <metadata type="volume" key="volume_type" value="ModelPart"/>\n'
        '   <metadata type="volume" key="matrix" value="1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"/>\n'
        f'   <metadata type="volume" key="extruder" value="{extruder}"/>\n'
        '  </volume>\n </object>\n</config>\n')
