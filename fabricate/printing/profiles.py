"""Printer profiles: one TOML file per printer in printer_profiles/."""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from fabricate.errors import InputError

#: Where the bundled profiles live; FABRICATE_PRINTER_PROFILES points elsewhere.
PROFILE_DIR = Path(os.environ.get("FABRICATE_PRINTER_PROFILES", Path(__file__).resolve().parents[2] / "printer_profiles"))


#: The build plate the slicers' settings assume (Bambu Studio / OrcaSlicer `curr_bed_type`): the
#: textured PEI sheet every current Bambu Lab printer ships with, and the common sheet elsewhere.
DEFAULT_BED_TYPE = "Textured PEI Plate"


@dataclass(frozen=True)
class SlicerPresets:
    """A slicer's own system presets for a printer, by their exact names (the `[slicer_presets]` table).

    Bambu Studio and OrcaSlicer build a 3MF's settings on the system presets it names and
    reset every key not listed as changed to the system value (fabricate/export/SLICER_READERS.md).
    """

    source: str
    #: `printer_settings_id`, e.g. "Bambu Lab X1 Carbon 0.4 nozzle".
    printer: str
    printer_model: str
    #: `print_settings_id` -> its layer height in mm.
    print_layer_heights: dict
    #: Our material -> `filament_settings_id`; a material the vendor has no preset for is absent.
    filament_by_material: dict

    def print_preset(self, layer_height: float) -> str:
        """The print preset whose layer height is nearest ``layer_height`` (the first listed on a tie)."""
        return min(self.print_layer_heights, key=lambda name: abs(self.print_layer_heights[name] - layer_height))


@dataclass(frozen=True)
class PrinterProfile:
    """A printer's printable space and hardware, in millimetres."""

    id: str
    vendor: str
    model: str
    bed_shape: str
    build_volume_mm: tuple
    bed_origin_mm: tuple
    nozzle_diameter_mm: float
    margin_xy_mm: float
    margin_z_mm: float
    filament_slots: int
    multi_material: str
    heated_bed: bool
    source: str
    slicer_presets: Optional[SlicerPresets] = None
    bed_type: str = DEFAULT_BED_TYPE

    @property
    def name(self) -> str:
        return f"{self.vendor} {self.model}"

    @property
    def usable_size_mm(self) -> np.ndarray:
        """Largest box, inside the margins, that a model may occupy."""
        x, y, z = self.build_volume_mm
        return np.array([x - 2 * self.margin_xy_mm, y - 2 * self.margin_xy_mm, z - self.margin_z_mm])

    @property
    def bed_centre_mm(self) -> np.ndarray:
        return np.array(self.bed_origin_mm) + np.array(self.build_volume_mm[:2]) / 2

    def bed_outline_mm(self) -> list:
        """The printable area as a counter-clockwise polygon: 4 corners, or 48 points on a round bed."""
        x0, y0 = self.bed_origin_mm
        sx, sy, _ = self.build_volume_mm
        if self.bed_shape == "circular":
            cx, cy = self.bed_centre_mm
            angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
            return [(round(cx + sx / 2 * np.cos(a), 3), round(cy + sy / 2 * np.sin(a), 3)) for a in angles]
        return [(x0, y0), (x0 + sx, y0), (x0 + sx, y0 + sy), (x0, y0 + sy)]

    def to_dict(self) -> dict:
        return asdict(self) | {"name": self.name}


def _parse(path: Path) -> PrinterProfile:
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    try:
        profile = PrinterProfile(
            id=str(data["id"]), vendor=str(data["vendor"]), model=str(data["model"]),
            bed_shape=str(data["bed_shape"]), build_volume_mm=tuple(float(v) for v in data["build_volume_mm"]),
            bed_origin_mm=tuple(float(v) for v in data["bed_origin_mm"]),
            nozzle_diameter_mm=float(data["nozzle_diameter_mm"]), margin_xy_mm=float(data["margin_xy_mm"]),
            margin_z_mm=float(data["margin_z_mm"]), filament_slots=int(data["filament_slots"]),
            multi_material=str(data["multi_material"]), heated_bed=bool(data["heated_bed"]),
            source=str(data["source"]), slicer_presets=_slicer_presets(data.get("slicer_presets")),
            bed_type=str(data.get("bed_type", DEFAULT_BED_TYPE)))
    except KeyError as missing:
        raise ValueError(f"printer profile {path.name} lacks the key {missing}") from None
    if profile.id != path.stem or profile.bed_shape not in ("rectangular", "circular") \
            or len(profile.build_volume_mm) != 3 or min(profile.build_volume_mm) <= 0:
        raise ValueError(f"printer profile {path.name} is inconsistent")
    return profile


def _slicer_presets(table: Optional[dict]) -> Optional[SlicerPresets]:
    if table is None:
        return None
    return SlicerPresets(source=str(table["source"]), printer=str(table["printer"]),
                         printer_model=str(table["printer_model"]),
                         print_layer_heights={str(k): float(v) for k, v in table["print"].items()},
                         filament_by_material={str(k): str(v) for k, v in table.get("filament", {}).items()})


@lru_cache(maxsize=4)
def _load_all(directory: str) -> dict:
    return {p.stem: _parse(p) for p in sorted(Path(directory).glob("*.toml"))}


def list_printers() -> list:
    """Every bundled printer profile, sorted by vendor and model."""
    return sorted(_load_all(str(PROFILE_DIR)).values(), key=lambda p: (p.vendor.lower(), p.model.lower()))


def get_printer(printer_id: str) -> PrinterProfile:
    """The profile with this id (e.g. ``bambu-a1``), or an error naming close matches."""
    profiles = _load_all(str(PROFILE_DIR))
    key = printer_id.strip().lower()
    if key in profiles:
        return profiles[key]
    close = difflib.get_close_matches(key, list(profiles), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run `fabricate printers` to list them"
    raise InputError(f"unknown printer {printer_id!r}{hint}")
