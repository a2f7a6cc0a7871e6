"""The interface every reconstruction model implements."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Optional

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


class Reconstructor(abc.ABC):
    """A model turning a cut-out photo into a closed solid.

    Subclasses set ``name`` and implement :meth:`reconstruct`; surface extraction,
    validation and colouring downstream are shared by all models.
    """

    name: str = ""

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
