"""The per-triangle painting strings of PrusaSlicer (`slic3rpe:mmu_segmentation`) and Bambu/Orca (`paint_color`).

Both slicers serialise a triangle's paint as a depth-first stream of 4-bit nibbles
(PrusaSlicer `TriangleSelector::serialize`, src/libslic3r/TriangleSelector.cpp; the
hex form in `FacetsAnnotation::get_triangle_as_string`, src/libslic3r/Model.cpp),
written as hex digits with the last nibble first. An unsplit triangle is one leaf:
its two low bits are 0 (no split) and its two high bits hold the state (the
1-based extruder) when it is below 3; otherwise the high bits are 0b11 and one more
nibble holds ``state - 3`` (for 18, a zero nibble follows, see :func:`paint_code`). We colour whole
triangles, so we never write splits.
"""
from __future__ import annotations

import numpy as np

#: Largest state the one-extra-nibble form can hold (3 + 15).
MAX_STATE = 18


def paint_code(state: int) -> str:
    """Hex string for an unsplit triangle painted with extruder ``state`` (0 = unpainted -> "")."""
    if state == 0:
        return ""
    if not 0 < state <= MAX_STATE:
        raise ValueError(f"paint state must be between 1 and {MAX_STATE}, got {state}")
    if state < 3:
        return format(state << 2, "X")
    extra = state - 3
    # Bambu Studio reads an extra nibble of 15 as "15 more, read on" (TriangleSelector::deserialize),
    # so state 18 ends with a zero nibble; OrcaSlicer and PrusaSlicer read one extra nibble and
    # never reach it.
    return ("0" if extra == 15 else "") + format(extra, "X") + "C"


def paint_code_table(face_filament: np.ndarray) -> list:
    """The string for each 0-based filament index used in ``face_filament`` (filament k is extruder k + 1)."""
    return [paint_code(k + 1) for k in range(int(face_filament.max(initial=0)) + 1)]
