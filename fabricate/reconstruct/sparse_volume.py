"""A sparse narrow-band signed-distance volume and its surface extraction.

Only 8^3-sample blocks near the surface are allocated (as in Direct3D-S2's sparse
volumes); every other block is known to lie wholly inside or outside and stores
one sign in a coarse grid. Memory therefore grows with the surface area, not the
volume: resolution 1024 fits in a few hundred MB.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from skimage.measure import marching_cubes

#: Samples per block edge.
BLOCK = 8
#: Blocks per chunk edge for surface extraction (one marching-cubes call each).
CHUNK_BLOCKS = 4
#: Samples closer than this to the iso-level are nudged away from it, so marching
#: cubes never puts a vertex on a sample and shared vertices weld exactly.
LEVEL_GAP = 0.01


@dataclass
class SparseSDF:
    """Signed distance (negative inside, in voxels) on a sparse block grid.

    Attributes
    ----------
    shape : (3,) int
        Number of samples along x, y, z (multiples of ``BLOCK``).
    block_coords : (B, 3) int32
        Block index of every allocated block.
    block_values : (B, 8, 8, 8) float32
        Distances at the samples of each allocated block, indexed [x, y, z].
    coarse_sign : (nbx, nby, nbz) int8
        For unallocated blocks, -1 when wholly inside and +1 when outside.
    fill : float
        Magnitude stored for samples of unallocated blocks (the band width).
    voxel_size : float
        Size of one voxel in model units.
    """

    shape: tuple
    block_coords: np.ndarray
    block_values: np.ndarray
    coarse_sign: np.ndarray
    fill: float
    voxel_size: float = 1.0

    @property
    def nbytes(self) -> int:
        return int(self.block_coords.nbytes + self.block_values.nbytes + self.coarse_sign.nbytes)

    @property
    def block_grid(self) -> tuple:
        return tuple(int(s) // BLOCK for s in self.shape)

    @classmethod
    def from_function(
        cls,
        shape,
        candidate_blocks: np.ndarray,
        coarse_sign: np.ndarray,
        sdf: Callable[[np.ndarray], np.ndarray],
        fill: float,
        voxel_size: float = 1.0,
        batch_blocks: int = 4096,
        report: Optional[Callable[[float], None]] = None,
    ) -> "SparseSDF":
        """Evaluate ``sdf`` only on ``candidate_blocks``.

        Parameters
        ----------
        shape
            Samples along x, y, z.
        candidate_blocks : (B, 3) int
            Blocks that may contain the surface.
        coarse_sign : (nbx, nby, nbz) int8
            Sign of each block (used where a block is not allocated).
        sdf
            Maps ``(B, 8, 8, 8, 3)`` integer sample positions (x, y, z) to distances; when it has a
            ``blocks(coords)`` method (``(B, 3)`` block indices to ``(B, 8, 8, 8)`` distances at
            their samples, the same values), that is used.
        fill
            Value magnitude for unallocated samples.
        batch_blocks
            Blocks evaluated per call, bounding temporary memory.
        report
            Optional progress callback with a fraction in [0, 1].
        """
        coords = np.asarray(candidate_blocks, np.int32).reshape(-1, 3)
        offsets = np.stack(np.meshgrid(*(np.arange(BLOCK),) * 3, indexing="ij"), axis=-1).astype(np.int32)
        values = np.empty((len(coords), BLOCK, BLOCK, BLOCK), np.float32)
        lowest = np.empty(len(coords), np.float32)
        highest = np.empty(len(coords), np.float32)
        by_blocks = getattr(sdf, "blocks", None)  # a field that evaluates whole blocks at once
        for start in range(0, len(coords), batch_blocks):
            part = coords[start:start + batch_blocks]
            batch = values[start:start + batch_blocks]
            batch[...] = by_blocks(part) if by_blocks is not None else sdf(part[:, None, None, None, :] * BLOCK
                                                                           + offsets[None])
            lowest[start:start + batch_blocks] = batch.min(axis=(1, 2, 3))
            highest[start:start + batch_blocks] = batch.max(axis=(1, 2, 3))
            if report is not None:
                report(min(1.0, (start + batch_blocks) / max(len(coords), 1)))
        # A block the function proves to be wholly on one side, farther than ``fill`` from the
        # surface, needs no storage. (Off the surface the nearest sample is the lowest value
        # outside, the highest inside.)
        straddles = (lowest < 0) & (highest > 0)
        keep = straddles | ((lowest >= 0) & (lowest < fill)) | ((highest <= 0) & (-highest < fill))
        keep &= ~_untouched_by_the_surface(coords, values, lowest, highest, coarse_sign)
        coarse_sign = coarse_sign.copy()
        dropped = coords[~keep]
        coarse_sign[tuple(dropped.T)] = np.where(values[~keep, 0, 0, 0] < 0, -1, 1)
        return cls(tuple(int(s) for s in shape), coords[keep], values[keep], coarse_sign, float(fill), voxel_size)

    def _block_index(self) -> np.ndarray:
        index = np.full(self.block_grid, -1, np.int64)
        index[tuple(self.block_coords.T)] = np.arange(len(self.block_coords))
        return index

    def to_dense(self) -> np.ndarray:
        """The full ``shape`` array (for tests and small volumes only)."""
        sign = np.repeat(np.repeat(np.repeat(self.coarse_sign, BLOCK, 0), BLOCK, 1), BLOCK, 2)
        dense = sign.astype(np.float32) * self.fill
        for (bx, by, bz), block in zip(self.block_coords, self.block_values):
            dense[bx * BLOCK:(bx + 1) * BLOCK, by * BLOCK:(by + 1) * BLOCK, bz * BLOCK:(bz + 1) * BLOCK] = block
        return dense

    def extract_surface(self, report: Optional[Callable[[float], None]] = None):
        """Marching cubes over the allocated blocks, chunk by chunk.

        Chunks share their boundary samples, so a vertex on a chunk face is produced
        by both neighbours from the same grid edge; vertices are welded by that edge's
        identity, giving one closed mesh without any dense volume.

        Returns
        -------
        vertices : (n, 3) float64
            In model units (voxel index times ``voxel_size``).
        faces : (m, 3) int64
            Triangles wound counter-clockwise seen from outside.
        """
        index = self._block_index()
        grid = np.array(self.block_grid)
        chunks = np.unique(self.block_coords // CHUNK_BLOCKS, axis=0)
        # A chunk also needs the first sample of the next chunk along each axis.
        span = CHUNK_BLOCKS + 1
        sign_fill = self.coarse_sign.astype(np.float32) * self.fill
        keys_all, verts_all, faces_all = [], [], []
        vertex_count = 0
        for n, chunk in enumerate(chunks):
            b0 = chunk * CHUNK_BLOCKS
            b1 = np.minimum(b0 + span, grid)
            dims = (b1 - b0) * BLOCK
            sub_index = index[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
            sub_fill = sign_fill[b0[0]:b1[0], b0[1]:b1[1], b0[2]:b1[2]]
            # The chunk's samples in one gather: each block's values, or its side's fill value.
            blocks = np.where((sub_index >= 0)[..., None, None, None], self.block_values[np.maximum(sub_index, 0)],
                              sub_fill[..., None, None, None])
            local = blocks.transpose(0, 3, 1, 4, 2, 5).reshape(tuple(dims))
            cells = np.minimum(CHUNK_BLOCKS * BLOCK + 1, dims)
            local = np.ascontiguousarray(local[:cells[0], :cells[1], :cells[2]])
            if local.min() >= 0 or local.max() <= 0 or min(local.shape) < 2:
                continue
            near = np.abs(local) < LEVEL_GAP
            local[near] = np.where(local[near] < 0, -LEVEL_GAP, LEVEL_GAP)
            verts, faces, _, _ = marching_cubes(local, 0.0, allow_degenerate=False)
            verts = verts.astype(np.float64)
            rounded = np.round(verts)
            axis = np.argmax(np.abs(verts - rounded), axis=1)
            base = rounded.astype(np.int64)
            rows = np.arange(len(verts))
            base[rows, axis] = np.floor(verts[rows, axis]).astype(np.int64)
            base += b0 * BLOCK
            key = ((base[:, 0] * (grid[1] * BLOCK + 1) + base[:, 1]) * (grid[2] * BLOCK + 1) + base[:, 2]) * 3 + axis
            # Lewiner's method adds vertices inside some ambiguous cells; they lie on no
            # grid edge, are never shared, and get keys of their own (negative).
            interior = (np.abs(verts - rounded) > 1e-4).sum(axis=1) > 1
            key[interior] = -1 - (vertex_count + np.flatnonzero(interior))
            keys_all.append(key)
            verts_all.append(verts + b0 * BLOCK)
            faces_all.append(faces.astype(np.int64) + vertex_count)
            vertex_count += len(verts)
            if report is not None and n % 16 == 0:
                report(n / len(chunks))
        if not faces_all:
            return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
        keys = np.concatenate(keys_all)
        unique_keys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        vertices = np.concatenate(verts_all)[first] * self.voxel_size
        faces = inverse[np.concatenate(faces_all)]
        if report is not None:
            report(1.0)
        return vertices, np.ascontiguousarray(faces)


def _untouched_by_the_surface(coords: np.ndarray, values: np.ndarray, lowest: np.ndarray, highest: np.ndarray,
                              coarse_sign: np.ndarray) -> np.ndarray:
    """Which evaluated blocks no marching-cubes cell with a sign change touches.

    Extraction classifies samples by ``value < 0`` (LEVEL_GAP keeps that). A block whose
    samples are all on one side matters only through the cells it shares with its 26
    neighbours, which also read the one-sample layer of each neighbour facing it (a face,
    an edge or a corner). When every such sample is on the block's side too, no cell it
    touches holds surface: storing its side (as coarse_sign) instead of its values leaves
    the extracted surface exactly the same, bit for bit. A neighbour's facing layer has the
    same sides whether or not that neighbour is stored, so the blocks are judged independently.
    """
    grid = np.array(coarse_sign.shape)
    negative = highest < 0
    one_side = negative | (lowest >= 0)
    if not one_side.any():
        return one_side
    index = np.full(tuple(grid), -1, np.int64)
    index[tuple(coords.T)] = np.arange(len(coords))
    touched = np.zeros(len(coords), bool)
    judged = np.flatnonzero(one_side)
    own = coords[judged].astype(np.int64)
    layer = {1: slice(0, 1), -1: slice(BLOCK - 1, BLOCK), 0: slice(None)}  # the neighbour's side facing us
    for step in np.ndindex(3, 3, 3):
        d = np.array(step) - 1
        if not d.any():
            continue
        facing = values[:, layer[d[0]], layer[d[1]], layer[d[2]]] < 0
        any_negative = facing.any(axis=(1, 2, 3))
        all_negative = facing.all(axis=(1, 2, 3))
        other = own + d
        inside = np.all((other >= 0) & (other < grid), axis=1)
        rows, other = judged[inside], other[inside]
        neighbour = index[tuple(other.T)]
        stored = neighbour >= 0
        side_negative = coarse_sign[tuple(other.T)] < 0
        some_negative = np.where(stored, any_negative[np.maximum(neighbour, 0)], side_negative)
        every_negative = np.where(stored, all_negative[np.maximum(neighbour, 0)], side_negative)
        touched[rows] |= np.where(negative[rows], ~every_negative, some_negative)
    return one_side & ~touched
