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

#: Layer heights of the named presets for a 0.4 mm nozzle; other nozzles scale them.
PRESETS = {
    "draft": dict(layer_height=0.28, wall_loops=2, infill_density=10.0),
    "standard": dict(layer_height=0.20, wall_loops=2, infill_density=15.0),
    "fine": dict(layer_height=0.12, wall_loops=3, infill_density=20.0),
}


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
        if value > 0.8 * nozzle + 1e-9:
            raise InputError(f"{label} {value:g} mm is above 80 % of the {nozzle:g} mm nozzle "
                             f"({0.8 * nozzle:.2f} mm) on the {printer.name}")
        if value < 0.04:
            raise InputError(f"{label} {value:g} mm is below the 0.04 mm a printer can position")
    if not 1 <= settings.wall_loops <= 20:
        raise InputError(f"walls must be between 1 and 20, got {settings.wall_loops}")
    if not (0 <= settings.top_layers <= 100 and 0 <= settings.bottom_layers <= 100):
        raise InputError("top and bottom layers must be between 0 and 100")
    if not 0 <= settings.infill_density <= 100:
        raise InputError(f"infill density must be between 0 and 100 %, got {settings.infill_density:g}")
    if settings.infill_pattern not in INFILL_PATTERNS:
        raise InputError(f"unknown infill pattern {settings.infill_pattern!r}; choose one of {', '.join(INFILL_PATTERNS)}")
    if settings.supports not in SUPPORT_MODES:
        raise InputError(f"unknown support mode {settings.supports!r}; choose one of {', '.join(SUPPORT_MODES)}")
    if not 0 < settings.support_threshold_deg < 90:
        raise InputError(f"support threshold must be between 0 and 90 degrees, got {settings.support_threshold_deg:g}")
    if not 0 <= settings.brim_width_mm <= 50:
        raise InputError(f"brim width must be between 0 and 50 mm, got {settings.brim_width_mm:g}")
    if not settings.filaments:
        raise InputError("at least one filament is needed")
    if len(settings.filaments) > printer.filament_slots:
        raise InputError(f"{len(settings.filaments)} colours need {len(settings.filaments)} filaments, but the "
                         f"{printer.name} loads at most {printer.filament_slots} ({printer.multi_material})")
    for filament in settings.filaments:
        if filament.material not in MATERIALS:
            raise InputError(f"unknown material {filament.material!r}; choose one of {', '.join(MATERIALS)}")
