"""A sparse narrow-band signed-distance volume and its surface extraction.

Only 8^3-sample blocks near the surface are allocated (as in Direct3D-S2's sparse
volumes); every other block is known to lie wholly inside or outside and stores
one sign in a coarse grid. Memory therefore grows with the surface area, not the
volume: resolution 1024 fits in a few hundred MB.
"""
from __future__ import annotations

import ctypes
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

import numpy as np

from fabricate.compiled import array, library

from .cube_table import edge_table, triangle_table

#: Samples per block edge.
BLOCK = 8
#: Threads that extract a surface, each a range of blocks (the compiled loops release the GIL).
EXTRACTION_THREADS = max(1, min(4, os.cpu_count() or 1))
#: Samples closer than this to the iso-level are nudged away from it, so marching
#: cubes never puts a vertex on a sample (two vertices never coincide).
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
        """Marching cubes over the allocated blocks, welded by grid edge as it goes.

        The cells processed are those of the allocated blocks and of the blocks just below
        them on any axis (whose cells reach into an allocated block), and of unallocated blocks
        below one of the other side; each vertex is made once,
        by the block owning its grid edge, so the mesh is closed without any dense volume or
        any welding by position. The triangles come from ``cube_table.triangle_table``.

        Returns
        -------
        vertices : (n, 3) float64
            In model units (voxel index times ``voxel_size``).
        faces : (m, 3) int64
            Triangles wound counter-clockwise seen from outside.
        """
        grid = np.array(self.block_grid, np.int64)
        index = self._block_index()
        marked = np.zeros(tuple(grid), bool)
        for d in np.ndindex(2, 2, 2):
            lower = self.block_coords - np.array(d, np.int32)
            marked[tuple(lower[(lower >= 0).all(axis=1)].T)] = True
        # Two unallocated neighbours of opposite sides (a field that jumps past its band) meet
        # in a flat wall of cells, which the lower block's cells close: a boxy patch, not a hole.
        unallocated = index < 0
        for d in list(np.ndindex(2, 2, 2))[1:]:
            lower = tuple(slice(0, g - step) for g, step in zip(grid, d))
            upper = tuple(slice(step, None) for step in d)
            marked[lower] |= unallocated[lower] & unallocated[upper] & (self.coarse_sign[lower] != self.coarse_sign[upper])
        blocks = np.ascontiguousarray(np.argwhere(marked), np.int32)
        if not len(blocks):
            return np.zeros((0, 3)), np.zeros((0, 3), np.int64)
        row = np.full(tuple(grid), -1, np.int64)
        row[tuple(blocks.T)] = np.arange(len(blocks))
        neighbour = np.full((len(blocks), 8), -1, np.int64)
        for d, (dx, dy, dz) in enumerate((x, y, z) for z in (0, 1) for y in (0, 1) for x in (0, 1)):
            upper = blocks + np.array((dx, dy, dz), np.int32)
            inside = (upper < grid).all(axis=1)
            neighbour[inside, d] = row[tuple(upper[inside].T)]
        volume = (grid, index.reshape(-1), np.ascontiguousarray(self.block_values, np.float32).reshape(-1),
                  np.ascontiguousarray(self.coarse_sign, np.int8).reshape(-1), float(self.fill), LEVEL_GAP)
        table, edges = triangle_table(), edge_table()
        compiled = _extractor()
        vertex_count = np.empty(len(blocks), np.int64)
        triangle_count = np.empty(len(blocks), np.int64)
        patterns = np.empty((len(blocks), BLOCK, BLOCK, BLOCK), np.uint8)
        words = 3 * BLOCK ** 3 // 64  # one bit per edge a block owns
        crossing = np.empty((len(blocks), words), np.uint64)
        before = np.empty((len(blocks), words), np.uint16)
        ranges = np.linspace(0, len(blocks), EXTRACTION_THREADS + 1).astype(np.int64)
        ranges = list(zip(ranges[:-1], ranges[1:]))
        with ThreadPoolExecutor(len(ranges), thread_name_prefix="extract") as pool:
            def each_range(function, *arguments):
                return list(pool.map(lambda first_last: function(*first_last, *arguments), ranges))

            each_range(compiled.nb_count, *volume, blocks, table, table.shape[1], vertex_count, triangle_count,
                       patterns, crossing, before)
            vertex_start = np.concatenate([[0], np.cumsum(vertex_count)])
            triangle_start = np.concatenate([[0], np.cumsum(triangle_count)])
            vertices = np.empty((int(vertex_start[-1]), 3), np.float64)
            faces = np.empty((int(triangle_start[-1]), 3), np.int64)
            each_range(compiled.nb_vertices, *volume, blocks, vertex_start, vertex_count, crossing,
                       float(self.voxel_size), vertices)
            if report is not None:
                report(0.5)
            failed = each_range(compiled.nb_faces, neighbour, patterns, table, table.shape[1], edges, triangle_start,
                                triangle_count, vertex_start, crossing, before, faces)
        if any(failed):  # a sign change next to a block the band does not hold: the volume is malformed
            raise ValueError("the sparse volume's surface leaves its allocated blocks")
        if report is not None:
            report(1.0)
        return vertices, faces


@lru_cache(maxsize=1)
def _extractor() -> ctypes.CDLL:
    """The compiled extractor (``_narrowband.c``), its functions typed for numpy arrays."""
    compiled = library("fabricate.reconstruct._narrowband")
    block_range = [ctypes.c_int64, ctypes.c_int64]
    volume = block_range + [array(np.int64), array(np.int64), array(np.float32), array(np.int8), ctypes.c_float,
                            ctypes.c_float, array(np.int32)]
    compiled.nb_count.argtypes = volume + [array(np.int8), ctypes.c_int, array(np.int64), array(np.int64),
                                           array(np.uint8), array(np.uint64), array(np.uint16)]
    compiled.nb_count.restype = None
    compiled.nb_vertices.argtypes = volume + [array(np.int64), array(np.int64), array(np.uint64), ctypes.c_double,
                                              array(np.float64)]
    compiled.nb_vertices.restype = None
    compiled.nb_faces.argtypes = block_range + [array(np.int64), array(np.uint8), array(np.int8), ctypes.c_int,
                                                array(np.int8), array(np.int64), array(np.int64), array(np.int64),
                                                array(np.uint64), array(np.uint16), array(np.int64)]
    compiled.nb_faces.restype = ctypes.c_int
    return compiled


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
