"""Slicing and support settings: defaults from the printer and a preset, overrides from the user."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Optional

from fabricate.errors import InputError
from fabricate.printing.profiles import PrinterProfile

SUPPORT_MODES = ("off", "normal", "tree")
INFILL_PATTERNS = ("gyroid", "grid", "cubic", "honeycomb", "rectilinear", "triangles", "lightning", "adaptivecubic")
MATERIALS = ("PLA", "PETG", "ABS", "ASA", "TPU", "PLA-CF", "PETG-CF")

#: Inclusive ranges of the settings a maker can override (the options schema reads them too).
WALL_LOOPS_RANGE = (1, 20)
SHELL_LAYERS_RANGE = (0, 100)
INFILL_RANGE = (0.0, 100.0)
BRIM_RANGE_MM = (0.0, 50.0)
#: Support is for overhangs flatter than this angle above the horizontal: strictly inside (0, 90).
SUPPORT_ANGLE_RANGE = (0.0, 90.0)
#: The finest layer a printer can position; the coarsest is 80 % of the nozzle.
MIN_LAYER_MM = 0.04
MAX_LAYER_SHARE_OF_NOZZLE = 0.8

#: Layer heights of the named presets for a 0.4 mm nozzle; other nozzles scale them.
PRESETS = {
    "draft": dict(layer_height=0.28, wall_loops=2, infill_density=10.0),
    "standard": dict(layer_height=0.20, wall_loops=2, infill_density=15.0),
    "fine": dict(layer_height=0.12, wall_loops=3, infill_density=20.0),
}


@dataclass(frozen=True)
class MaterialFigures:
    """Typical figures of one filament material, as spools print them, in the slicers' units."""

    nozzle_c: int
    nozzle_first_layer_c: int
    bed_c: int
    bed_first_layer_c: int
    density_g_cm3: float


#: Nozzle and bed temperatures (first layer a little hotter where it helps adhesion) and density
#: (so slicers can report grams) of each material: the one table every slicer's settings use.
MATERIAL_FIGURES = {
    "PLA": MaterialFigures(215, 220, 60, 65, 1.24),
    "PETG": MaterialFigures(240, 245, 80, 80, 1.27),
    "ABS": MaterialFigures(255, 260, 100, 100, 1.04),
    "ASA": MaterialFigures(260, 265, 100, 100, 1.07),
    "TPU": MaterialFigures(225, 225, 50, 50, 1.21),
    "PLA-CF": MaterialFigures(220, 225, 60, 65, 1.29),
    "PETG-CF": MaterialFigures(245, 250, 80, 80, 1.30),
}
FILAMENT_DIAMETER_MM = 1.75


@dataclass
class Filament:
    """One spool: its colour (#RRGGBB) and material."""

    colour: str
    material: str = "PLA"


@dataclass
class PrintSettings:
    """What the slicer should do, in the slicers' own units.

    ``support_threshold_deg`` follows PrusaSlicer and Bambu/Orca: a downward-facing
    surface whose slope above the horizontal is below this angle gets support.
    """

    preset: str = "standard"
    layer_height: float = 0.20
    first_layer_height: float = 0.20
    wall_loops: int = 2
    top_layers: int = 5
    bottom_layers: int = 4
    infill_density: float = 15.0
    infill_pattern: str = "gyroid"
    supports: str = "off"
    support_threshold_deg: float = 45.0
    support_buildplate_only: bool = False
    brim_width_mm: float = 0.0
    filaments: list = field(default_factory=lambda: [Filament("#FFFFFF")])

    def to_dict(self) -> dict:
        return asdict(self)


