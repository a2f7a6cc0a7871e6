"""The one place that hands our arrays to manifold3d."""
from __future__ import annotations

from typing import Optional

import numpy as np


def as_manifold(vertices: np.ndarray, faces: np.ndarray, vertex_properties: Optional[np.ndarray] = None,
                track_faces: bool = False):
    """A ``manifold3d.Manifold`` of the mesh; check ``.status()`` before use.

    manifold3d refuses read-only and wrongly typed arrays, so fresh float32/uint32
    copies are passed. ``vertex_properties`` (n, k) travel with the vertices through
    its operations (columns after x, y, z). ``track_faces`` gives every triangle its input
    index as ``face_id``, which it keeps through booleans (without it manifold3d numbers them
    in its own order; ``as_original`` would renumber them too).
    """
    import manifold3d

    positions = np.asarray(vertices, np.float64)
    if vertex_properties is not None:
        positions = np.hstack([positions, np.asarray(vertex_properties, np.float64)])
    face_id = np.arange(len(faces), dtype=np.uint32) if track_faces else None
    return manifold3d.Manifold(manifold3d.Mesh(np.array(positions, np.float32, copy=True),
                                               np.array(faces, np.uint32, copy=True), face_id=face_id))
