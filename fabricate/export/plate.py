"""A build plate: the printed objects of a project file, each by its name, in millimetres.

What the 3MF reader (fabricate/export/read3mf.py) gives, what ``check`` judges
(fabricate/mesh/validate.py: :func:`~fabricate.mesh.validate.validate_plate`) and what
the 3MF writer (fabricate/export/threemf.py: :func:`~fabricate.export.threemf.export_plate_3mf`)
writes back. A single-mesh file (STL, OBJ, ...) is a plate of one object with one part.

A printed object is one build item; its parts are the meshes it is made of (the leaves
of its component tree, or a slicer's volumes), each already moved to its place on the
plate, so a part's vertices are plate coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.validate import judged

#: Colour of the triangles that carry none when others of the same plate do (lib3mf's choice too).
UNCOLOURED = (200, 200, 200)


@dataclass(eq=False)  # identity: comparing meshes array by array means nothing here
class PlatePart:
    """One mesh of a printed object.

    Attributes
    ----------
    name : str
        Its name in the file (or "part N").
    mesh : ColouredMesh or None
        Plate coordinates in millimetres; None when the part holds no triangles to judge.
    not_checked : str or None
        Why the part is not judged as a solid ("beam lattice objects are not checked"); None when it is.
    """

    name: str
    mesh: Optional[ColouredMesh]
    not_checked: Optional[str] = None

    @property
    def checked(self) -> bool:
        """Whether the part is judged as a solid."""
        return judged(self)


@dataclass(eq=False)
class PlateObject:
    """One printed object (a 3MF build item) and its parts."""

    name: str
    parts: list

    @property
    def checked_parts(self) -> list:
        return [part for part in self.parts if part.checked]


@dataclass(eq=False)
class Plate:
    """Every printed object of a file, with the file's metadata and settings.

    Attributes
    ----------
    objects : list of PlateObject
    metadata : dict
        Model metadata by the name written in the file ("Title", "fabricate:SourcePhoto").
    settings : dict
        Slicer settings parts by their name in the package ("Metadata/Slic3r_PE.config"), as bytes.
    notes : list of str
        Departures from the 3MF specification that do not change what is printed.
    """

    objects: list
    metadata: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @classmethod
    def of_mesh(cls, name: str, mesh: ColouredMesh) -> "Plate":
        """A single-mesh file as a plate of one object."""
        return cls([PlateObject(name, [PlatePart(name, mesh)])], dict(mesh.metadata))

    @property
    def title(self) -> Optional[str]:
        return self.metadata.get("Title") or None

    def with_meshes(self, change: Callable) -> "Plate":
        """This plate with ``change(object, part)`` as each judged part's mesh (None keeps it)."""
        objects = []
        for obj in self.objects:
            parts = []
            for part in obj.parts:
                changed = change(obj, part) if part.checked else None
                parts.append(part if changed is None else replace(part, mesh=changed))
            objects.append(replace(obj, parts=parts))
        return replace(self, objects=objects)

    def merged_mesh(self) -> ColouredMesh:
        """The judged parts' triangles in one mesh (previews, and formats that hold one mesh): what
        prints as a solid, without modifiers, supports or lattices.

        Parts without colours get :data:`UNCOLOURED` when others have colours.
        """
        meshes = [part.mesh for obj in self.objects for part in obj.checked_parts]
        if not meshes:
            return ColouredMesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64), metadata=dict(self.metadata))
        offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
        coloured = any(m.face_colours is not None for m in meshes)
        colours = None
        if coloured:
            colours = np.concatenate([m.face_colours if m.face_colours is not None else
                                      np.tile(np.array(UNCOLOURED, np.uint8), (len(m.faces), 1)) for m in meshes])
        return ColouredMesh(np.concatenate([m.vertices for m in meshes]),
                            np.concatenate([m.faces + offset for m, offset in zip(meshes, offsets)]),
                            None, colours, dict(self.metadata))


def nearest_face_colours(source: ColouredMesh, target: ColouredMesh) -> ColouredMesh:
    """``target`` with each triangle coloured as the nearest triangle of ``source`` (when ``source``
    has face colours): a repaired part keeps its colours, on the triangles a repair added or rebuilt too."""
    if source.face_colours is None or not len(target.faces) or not len(source.faces):
        return target
    return target.copy(face_colours=nearest_triangle_colours(source, target.vertices[target.faces].mean(axis=1)))


def nearest_triangle_colours(source: ColouredMesh, points: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """The face colour of ``source``'s triangle whose centre is nearest each point; with ``eps``
    > 0 one at most (1 + eps) times farther than the nearest (scipy's approximate search)."""
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(source.vertices[source.faces].mean(axis=1)).query(points, eps=eps, workers=-1)
    return source.face_colours[nearest]
