"""Filament (grams, metres, cost) and print time of a placed model, without slicing it.

The real answer comes from a slicer (`make --slice` runs PrusaSlicer and its figures replace
these). Without one, the model is split the way a slicer fills it: perimeters along the sides
(``walls`` extrusions thick), solid skins on the faces that look up or down (``top_layers`` /
``bottom_layers`` thick), infill at ``infill`` percent in what is left, supports under the
overhangs when they are on. Time is that volume at the flow rates and per-layer cost fitted to
PrusaSlicer's own estimates of our files (``CALIBRATION``): a stated estimate, not a slice.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.printing.settings import FILAMENT_DIAMETER_MM, MATERIAL_FIGURES, PrintSettings

#: A slicer's default extrusion width, as a multiple of the nozzle (PrusaSlicer: 1.125).
EXTRUSION_WIDTH_PER_NOZZLE = 1.125
#: Supports fill about this share of the space under an overhang (fitted, like the figures below; PrusaSlicer's
#: support pattern is sparse, but its interface layers and the supports' own perimeters are not).
SUPPORT_FILL = 0.39
#: Filament used by each change, mm³: PrusaSlicer's default wiping volume (140, which our files keep) plus the
#: wipe tower's own walls, fitted. Bambu Studio computes its flushes from the colours and usually purges more.
PURGE_MM3_PER_CHANGE = 176.0
#: Fitted to PrusaSlicer 2.5's estimates of fabricate's own 3MFs (benchmarks/print_estimate.py): seconds per
#: mm³ of shell (perimeters, skins) and of infill, and fixed seconds per layer (travel, retraction, layer change).
CALIBRATION = {"shell_s_per_mm3": 0.553, "infill_s_per_mm3": 0.192, "layer_s": 0.0, "change_s": 42.9}
#: A print is called very large or very long above these (a warning before the user commits a spool or a night).
LARGE_PRINT_G = 500.0
LONG_PRINT_H = 24.0


@dataclass
class PrintEstimate:
    """What the print will take. ``method`` says where the figures come from."""

    grams: float
    metres: float
    hours: float
    layers: int
    tool_changes: int
    method: str
    cost: Optional[float] = None  # at ``price_per_kg``, when one is given
    price_per_kg: Optional[float] = None

    def to_dict(self) -> dict:
        return {**asdict(self), "warnings": self.warnings()}

    def summary_line(self) -> str:
        cost = f", {self.cost:.2f} at {self.price_per_kg:g} per kg" if self.cost is not None else ""
        return (f"filament {self.grams:.0f} g ({self.metres:.1f} m){cost}; print time about "
                f"{format_hours(self.hours)} ({self.method})")

    def warnings(self) -> list:
        found = []
        if self.grams > LARGE_PRINT_G:
            found.append(f"a very large print: about {self.grams:.0f} g of filament; set a smaller height to save it")
        if self.hours > LONG_PRINT_H:
            found.append(f"a very long print: about {format_hours(self.hours)}; a smaller height or the draft "
                         "preset shortens it")
        return found


def format_hours(hours: float) -> str:
    minutes = round(hours * 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def filament_metres(volume_mm3: float) -> float:
    return volume_mm3 / (math.pi * (FILAMENT_DIAMETER_MM / 2) ** 2) / 1000.0


def layer_count(height_mm: float, settings: PrintSettings) -> int:
    # (less a hair: 20 mm at 0.2 mm is 100 layers, not 101 from rounding)
    return max(1, math.ceil((height_mm - settings.first_layer_height) / settings.layer_height - 1e-9) + 1)


def tool_changes(placed: ColouredMesh, face_filament: Optional[np.ndarray], settings: PrintSettings) -> int:
    """Filament changes a slicer makes: in each layer, one fewer than the filaments it holds (it starts a layer
    with the filament the last one ended on)."""
    if face_filament is None or len(np.unique(face_filament)) < 2:
        return 0
    z = placed.vertices[placed.faces][:, :, 2] - placed.vertices[:, 2].min()
    first = np.clip(np.floor((z.min(axis=1) - settings.first_layer_height) / settings.layer_height) + 1, 0, None)
    last = np.clip(np.floor((z.max(axis=1) - settings.first_layer_height) / settings.layer_height) + 1, 0, None)
    layers = layer_count(float(z.max()), settings)
    present = np.zeros((int(face_filament.max()) + 1, layers + 1), np.int64)
    # Per filament, +1 where a face starts and -1 after it ends; the running sum says which layers hold it.
    np.add.at(present, (face_filament, first.astype(np.int64)), 1)
    np.add.at(present, (face_filament, np.minimum(last.astype(np.int64) + 1, layers)), -1)
    held = (np.cumsum(present, axis=1)[:, :layers] > 0).sum(axis=0)
    return int(np.clip(held - 1, 0, None).sum())


def estimate_print(placed: ColouredMesh, settings: PrintSettings, nozzle_mm: float,
                   face_filament: Optional[np.ndarray] = None,
                   price_per_kg: Optional[float] = None) -> PrintEstimate:
    """Filament and time of ``placed`` (a closed mesh on the bed, mm) printed with ``settings``; with
    ``face_filament`` (each triangle's filament) the tool changes and their purges count too."""
    v = placed.vertices[placed.faces]
    cross = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    nz = np.divide(cross[:, 2], 2 * area, out=np.zeros(len(area)), where=area > 0)
    volume = float(abs(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum()) / 6.0)
    width = EXTRUSION_WIDTH_PER_NOZZLE * nozzle_mm
    skin = np.where(nz > 0, settings.top_layers, settings.bottom_layers) * settings.layer_height
    # A perimeter is ``walls`` extrusions thick measured across the wall; a skin ``layers`` thick measured up.
    shell = float(np.sum(area * (np.sqrt(np.clip(1 - nz ** 2, 0, 1)) * settings.wall_loops * width + np.abs(nz) * skin)))
    shell = min(shell, volume)
    infill = (volume - shell) * settings.infill_density / 100.0
    support = 0.0
    if settings.supports != "off":
        flat_enough = -nz > math.sin(math.radians(90.0 - settings.support_threshold_deg))
        above_bed = v[:, :, 2].mean(axis=1) - placed.vertices[:, 2].min()
        support = float(np.sum(area * -nz * above_bed * flat_enough)) * SUPPORT_FILL
    changes = tool_changes(placed, face_filament, settings)
    extruded = shell + infill + support + changes * PURGE_MM3_PER_CHANGE
    layers = layer_count(float(np.ptp(placed.vertices[:, 2])), settings)
    seconds = ((shell + support) * CALIBRATION["shell_s_per_mm3"] + infill * CALIBRATION["infill_s_per_mm3"]
               + layers * CALIBRATION["layer_s"] + changes * CALIBRATION["change_s"])
    density = MATERIAL_FIGURES[settings.filaments[0].material].density_g_cm3 if settings.filaments else 1.24
    grams = extruded / 1000.0 * density
    cost = None if price_per_kg is None else round(grams / 1000.0 * price_per_kg, 2)
    return PrintEstimate(grams=round(grams, 2), metres=round(filament_metres(extruded), 2),
                         hours=round(seconds / 3600.0, 3), layers=layers, tool_changes=changes, cost=cost, price_per_kg=price_per_kg,
                         method="estimated from the model's volume and surface; slicing gives the exact figures")


def estimate_from_slice(slice_report, price_per_kg: Optional[float] = None) -> PrintEstimate:
    """The same figures as the real slicer reported them (``fabricate.export.slice.SliceReport``)."""
    grams = float(sum(slice_report.filament_g))
    cost = None if price_per_kg is None else round(grams / 1000.0 * price_per_kg, 2)
    return PrintEstimate(grams=round(grams, 2), metres=round(sum(slice_report.filament_mm) / 1000.0, 2),
                         hours=round(slice_report.print_time_s / 3600.0, 3), layers=int(slice_report.layers),
                         tool_changes=int(slice_report.tool_changes),
                         cost=cost, price_per_kg=price_per_kg, method=f"{slice_report.slicer}'s estimate")
