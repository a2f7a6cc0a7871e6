"""Colour a reconstructed surface from the photo."""
from __future__ import annotations

from typing import Callable

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh


def colour_surface(mesh: ColouredMesh, vertex_colours: Callable[[np.ndarray], np.ndarray],
                   quantum: int = 4) -> ColouredMesh:
    """Per-vertex colours from a model's colour function, and per-face means.

    Parameters
    ----------
    mesh
        Surface in the model's voxel coordinates (what ``vertex_colours`` expects).
    vertex_colours
        Maps (n, 3) points to (n, 3) uint8 sRGB (visible side from the photo,
        hidden side filled by the model's rule).
    quantum
        Face colours are rounded to multiples of this, which keeps the 3MF colour
        group small without visible banding.

    Returns
    -------
    ColouredMesh with ``vertex_colours`` and ``face_colours``.
    """
    colours = np.asarray(vertex_colours(mesh.vertices), np.uint8)
    coloured = mesh.copy(vertex_colours=colours).with_face_colours_from_vertices()
    return coloured.copy(face_colours=quantise_colours(coloured.face_colours, quantum))


def quantise_colours(colours: np.ndarray, quantum: int) -> np.ndarray:
    if quantum <= 1:
        return colours
    return np.clip((colours.astype(np.int32) + quantum // 2) // quantum * quantum, 0, 255).astype(np.uint8)
