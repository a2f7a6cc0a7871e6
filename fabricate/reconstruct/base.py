"""The interface every reconstruction model implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence

import numpy as np

from fabricate.image.foreground import Foreground
from fabricate.reconstruct.sparse_volume import SparseSDF

#: Resolutions the product offers (voxels across the object's largest extent).
RESOLUTIONS = (128, 256, 512, 1024)


@dataclass
class Reconstruction:
    """What a model returns: a sparse SDF plus how to colour its surface.

    Attributes
    ----------
    volume : SparseSDF
        Distances in voxels, negative inside; axes x (photo right), y (away from
        the viewer) and z (photo up).
    vertex_colours : callable
        Maps (n, 3) surface points in voxel coordinates to (n, 3) uint8 sRGB.
    photo_from_voxel : (4, 4) float, optional
        Affine map from voxel coordinates to the photo's frame: column and row in
        pixels (x right, y down) and depth in pixels (away from the viewer; its origin
        is arbitrary). Evaluation uses it to put the output where the camera saw it.
    """

    volume: SparseSDF
    vertex_colours: Callable[[np.ndarray], np.ndarray]
    photo_from_voxel: Optional[np.ndarray] = None
    #: Several photos: how each sees the voxel grid (for colouring from every side), in photo order.
    view_projections: Optional[List["ViewProjection"]] = None
    #: Several photos: each one's refined pose and fit, ``{name, azimuth_deg, iou, scale, offset}``.
    view_fits: Optional[List[dict]] = None


@dataclass
class ViewProjection:
    """One photo of a multi-photo reconstruction and where the voxel grid falls in it.

    Attributes
    ----------
    name : str
        The photo's name.
    rgb : (H, W, 3) uint8
        The object's crop (``Foreground.rgb``: background pixels carry the nearest object colour).
    mask : (H, W) bool
        The object in that crop.
    photo_from_voxel : (4, 4) float
        Voxel -> (column, row) in that crop's pixels (pixel centres at integers) and depth
        in pixels along the view direction (origin arbitrary).
    direction : (3,) float
        Unit view direction (camera towards the object) in voxel coordinates.
    offset : (int, int)
        Photo (row, column) of the crop's top-left pixel: add it for full-photo pixels.
    """

    name: str
    rgb: np.ndarray
    mask: np.ndarray
    photo_from_voxel: np.ndarray
    direction: np.ndarray
    offset: tuple = (0, 0)

    def pixels(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) voxel points -> (n, 3) crop column, row and depth."""
        return points @ self.photo_from_voxel[:3, :3].T + self.photo_from_voxel[:3, 3]

    def sample(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) uint8 colours of the crop where ``points`` land (bilinear, clamped to the crop)."""
        h, w = self.mask.shape
        pixel = self.pixels(np.asarray(points, np.float64).reshape(-1, 3))
        col = np.clip(pixel[:, 0], 0, w - 1.001)
        row = np.clip(pixel[:, 1], 0, h - 1.001)
        c0, r0 = col.astype(np.int64), row.astype(np.int64)
        tc, tr = (col - c0)[:, None], (row - r0)[:, None]
        at = lambda r, c: self.rgb[r, c].astype(np.float32)
        top = at(r0, c0) * (1 - tc) + at(r0, c0 + 1) * tc
        bottom = at(r0 + 1, c0) * (1 - tc) + at(r0 + 1, c0 + 1) * tc
        return np.clip(np.round(top * (1 - tr) + bottom * tr), 0, 255).astype(np.uint8)


@dataclass
class NoOptions:
    """The options of a model that takes none."""


@dataclass(frozen=True)
class PhotoView:
    """One photo of the object and where it was taken from.

    Attributes
    ----------
    foreground : Foreground
        The object cut out of that photo.
    azimuth_deg : float
        Where the photographer stood, counted from the front towards the object's own
        left side: 0 front, 90 left (the object's own left), 180 back, 270 right.
    name : str
        The photo's name, used in messages and reports.
    """

    foreground: Foreground
    azimuth_deg: float = 0.0
    name: str = "photo"


class Reconstructor(abc.ABC):
    """A model turning a cut-out photo into a closed solid.

    Subclasses set ``name`` and implement :meth:`reconstruct` (one photo); a model that
    uses several photos of the object sets ``max_photos`` and overrides
    :meth:`reconstruct_views`. Surface extraction, validation and colouring downstream
    are shared by all models.
    """

    name: str = ""
    #: How many photos of one object the model can use.
    max_photos: int = 1
    #: The dataclass of options this model uses (see fabricate.schema); any other is refused.
    options: type = NoOptions
    #: Those of its options that only mean something with one photo (refused with several).
    single_photo_options: tuple = ()

    def reconstruct_views(
        self,
        views: Sequence[PhotoView],
        resolution: int = 256,
        report: Optional[Callable[[float], None]] = None,
    ) -> Reconstruction:
        """Build the volume from one or several labelled photos of the same object.

        The default takes exactly one photo; models using more override this.
        """
        from fabricate.errors import BadOption

        if len(views) > self.max_photos:
            raise BadOption(f"the {self.name} model takes at most {self.max_photos} photo"
                            f"{'s' if self.max_photos > 1 else ''}, got {len(views)}")
        return self.reconstruct(views[0].foreground, resolution, report)

    @abc.abstractmethod
    def reconstruct(
        self,
        foreground: Foreground,
        resolution: int = 256,
        report: Optional[Callable[[float], None]] = None,
    ) -> Reconstruction:
        """Build the sparse signed-distance volume of the object.

        Parameters
        ----------
        foreground
            The object's crop, mask and colours.
        resolution
            Voxels across the object's largest extent.
        report
            Optional progress callback with a fraction in [0, 1].
        """
