"""The learned model: depth layers and a coarse-to-fine sparse SDF network, trained by fabricate.

Importing this package needs torch; fabricate registers the model only when torch and
the shipped weights are present (``pip install -e .[neural]``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fabricate.devices import choose_device
from fabricate.errors import InputError
from fabricate.image.foreground import Foreground
from fabricate.reconstruct.base import Reconstruction, Reconstructor
from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sparse_sdf_net.safetensors"
#: The finest grid the correction is applied on (higher resolutions are capped to it).
MAX_OUTPUT_RESOLUTION = 256
#: Whether the 3D stages' SDF correction is added to the predicted depth layers at inference.
#: Chosen on the corpus validation split (``fabricate eval --corpus-validation``, 94 views at 128)
#: for the shipped weights: with it F@2 41.8 and Chamfer-L1 0.0395, the layers alone 43.8 and
#: 0.0376 (every surface score better). Trained on an L1 loss of the SDF, the bounded correction
#: hedges where the truth is uncertain and so blurs the surface. Retrained to chase the truth only
#: where it lies within reach (and to stay still elsewhere) it no longer hurt, but learned almost
#: nothing (F@2 43.8 either way), so it stays off until a model wins with it on that split.
REFINE_AT_INFERENCE = False


def weights_available(path=WEIGHTS) -> bool:
    """Whether torch, safetensors and the weights are present (without importing torch: it is slow)."""
    from importlib.util import find_spec

    return find_spec("torch") is not None and find_spec("safetensors") is not None and Path(path).is_file()


def load_model(path=WEIGHTS):
    """The network with the shipped (or given) safetensors weights, in eval mode on the best device."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file

    from fabricate.reconstruct.neural.model import NetConfig, ReconstructionNet

    with safe_open(str(path), "pt") as handle:
        config = NetConfig.from_dict(json.loads(handle.metadata()["model_config"]))
    model = ReconstructionNet(config)
    model.load_state_dict(load_file(str(path)))
    device = torch.device(choose_device(torch.cuda.is_available()))
    return model.to(device).eval(), device


class NeuralReconstructor(Reconstructor):
    """Depth layers from the trained network at the output resolution, plus its 3D stages' 64^3 SDF
    correction when ``refine`` (off for the shipped weights: see REFINE_AT_INFERENCE)."""

    name = "neural"

    def __init__(self, weights=WEIGHTS, refine: bool = REFINE_AT_INFERENCE):
        from fabricate.reconstruct.classical import ClassicalReconstructor

        if not weights_available(weights):
            raise InputError("the neural model needs torch and its weights (pip install -e '.[neural]')")
        self.weights = weights
        self.refine = refine
        # The network was trained on the default classical guess, so it takes no classical options.
        self.classical = ClassicalReconstructor()
        self._model = None

    def predict(self, foreground: Foreground):
        """Run the network once.

        Returns
        -------
        layers : (2, LAYER_GRID, LAYER_GRID) predicted front and back (layer-grid voxels from the middle plane)
        correction : (GRID, GRID, GRID) the 3D stages' change to the layers' SDF (64-grid voxels),
            or None when this reconstructor does not refine (the 3D stages are then not run)
        photo_from_layer : (4, 4) the layer grid's map to the photo frame (x and z rows)
        """
        import torch

        from fabricate.reconstruct.neural.data import model_inputs, outline_on_grid

        if self._model is None:
            self._model, self._device = load_model(self.weights)
        image, guess, layers = model_inputs(self.classical, foreground)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None].to(self._device)
        correction = None
        with torch.no_grad():
            predicted = self._model.layers(to(image), to(guess))
            if self.refine:
                composed, _, fine, _ = self._model.refine_layers(predicted, to(image), to(outline_on_grid(image[..., 3])))
                correction = (fine - composed)[0].cpu().numpy()
        return predicted[0].cpu().numpy(), correction, layers.photo_from_voxel

    def reconstruct(self, foreground: Foreground, resolution: int = 256,
                    report: Optional[Callable[[float], None]] = None) -> Reconstruction:
        from scipy import ndimage

        from fabricate.reconstruct.classical import column_colours, dense_samples, distance_field
        from fabricate.reconstruct.neural.data import GRID, LAYER_GRID, TRUNCATION

        report = report or (lambda f: None)
        predicted, correction, photo_from_layer = self.predict(foreground)
        report(0.3)
        working = min(resolution, MAX_OUTPUT_RESOLUTION)
        grid = self.classical.depth_layers(foreground, working)  # silhouette, colours, frame at this resolution
        pfv = grid.photo_from_voxel
        # Each output column on the layer grid, through the shared photo frame.
        x, z = np.meshgrid(np.arange(grid.mask.shape[0]), np.arange(grid.mask.shape[1]), indexing="ij")
        lx = (pfv[0, 0] * x + pfv[0, 3] - photo_from_layer[0, 3]) / photo_from_layer[0, 0]
        lz = (pfv[1, 2] * z + pfv[1, 3] - photo_from_layer[1, 3]) / photo_from_layer[1, 2]
        ratio = photo_from_layer[0, 0] / pfv[0, 0]  # output voxels per layer-grid voxel
        front, back = (ratio * ndimage.map_coordinates(predicted[i], [lx, lz], order=1, mode="nearest")
                       for i in (0, 1))
        # Never thinner than one voxel inside the silhouette (a zero-thickness column would be a hole).
        lift = np.maximum(0.0, 1.0 - (front + back)) / 2
        front, back = (front + lift).astype(np.float32), (back + lift).astype(np.float32)
        report(0.45)
        shape, sdf, _, _, centre = distance_field(grid.mask, front, back)
        step = LAYER_GRID // GRID
        reach = ratio * step * TRUNCATION  # the most the 3D correction can move the surface, in output voxels
        pad = int(np.ceil(reach)) + 2
        field = dense_samples(sdf, (shape[0], shape[1] + 2 * pad, shape[2]), y_offset=-pad)
        report(0.6)
        if correction is not None:
            near = np.argwhere(np.abs(field) < reach + 3)
            at = np.stack([lx[near[:, 0], near[:, 2]] / step,
                           GRID / 2 + (near[:, 1] - pad - centre) / (ratio * step),
                           lz[near[:, 0], near[:, 2]] / step])
            field[tuple(near.T)] += ratio * step * ndimage.map_coordinates(correction, at, order=1, mode="constant",
                                                                           cval=0.0)
        report(0.8)
        volume = sparse_from_dense(field, band=3.0)
        report(1.0)
        photo_from_voxel = pfv.copy()
        photo_from_voxel[2, 3] = -(centre + pad) * pfv[2, 1]
        return Reconstruction(volume=volume, vertex_colours=column_colours(grid.rgb), photo_from_voxel=photo_from_voxel)


def sparse_from_dense(field: np.ndarray, band: float) -> SparseSDF:
    """Keep only the blocks of a dense field that hold samples within ``band`` of the surface."""
    pad = [(0, (-s) % BLOCK) for s in field.shape]
    field = np.pad(field, pad, mode="edge").astype(np.float32)
    bx, by, bz = (s // BLOCK for s in field.shape)
    blocks = field.reshape(bx, BLOCK, by, BLOCK, bz, BLOCK)
    near = np.abs(blocks).min(axis=(1, 3, 5)) < band
    coarse = np.where(blocks.mean(axis=(1, 3, 5)) < 0, -1, 1).astype(np.int8)
    sdf = lambda p: field[p[..., 0], p[..., 1], p[..., 2]]
    return SparseSDF.from_function(field.shape, np.argwhere(near), coarse, sdf, fill=band)
