"""The learned model: the classical guess corrected by a coarse-to-fine sparse SDF network.

Importing this package needs torch; fabricate registers the model only when torch and
the shipped weights are present (``pip install -e .[neural]``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fabricate.errors import InputError
from fabricate.image.foreground import Foreground
from fabricate.reconstruct.base import Reconstruction, Reconstructor
from fabricate.reconstruct.sparse_volume import BLOCK, SparseSDF

WEIGHTS = Path(__file__).resolve().parent / "weights" / "sparse_sdf_net.safetensors"
#: The finest grid the correction is applied on (higher resolutions are capped to it).
MAX_OUTPUT_RESOLUTION = 256


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

    from fabricate.reconstruct.neural.model import ModelConfig, SparseSDFNet

    with safe_open(str(path), "pt") as handle:
        config = ModelConfig(**json.loads(handle.metadata()["model_config"]))
    model = SparseSDFNet(config)
    model.load_state_dict(load_file(str(path)))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval(), device


class NeuralReconstructor(Reconstructor):
    """Classical inflation at 64^3, corrected by the trained network, applied at the output resolution."""

    name = "neural"

    def __init__(self, weights=WEIGHTS, **classical_options):
        from fabricate.reconstruct.classical import ClassicalReconstructor

        if not weights_available(weights):
            raise InputError("the neural model needs torch and its weights (pip install -e '.[neural]')")
        self.weights = weights
        self.classical = ClassicalReconstructor(**classical_options)
        self._model = None

    def predict_correction(self, foreground: Foreground):
        """(64^3 correction in voxels of the 64 grid, the 64 grid's photo_from_voxel)."""
        import torch

        from fabricate.reconstruct.neural.data import model_inputs

        if self._model is None:
            self._model, self._device = load_model(self.weights)
        cube, image, _, photo_from_voxel = model_inputs(self.classical, foreground)
        with torch.no_grad():
            _, fine, _ = self._model(torch.from_numpy(cube)[None].to(self._device),
                                     torch.from_numpy(image)[None].to(self._device))
        return fine[0].cpu().numpy() - cube, photo_from_voxel

    def reconstruct(self, foreground: Foreground, resolution: int = 256,
                    report: Optional[Callable[[float], None]] = None) -> Reconstruction:
        from scipy import ndimage

        report = report or (lambda f: None)
        correction, photo_from_coarse = self.predict_correction(foreground)
        report(0.3)
        working = min(resolution, MAX_OUTPUT_RESOLUTION)
        base = self.classical.reconstruct(foreground, working)
        report(0.6)
        field = base.volume.to_dense()
        # Where each output voxel falls on the 64 grid, through the shared photo frame.
        coarse_from_fine = np.linalg.solve(photo_from_coarse, base.photo_from_voxel)
        grid = np.indices(field.shape, dtype=np.float32).reshape(3, -1)
        at = coarse_from_fine[:3, :3] @ grid + coarse_from_fine[:3, 3:4]
        ratio = photo_from_coarse[0, 0] / base.photo_from_voxel[0, 0]  # fine voxels per coarse voxel
        field = field + ratio * ndimage.map_coordinates(correction, at, order=1, mode="constant",
                                                        cval=0.0).reshape(field.shape)
        report(0.8)
        volume = sparse_from_dense(field, band=3.0)
        report(1.0)
        return Reconstruction(volume=volume, vertex_colours=base.vertex_colours,
                              photo_from_voxel=base.photo_from_voxel)


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
