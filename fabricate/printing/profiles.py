"""Printer profiles: one TOML file per printer in printer_profiles/."""
from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from fabricate.errors import InputError

#: Where the bundled profiles live; FABRICATE_PRINTER_PROFILES points elsewhere.
PROFILE_DIR = Path(os.environ.get("FABRICATE_PRINTER_PROFILES", Path(__file__).resolve().parents[2] / "printer_profiles"))


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
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"name": self.name}


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
            source=str(data["source"]))
    except KeyError as missing:
        raise ValueError(f"printer profile {path.name} lacks the key {missing}") from None
    if profile.id != path.stem or profile.bed_shape not in ("rectangular", "circular") \
            or len(profile.build_volume_mm) != 3 or min(profile.build_volume_mm) <= 0:
        raise ValueError(f"printer profile {path.name} is inconsistent")
    return profile


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
