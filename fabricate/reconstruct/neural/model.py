"""Direct3D-S2-mini: coarse dense SDF correction, then sparse refinement near the surface.

Inputs live on the classical model's 64^3 grid (x = photo right, y = depth, z = photo up):
the classical SDF and the photo's colours and matte, which project straight onto
every voxel of their column (the camera is orthographic: pixel-aligned features).

1. Image encoder: a small 2D CNN over the 64x64 photo map -> 16 features per pixel.
2. Coarse stage: at 32^3, dense 3D convolutions over [classical SDF, pixel features,
   depth position] predict a correction of the classical SDF.
3. Sparse stage: at 64^3, only voxels within a narrow band of the coarse surface are
   kept; submanifold sparse convolutions (spconv, or the pure-torch backend) over
   [classical SDF, coarse features, pixel features] predict the final correction.
Output: the SDF at 64^3 (voxels of that grid), truncated at +-4.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fabricate.reconstruct.neural.data import GRID, TRUNCATION
from fabricate.reconstruct.neural.sparse_conv import Rulebook, SubMConv3d


@dataclass
class ModelConfig:
    image_channels: int = 16
    coarse_channels: int = 24
    sparse_channels: int = 16
    band: float = 1.5  # voxels (64 grid) around the coarse surface refined by the sparse stage


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

    def forward(self, classical: torch.Tensor, image: torch.Tensor):
        """classical: (B, 64, 64, 64) SDF; image: (B, 64, 64, 4) uint8 or float in [0, 1].

        Returns
        -------
        coarse : (B, 32, 32, 32) SDF at the coarse grid (in 64-grid voxels)
        fine : (B, 64, 64, 64) SDF: the coarse result upsampled, refined in the band
        sites : (N, 4) long (batch, x, y, z) of the refined voxels
        """
        batch = classical.shape[0]
        c = self.config
        image = image.float()
        if image.max() > 1.5:
            image = image / 255.0
        pixel = self.encoder(image.permute(0, 3, 1, 2))                       # (B, C, X, Z)
        scaled = classical.unsqueeze(1) / TRUNCATION                          # (B, 1, X, Y, Z)
        depth = torch.linspace(-1, 1, GRID, device=classical.device).view(1, 1, 1, GRID, 1)
        pixel_3d = pixel.unsqueeze(3).expand(-1, -1, -1, GRID, -1)            # along depth (y)
        volume = torch.cat([scaled, pixel_3d, depth.expand(batch, 1, GRID, GRID, GRID)], 1)
        coarse_in = F.avg_pool3d(volume, 2)
        features = self.coarse(coarse_in)
        correction = self.coarse_head(features) * TRUNCATION                   # (B, 1, 32, 32, 32)
        coarse = F.avg_pool3d(classical.unsqueeze(1), 2) + correction
        # The fine SDF is the classical one plus the upsampled coarse correction, refined in the band.
        fine = classical + F.interpolate(correction, scale_factor=2, mode="trilinear", align_corners=False)[:, 0]
        up_features = F.interpolate(features, scale_factor=2, mode="trilinear", align_corners=False)
        band = (fine.abs() < c.band) | (classical.abs() < c.band)
        sites = torch.nonzero(band)                                           # (N, 4): b, x, y, z
        if len(sites):
            b, x, y, z = sites.unbind(1)
            gathered = torch.cat([scaled[b, 0, x, y, z, None], up_features[b, :, x, y, z],
                                  pixel[b, :, x, z]], 1)
            h = F.gelu(self.sparse_in(gathered))
            rules = Rulebook(sites, (GRID, GRID, GRID))
            for conv, norm in zip(self.sparse_convs, self.sparse_norms):
                h = h + F.gelu(norm(conv(h, rules)))
            fine = fine.index_put((b, x, y, z), fine[b, x, y, z] + self.sparse_head(h)[:, 0] * TRUNCATION)
        return coarse[:, 0], fine.clamp(-TRUNCATION, TRUNCATION), sites


def sdf_loss(coarse, fine, sites, target):
    """L1 on the truncated SDF: everywhere at 32^3, and on the refined band at 64^3 (weighted up)."""
    target_coarse = F.avg_pool3d(target.unsqueeze(1), 2)[:, 0]
    loss = (coarse.clamp(-TRUNCATION, TRUNCATION) - target_coarse).abs().mean()
    if len(sites):
        b, x, y, z = sites.unbind(1)
        loss = loss + 2.0 * (fine[b, x, y, z] - target[b, x, y, z]).abs().mean()
    return loss
