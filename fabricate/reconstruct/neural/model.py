"""Direct3D-S2-mini: depth layers from the photo, a coarse dense SDF, sparse refinement near the surface.

Everything lives on the classical model's grid (x = photo right, y = depth, z = photo
up); the camera is orthographic, so a pixel's features belong to its whole column of
voxels (pixel-aligned features).

1. ``LayerNet``: a 2D U-Net over the photo, its matte and the classical front/back
   surfaces at 128x128 predicts where the object really starts and ends along each
   pixel's ray (front and back depth layers, a correction of the classical ones).
2. ``compose_sdf``: those layers inside the silhouette give a dense SDF on the 64^3 grid.
3. ``SparseSDFNet``: dense 3D convolutions at 32^3 predict a coarse SDF and give context,
   then only voxels within a narrow band of the surface are kept and submanifold sparse
   convolutions (spconv, or the pure-torch backend) move it locally (bounded) at 64^3.
Output: the SDF at 64^3 (voxels of that grid), truncated at +-4; at inference the
layers themselves are resampled to the output resolution and the 64^3 correction added.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from fabricate.reconstruct.neural.data import GRID, LAYER_GRID, TRUNCATION
from fabricate.reconstruct.neural.sparse_conv import Rulebook, SubMConv3d


@dataclass
class ModelConfig:
    image_channels: int = 16
    coarse_channels: int = 24
    sparse_channels: int = 16
    band: float = 1.5  # voxels (64 grid) around the input surface refined by the sparse stage
    max_refinement: float = 1.0  # the most the sparse stage may move the surface (64-grid voxels)


#: Depth layers are predicted in units of this many voxels of the layer grid.
LAYER_UNIT = 32.0


@dataclass
class LayerConfig:
    widths: tuple = (32, 64, 96)


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.GELU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(4, cout), nn.GELU())


class LayerNet(nn.Module):
    """U-Net: photo (RGB, matte) + classical layers -> corrected front and back layers."""

    def __init__(self, config: LayerConfig = LayerConfig()):
        super().__init__()
        self.config = config
        w = list(config.widths)
        # The U-Net works at half the layer grid (a strided stem); its output is upsampled.
        self.stem = nn.Sequential(nn.Conv2d(6, 16, 3, stride=2, padding=1), nn.GELU())
        self.down = nn.ModuleList([_block(16, w[0])] + [_block(a, b) for a, b in zip(w[:-1], w[1:])])
        self.middle = nn.Sequential(nn.Conv2d(w[-1], w[-1], 3, padding=2, dilation=2), nn.GELU(),
                                    nn.Conv2d(w[-1], w[-1], 3, padding=4, dilation=4), nn.GELU())
        self.up = nn.ModuleList([_block(b + a, a) for a, b in zip(w[:-1], w[1:])][::-1])
        self.head = nn.Conv2d(w[0], 2, 1)
        # Start as the classical model: the layer correction begins at zero.
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, image, guess):
        """image: (B, X, Z, 4) uint8 or [0, 1]; guess: (B, 2, X, Z) classical layers in voxels.

        Returns
        -------
        (B, 2, X, Z) front and back in voxels of the layer grid, centred (zero off the matte)
        """
        image = image.float()
        if image.max() > 1.5:
            image = image / 255.0
        image = image.permute(0, 3, 1, 2)
        h = self.stem(torch.cat([image, guess / LAYER_UNIT], 1))
        skips = []
        for i, block in enumerate(self.down):
            h = block(h if i == 0 else F.avg_pool2d(h, 2))
            skips.append(h)
        h = h + self.middle(h)
        for block, skip in zip(self.up, skips[-2::-1]):
            h = block(torch.cat([F.interpolate(h, size=skip.shape[-2:], mode="bilinear", align_corners=False),
                                 skip], 1))
        out = F.interpolate(self.head(h), size=guess.shape[-2:], mode="bilinear", align_corners=False)
        # Corrections of the front and of the thickness. Where the whole object sits along
        # the view is unknowable from one photo; centring (below) fixes it like the targets.
        front = guess[:, 0] + out[:, 0] * LAYER_UNIT
        thickness = (guess[:, 0] + guess[:, 1] + out[:, 1] * LAYER_UNIT).clamp(min=0.0)
        matte = (image[:, 3] >= 0.5).float()
        layers = torch.stack([front, thickness - front], 1) * matte.unsqueeze(1)
        return centre_layers(layers, matte > 0)


def centre_layers(layers, inside):
    """Shift each object along the view so its depth extent is centred on the middle plane.

    That is how training targets and the evaluation place a reconstruction; the shift
    carries no gradient (it depends on a few extreme pixels).
    """
    lowest = torch.finfo(layers.dtype).min
    reach = torch.where(inside.unsqueeze(1), layers, torch.full_like(layers, lowest)).flatten(2).amax(2)  # (B, 2)
    shift = ((reach[:, 0] - reach[:, 1]) / 2).where(inside.flatten(1).any(1), torch.zeros_like(reach[:, 0]))
    shift = shift.detach().view(-1, 1, 1, 1) * torch.tensor([1.0, -1.0], device=layers.device).view(1, 2, 1, 1)
    return (layers - shift) * inside.unsqueeze(1)


def compose_sdf(layers, outline):
    """The solid between the front and back layers inside the silhouette, on the 64^3 grid.

    Parameters
    ----------
    layers : (B, 2, LAYER_GRID, LAYER_GRID) front and back, voxels of the layer grid from the middle plane
    outline : (B, GRID, GRID) signed distance to the silhouette in 64-grid voxels (negative inside)

    Returns
    -------
    (B, GRID, GRID, GRID) SDF (approximate beyond the surface), clipped to +-TRUNCATION
    """
    step = LAYER_GRID // GRID
    half = layers[:, :, ::step, ::step] / step
    y = torch.arange(GRID, dtype=layers.dtype, device=layers.device).view(1, 1, GRID, 1) - GRID / 2
    front = half[:, 0].unsqueeze(2)
    back = half[:, 1].unsqueeze(2)
    sdf = torch.maximum(outline.unsqueeze(2), torch.maximum(-front - y, y - back))
    return sdf.clamp(-TRUNCATION, TRUNCATION)


class ImageEncoder(nn.Module):
    def __init__(self, out_channels: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(4, 24, 3, padding=1), nn.GELU(),
            nn.Conv2d(24, 32, 3, padding=2, dilation=2), nn.GELU(),
            nn.Conv2d(32, 32, 3, padding=4, dilation=4), nn.GELU(),
            nn.Conv2d(32, out_channels, 3, padding=1))

    def forward(self, image):  # (B, 4, X, Z) -> (B, C, X, Z)
        return self.net(image)


class SparseSDFNet(nn.Module):
    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        c = config
        self.encoder = ImageEncoder(c.image_channels)
        coarse_in = 1 + c.image_channels + 1
        self.coarse = nn.Sequential(
            nn.Conv3d(coarse_in, c.coarse_channels, 3, padding=1), nn.GELU(),
            nn.Conv3d(c.coarse_channels, c.coarse_channels, 3, padding=2, dilation=2), nn.GELU(),
            nn.Conv3d(c.coarse_channels, c.coarse_channels, 3, padding=1), nn.GELU())
        self.coarse_head = nn.Conv3d(c.coarse_channels, 1, 1)
        sparse_in = 1 + c.coarse_channels + c.image_channels
        self.sparse_in = nn.Linear(sparse_in, c.sparse_channels)
        self.sparse_convs = nn.ModuleList([SubMConv3d(c.sparse_channels, c.sparse_channels) for _ in range(3)])
        self.sparse_norms = nn.ModuleList([nn.LayerNorm(c.sparse_channels) for _ in range(3)])
        self.sparse_head = nn.Linear(c.sparse_channels, 1)
        # Start as the classical model: both corrections begin at zero.
        for head in (self.coarse_head, self.sparse_head):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, sdf: torch.Tensor, image: torch.Tensor):
        """sdf: (B, 64, 64, 64) the SDF to refine; image: (B, 64, 64, 4) uint8 or float in [0, 1].

        Returns
        -------
        coarse : (B, 32, 32, 32) the dense coarse SDF prediction (in 64-grid voxels)
        fine : (B, 64, 64, 64) SDF: the input, refined in the band around its surface
        sites : (N, 4) long (batch, x, y, z) of the refined voxels
        """
        batch = sdf.shape[0]
        c = self.config
        image = image.float()
        if image.max() > 1.5:
            image = image / 255.0
        pixel = self.encoder(image.permute(0, 3, 1, 2))                       # (B, C, X, Z)
        scaled = sdf.unsqueeze(1) / TRUNCATION                                # (B, 1, X, Y, Z)
        depth = torch.linspace(-1, 1, GRID, device=sdf.device).view(1, 1, 1, GRID, 1)
        pixel_3d = pixel.unsqueeze(3).expand(-1, -1, -1, GRID, -1)            # along depth (y)
        volume = torch.cat([scaled, pixel_3d, depth.expand(batch, 1, GRID, GRID, GRID)], 1)
        features = self.coarse(F.avg_pool3d(volume, 2))
        coarse = F.avg_pool3d(sdf.unsqueeze(1), 2) + self.coarse_head(features) * TRUNCATION
        # The coarse stage's features give the sparse stage context; its SDF is not pasted into
        # the output: a regression that cannot know where hidden parts are would smear them.
        fine = sdf
        up_features = F.interpolate(features, scale_factor=2, mode="trilinear", align_corners=False)
        sites = torch.nonzero(sdf.abs() < c.band)                             # (N, 4): b, x, y, z
        if len(sites):
            b, x, y, z = sites.unbind(1)
            gathered = torch.cat([scaled[b, 0, x, y, z, None], up_features[b, :, x, y, z],
                                  pixel[b, :, x, z]], 1)
            h = F.gelu(self.sparse_in(gathered))
            rules = Rulebook(sites, (GRID, GRID, GRID))
            for conv, norm in zip(self.sparse_convs, self.sparse_norms):
                h = h + F.gelu(norm(conv(h, rules)))
            # Bounded: the sparse stage moves the surface locally, it does not invent parts.
            step = c.max_refinement * torch.tanh(self.sparse_head(h)[:, 0])
            fine = fine.index_put((b, x, y, z), fine[b, x, y, z] + step)
        return coarse[:, 0], fine.clamp(-TRUNCATION, TRUNCATION), sites


def sdf_loss(coarse, fine, sites, target):
    """L1 on the truncated SDF: everywhere at 32^3, and on the refined band at 64^3 (weighted up)."""
    target_coarse = F.avg_pool3d(target.unsqueeze(1), 2)[:, 0]
    loss = (coarse.clamp(-TRUNCATION, TRUNCATION) - target_coarse).abs().mean()
    if len(sites):
        b, x, y, z = sites.unbind(1)
        loss = loss + 2.0 * (fine[b, x, y, z] - target[b, x, y, z]).abs().mean()
    return loss


@dataclass
class NetConfig:
    layers: LayerConfig = field(default_factory=LayerConfig)
    refine: ModelConfig = field(default_factory=ModelConfig)

    @classmethod
    def from_dict(cls, values: dict) -> "NetConfig":
        layers = dict(values.get("layers", {}))
        if "widths" in layers:
            layers["widths"] = tuple(layers["widths"])
        return cls(LayerConfig(**layers), ModelConfig(**values.get("refine", {})))


class ReconstructionNet(nn.Module):
    """The whole learned model: depth layers (2D), then the coarse and sparse SDF stages (3D)."""

    def __init__(self, config: NetConfig = None):
        super().__init__()
        self.config = config = config or NetConfig()
        self.layers = LayerNet(config.layers)
        self.refine = SparseSDFNet(config.refine)

    def forward(self, image, guess, outline):
        """image (B, 128, 128, 4), guess (B, 2, 128, 128), outline (B, 64, 64) per 3D-grid column.

        Returns
        -------
        layers : (B, 2, 128, 128) front and back; composed : (B, 64, 64, 64) SDF from them;
        coarse, fine, sites : the 3D stages' outputs (see SparseSDFNet)
        """
        layers = self.layers(image, guess)
        return (layers, *self.refine_layers(layers, image, outline))

    def refine_layers(self, layers, image, outline):
        """The 3D stages on given layers: (composed SDF, coarse, fine, sites)."""
        composed = compose_sdf(layers, outline)
        small = F.avg_pool2d(image.float().permute(0, 3, 1, 2), LAYER_GRID // GRID).permute(0, 2, 3, 1)
        return (composed, *self.refine(composed, small))


def layer_loss(layers, truth, hit):
    """How far the predicted front and thickness are from the truth, where the ray meets the object.

    The front is compared up to one shift along the view per object (its median offset):
    the network should learn the front's shape and where its parts lie relative to each
    other, not the object's placement, which no photo shows. Units: LAYER_UNIT voxels.
    """
    weight = hit.float()
    count = weight.flatten(1).sum(1).clamp(min=1.0)
    error = (layers[:, 0] - truth[:, 0]) / LAYER_UNIT
    shifts = torch.stack([e[h].median() if h.any() else e.new_zeros(()) for e, h in zip(error.detach(), hit)])
    front = ((error - shifts.view(-1, 1, 1)).abs() * weight).flatten(1).sum(1) / count
    thickness = (((layers.sum(1) - truth.sum(1)) / LAYER_UNIT).abs() * weight).flatten(1).sum(1) / count
    return (front + thickness).mean()