def preset_settings(printer: PrinterProfile, preset: str = "standard") -> PrintSettings:
    """The named preset for this printer's nozzle."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    values = dict(PRESETS[preset])
    scale = printer.nozzle_diameter_mm / 0.4
    layer = round(values.pop("layer_height") * scale, 2)
    # Shells about 1 mm thick on top and 0.8 mm at the bottom, whatever the layer height.
    return PrintSettings(preset=preset, layer_height=layer, first_layer_height=round(min(max(layer, 0.2 * scale), 0.8 * printer.nozzle_diameter_mm), 2),
                         top_layers=max(3, math.ceil(1.0 / layer)), bottom_layers=max(3, math.ceil(0.8 / layer)),
                         **values)


def build_settings(printer: PrinterProfile, preset: str = "standard", filaments: Optional[list] = None,
                   **overrides) -> PrintSettings:
    """Preset defaults, then every override that is not ``None``, then validation."""
    settings = preset_settings(printer, preset)
    changes = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(changes) - set(PrintSettings.__dataclass_fields__)
    if unknown:
        raise InputError(f"unknown print settings: {', '.join(sorted(unknown))}")
    if "layer_height" in changes and "first_layer_height" not in changes:
        changes["first_layer_height"] = changes["layer_height"]
    settings = replace(settings, **changes)
    if filaments is not None:
        settings = replace(settings, filaments=list(filaments))
    validate_settings(settings, printer)
    return settings


def validate_settings(settings: PrintSettings, printer: PrinterProfile) -> None:
    """Refuse combinations a slicer would reject or that cannot print, naming the problem."""
    nozzle = printer.nozzle_diameter_mm
    for name in ("layer_height", "first_layer_height"):
        value = getattr(settings, name)
        label = name.replace("_", " ")
        if value > MAX_LAYER_SHARE_OF_NOZZLE * nozzle + 1e-9:
            raise InputError(f"{label} {value:g} mm is above {100 * MAX_LAYER_SHARE_OF_NOZZLE:.0f} % of the {nozzle:g} mm "
                             f"nozzle ({MAX_LAYER_SHARE_OF_NOZZLE * nozzle:.2f} mm) on the {printer.name}")
        if value < MIN_LAYER_MM:
            raise InputError(f"{label} {value:g} mm is below the {MIN_LAYER_MM:g} mm a printer can position")
    low, high = WALL_LOOPS_RANGE
    if not low <= settings.wall_loops <= high:
        raise InputError(f"walls must be between {low} and {high}, got {settings.wall_loops}")
    low, high = SHELL_LAYERS_RANGE
    if not (low <= settings.top_layers <= high and low <= settings.bottom_layers <= high):
        raise InputError(f"top and bottom layers must be between {low} and {high}")
    low, high = INFILL_RANGE
    if not low <= settings.infill_density <= high:
        raise InputError(f"infill density must be between {low:g} and {high:g} %, got {settings.infill_density:g}")
    if settings.infill_pattern not in INFILL_PATTERNS:
        raise InputError(f"unknown infill pattern {settings.infill_pattern!r}; choose one of {', '.join(INFILL_PATTERNS)}")
    if settings.supports not in SUPPORT_MODES:
        raise InputError(f"unknown support mode {settings.supports!r}; choose one of {', '.join(SUPPORT_MODES)}")
    low, high = SUPPORT_ANGLE_RANGE
    if not low < settings.support_threshold_deg < high:
        raise InputError(f"support threshold must be between {low:g} and {high:g} degrees, "
                         f"got {settings.support_threshold_deg:g}")
    low, high = BRIM_RANGE_MM
    if not low <= settings.brim_width_mm <= high:
        raise InputError(f"brim width must be between {low:g} and {high:g} mm, got {settings.brim_width_mm:g}")
    if not settings.filaments:
        raise InputError("at least one filament is needed")
    if len(settings.filaments) > printer.filament_slots:
        raise InputError(f"{len(settings.filaments)} colours need {len(settings.filaments)} filaments, but the "
                         f"{printer.name} loads at most {printer.filament_slots} ({printer.multi_material})")
    for filament in settings.filaments:
        if filament.material not in MATERIALS:
            raise InputError(f"unknown material {filament.material!r}; choose one of {', '.join(MATERIALS)}")
