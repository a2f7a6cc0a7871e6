"""The one place that hands our arrays to manifold3d."""
from __future__ import annotations

from typing import Optional

import numpy as np


def as_manifold(vertices: np.ndarray, faces: np.ndarray, vertex_properties: Optional[np.ndarray] = None):
    """A ``manifold3d.Manifold`` of the mesh; check ``.status()`` before use.

    manifold3d refuses read-only and wrongly typed arrays, so fresh float32/uint32
    copies are passed. ``vertex_properties`` (n, k) travel with the vertices through
    its operations (columns after x, y, z).
    """
    import manifold3d

    positions = np.asarray(vertices, np.float64)
    if vertex_properties is not None:
        positions = np.hstack([positions, np.asarray(vertex_properties, np.float64)])
    return manifold3d.Manifold(manifold3d.Mesh(np.array(positions, np.float32, copy=True),
                                               np.array(faces, np.uint32, copy=True)))
