"""The triangle mesh passed between stages: numpy arrays plus optional colours."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np


@dataclass
class ColouredMesh:
    """A triangle mesh in millimetres (or voxels before scaling).

    Attributes
    ----------
    vertices : (n, 3) float64
    faces : (m, 3) int64
        Counter-clockwise seen from outside.
    vertex_colours : (n, 3) uint8 or None
    face_colours : (m, 3) uint8 or None
    metadata : dict
        Free-form provenance (source photo, model, options).
    """

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colours: Optional[np.ndarray] = None
    face_colours: Optional[np.ndarray] = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        self.vertices = np.ascontiguousarray(self.vertices, np.float64).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces, np.int64).reshape(-1, 3)

    def copy(self, **changes) -> "ColouredMesh":
        return replace(self, **changes)

    def with_face_colours_from_vertices(self) -> "ColouredMesh":
        """Per-face colour as the mean of the face's three vertex colours."""
        if self.vertex_colours is None:
            return self
        mean = self.vertex_colours[self.faces].astype(np.float32).mean(axis=1)
        return self.copy(face_colours=np.round(mean).astype(np.uint8))

    def with_faces(self, faces: np.ndarray, face_colours: Optional[np.ndarray] = None) -> "ColouredMesh":
        """This mesh restricted to ``faces`` (indices into its vertices), unused vertices dropped."""
        used, inverse = np.unique(faces, return_inverse=True)
        colours = None if self.vertex_colours is None else self.vertex_colours[used]
        return self.copy(vertices=self.vertices[used], faces=inverse.reshape(-1, 3), vertex_colours=colours,
                         face_colours=face_colours)

    @property
    def bounds(self) -> np.ndarray:
        """(2, 3) min and max corner."""
        if len(self.vertices) == 0:
            return np.zeros((2, 3))
        return np.stack([self.vertices.min(axis=0), self.vertices.max(axis=0)])

    @property
    def extents(self) -> np.ndarray:
        return self.bounds[1] - self.bounds[0]

    def transformed(self, matrix: np.ndarray) -> "ColouredMesh":
        """Apply a 4x4 affine transform (faces flip if it mirrors)."""
        vertices = self.vertices @ matrix[:3, :3].T + matrix[:3, 3]
        faces = self.faces if np.linalg.det(matrix[:3, :3]) > 0 else self.faces[:, ::-1].copy()
        return self.copy(vertices=vertices, faces=faces)

    def to_trimesh(self):
        import trimesh

        mesh = trimesh.Trimesh(self.vertices, self.faces, process=False)
        if self.vertex_colours is not None:
            mesh.visual.vertex_colors = self.vertex_colours
        elif self.face_colours is not None:
            mesh.visual.face_colors = self.face_colours
        return mesh
