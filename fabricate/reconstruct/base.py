"""The interface every reconstruction model implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

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
