"""One submanifold sparse 3D convolution, two backends: spconv where it is correct, pure torch otherwise.

spconv 2.3.8's CPU build has two faults on a CPU-only torch (measured in
../shared/notes/spconv.md): its backward asks for a CUDA stream (patched here, once,
only when CUDA is absent), and with more than one thread its CPU scatter-add races
and gives wrong values. So spconv runs on CUDA, or on the CPU with one thread; the
pure-torch backend (gather, matmul, index_add per kernel offset) runs everywhere else
and is deterministic at any thread count. Both use spconv's weight layout
[Cout, kz, ky, kx, Cin], so a model trained with one runs with the other.
"""
from __future__ import annotations

import itertools

import torch
from torch import nn

OFFSETS = list(itertools.product((-1, 0, 1), repeat=3))  # (dz, dy, dx), spconv's kernel order
_PATCHED = False


def spconv_available() -> bool:
    try:
        import spconv.pytorch  # noqa: F401
    except Exception:
        return False
    return True


def patch_spconv_for_cpu() -> None:
    """spconv's backward calls torch.cuda.current_stream(); without CUDA, use stream 0 instead.

    Both names must change: ops.py keeps its own binding of get_current_stream.
    """
    global _PATCHED
    if _PATCHED or torch.cuda.is_available():
        return
    from spconv.pytorch import cppcore, ops

    ops.get_current_stream = cppcore.get_current_stream = lambda: 0
    _PATCHED = True


def choose_backend(device: torch.device) -> str:
    """"spconv" on CUDA, or on the CPU at one thread; "torch" otherwise (the CPU race)."""
    if not spconv_available():
        return "torch"
    if device.type == "cuda" or torch.get_num_threads() == 1:
        return "spconv"
    return "torch"


class Rulebook:
    """Which input site feeds which output site for each of the 27 kernel offsets.

    ``coords`` are (batch, z, y, x) integer sites inside ``spatial_shape`` (Z, Y, X).
    Built once per set of sites and shared by every layer at that resolution.
    """

    def __init__(self, coords: torch.Tensor, spatial_shape):
        self.coords = coords.long()
        self.spatial_shape = tuple(int(s) for s in spatial_shape)
        z, y, x = self.spatial_shape
        b, cz, cy, cx = self.coords.unbind(1)
        keys = ((b * (z + 2) + cz + 1) * (y + 2) + cy + 1) * (x + 2) + cx + 1
        order = torch.argsort(keys)
        sorted_keys = keys[order]
        self.pairs = []
        for dz, dy, dx in OFFSETS:
            shifted = keys + (dz * (y + 2) + dy) * (x + 2) + dx
            position = torch.searchsorted(sorted_keys, shifted).clamp(max=len(keys) - 1)
            found = sorted_keys[position] == shifted
            out_rows = torch.nonzero(found).squeeze(1)
            self.pairs.append((order[position[out_rows]], out_rows))


class SubMConv3d(nn.Module):
    """3x3x3 submanifold convolution (outputs only at the input sites), no bias.

    Parameters
    ----------
    in_channels, out_channels : int
    backend : {"auto", "torch", "spconv"}
    """

    def __init__(self, in_channels: int, out_channels: int, backend: str = "auto"):
        super().__init__()
        self.in_channels, self.out_channels, self.backend = in_channels, out_channels, backend
        self.weight = nn.Parameter(torch.empty(out_channels, 3, 3, 3, in_channels))
        nn.init.kaiming_uniform_(self.weight.view(out_channels, -1), a=5 ** 0.5)

    def forward(self, features: torch.Tensor, rulebook: Rulebook) -> torch.Tensor:
        backend = choose_backend(features.device) if self.backend == "auto" else self.backend
        if backend == "spconv":
            return self._spconv(features, rulebook)
        out = features.new_zeros(len(features), self.out_channels)
        kernel = self.weight.reshape(self.out_channels, 27, self.in_channels)
        for k, (inputs, outputs) in enumerate(rulebook.pairs):
            if len(outputs):
                out = out.index_add(0, outputs, features.index_select(0, inputs) @ kernel[:, k].t())
        return out

    def _spconv(self, features: torch.Tensor, rulebook: Rulebook) -> torch.Tensor:
        import spconv.pytorch as spconv

        patch_spconv_for_cpu()
        batch = int(rulebook.coords[:, 0].max()) + 1 if len(rulebook.coords) else 1
        # spconv reads the raw buffer as row-major; torch.nonzero's output is column-major.
        indices = rulebook.coords.int().contiguous()
        tensor = spconv.SparseConvTensor(features, indices, list(rulebook.spatial_shape), batch)
        if not hasattr(self, "_conv"):
            self._conv = spconv.SubMConv3d(self.in_channels, self.out_channels, 3, padding=1, bias=False)
        self._conv.weight = self.weight  # one parameter for both backends
        return self._conv(tensor).features
