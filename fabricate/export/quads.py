"""A quad-dominant mesh for editing: a field-aligned remesh of the finished solid, its colours carried over.

Instant Meshes (Jakob et al. 2015) through ``pynanoinstantmeshes``: the remesher is BSD-3
(its ``native/LICENSE.txt``), and what the wheel bundles is permissive too: TBB 2020.2
(Apache-2.0), dset (zlib), pss (BSD), rply (MIT), and only Eigen's Core and Geometry
modules (MPL-2.0; none of Eigen's LGPL files). No GPL code: the product is MIT.

Instant Meshes extracts a mostly-quad mesh and splits every face into quads once more,
so its output is all quads. It can leave holes at sharp features (its author calls it a
limitation), so the result is checked closed (every edge in exactly two faces, each
direction once); a remesh that is not is retried at a finer resolution and, failing
that, refused with a :class:`~fabricate.errors.MeshError` rather than written open.
The 3MF stays triangles.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from fabricate.errors import MeshError
from fabricate.mesh.coloured_mesh import ColouredMesh

#: Quads in the remesh: Instant Meshes aims at a vertex count and splits each face into four.
DEFAULT_QUADS = 20_000
#: Instant Meshes' output has about four faces per vertex it aimed at.
QUADS_PER_TARGET_VERTEX = 4
#: Resolutions tried, as factors of the aimed vertex count, until the remesh comes out closed.
RETRY_FACTORS = (1.0, 1.3, 1.7)


@dataclass
class QuadMesh:
    """Polygons of three or four corners (``faces`` (m, 4); a triangle repeats its last corner)."""

    vertices: np.ndarray
    faces: np.ndarray
    vertex_colours: np.ndarray

    @property
    def corner_counts(self) -> np.ndarray:
        """(m,) 3 or 4: the distinct corners of each face."""
        return np.where(self.faces[:, 3] == self.faces[:, 2], 3, 4)

    @property
    def quad_share(self) -> float:
        return float((self.corner_counts == 4).mean()) if len(self.faces) else 0.0

    def triangles(self) -> np.ndarray:
        """(t, 3) the faces split into triangles, each quad along a diagonal that is not already an edge."""
        return split_polygons(self.faces)


def split_polygons(polygons: np.ndarray) -> np.ndarray:
    """(t, 3) triangles of (m, 4) polygons: a quad along its 0-2 diagonal, or 1-3 where 0-2 is an edge elsewhere
    or another quad's diagonal too (quads can share two opposite corners; that split would join four
    triangles at one edge)."""
    quads = polygons[:, 3] != polygons[:, 2]
    edges = polygon_edges(polygons)
    n = max(int(polygons.max()) + 1, 1) if len(polygons) else 1
    known = np.unique(np.minimum(edges[:, 0], edges[:, 1]).astype(np.int64) * n + np.maximum(edges[:, 0], edges[:, 1]))
    a, c = polygons[:, 0], polygons[:, 2]
    diagonal = np.minimum(a, c).astype(np.int64) * n + np.maximum(a, c)
    _, first, counts = np.unique(np.where(quads, diagonal, -1), return_inverse=True, return_counts=True)
    taken = np.isin(diagonal, known) | (counts[first.ravel()] > 1)
    turned = quads & taken
    rotated = np.where(turned[:, None], np.roll(polygons, -1, axis=1), polygons)
    return np.concatenate([rotated[:, [0, 1, 2]], rotated[quads][:, [0, 2, 3]]])


def polygon_edges(faces: np.ndarray) -> np.ndarray:
    """(e, 2) directed edges of polygons given as (m, 4) with a repeated last corner for triangles."""
    edges = np.stack([faces, np.roll(faces, -1, axis=1)], axis=-1).reshape(-1, 2)
    return edges[edges[:, 0] != edges[:, 1]]


def open_edges(faces: np.ndarray) -> int:
    """Directed edges without exactly one reverse twin, or used more than once (0 for a closed, oriented surface)."""
    edges = polygon_edges(faces)
    if len(edges) == 0:
        return 0
    n = int(edges.max()) + 1
    forward = edges[:, 0].astype(np.int64) * n + edges[:, 1]
    backward = edges[:, 1].astype(np.int64) * n + edges[:, 0]
    keys, counts = np.unique(forward, return_counts=True)
    repeated = int((counts > 1).sum())
    twinned = np.isin(backward, keys)
    return repeated + int((~twinned).sum())


def canonical_polygons(faces: np.ndarray) -> np.ndarray:
    """Faces with repeated corners collapsed: a quad with two equal corners becomes a triangle (last corner repeated);
    faces with fewer than three distinct corners are dropped."""
    kept = []
    for face in faces:
        distinct = [int(v) for i, v in enumerate(face) if v != face[i - 1]]
        if len(distinct) >= 3 and len(set(distinct)) == len(distinct):
            kept.append(distinct + [distinct[-1]] * (4 - len(distinct)))
    return np.asarray(kept, np.int64).reshape(-1, 4)


@contextlib.contextmanager
def quiet_native_output():
    """Instant Meshes prints its progress to the process's standard output: hide it for the call."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _signed_volume(vertices: np.ndarray, triangles: np.ndarray) -> float:
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


#: A closed piece enclosing less than this share of the whole is a sliver (Instant Meshes can
#: leave a quad and its mirror image back to back): dropped, which opens nothing.
SLIVER_VOLUME_SHARE = 1e-6


def without_slivers(vertices: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """``polygons`` without the closed pieces that enclose (next to) no volume."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = polygon_edges(polygons)
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(len(vertices),) * 2)
    _, label = connected_components(graph, directed=False)
    piece = label[polygons[:, 0]]
    quads = polygons[:, 3] != polygons[:, 2]
    triangles = split_polygons(polygons)
    triangle_piece = np.concatenate([piece, piece[quads]])
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    volume = np.bincount(triangle_piece, np.einsum("ij,ij->i", a, np.cross(b, c)) / 6.0, minlength=label.max() + 1)
    keep = np.abs(volume) > SLIVER_VOLUME_SHARE * np.abs(volume).sum()
    return polygons[keep[piece]]


def quad_remesh(mesh: ColouredMesh, quads: int = DEFAULT_QUADS) -> QuadMesh:
    """A closed, outward-oriented, quad-dominant remesh of the closed solid ``mesh`` with its colours.

    Raises
    ------
    MeshError
        Every resolution tried left holes or non-manifold edges.
    """
    import pynanoinstantmeshes

    from fabricate.export.textured import surface_colour_lookup

    vertices = np.ascontiguousarray(mesh.vertices, np.float32)
    faces = np.ascontiguousarray(mesh.faces, np.uint32)
    aimed = max(int(quads) // QUADS_PER_TARGET_VERTEX, 16)
    problems = []
    for factor in RETRY_FACTORS:
        with quiet_native_output():
            out_vertices, out_faces = pynanoinstantmeshes.remesh(vertices, faces, int(aimed * factor),
                                                                 deterministic=True)
        out_vertices = np.asarray(out_vertices, np.float64)
        polygons = canonical_polygons(np.asarray(out_faces, np.int64))
        if len(polygons):
            polygons = without_slivers(out_vertices, polygons)
        used = np.unique(polygons)
        remap = np.full(len(out_vertices), -1, np.int64)
        remap[used] = np.arange(len(used))
        polygons, out_vertices = remap[polygons], out_vertices[used]
        broken = open_edges(polygons)
        if broken == 0 and len(polygons):
            result = QuadMesh(out_vertices, polygons, np.zeros((len(out_vertices), 3), np.uint8))
            if _signed_volume(out_vertices, result.triangles()) < 0:
                # Reversed, a triangle (a, b, c, c) reads (c, c, b, a): collapsed again to (c, b, a, a).
                result.faces = canonical_polygons(polygons[:, ::-1])
            colours = surface_colour_lookup(mesh)(out_vertices)
            result.vertex_colours = np.clip(np.round(colours), 0, 255).astype(np.uint8)
            return result
        problems.append(f"{broken} open or non-manifold edges at {int(aimed * factor)} target vertices")
    raise MeshError("the quad remesh did not come out closed (" + "; ".join(problems) + "); the 3MF and the "
                    "triangle formats are unaffected")


def write_quad_obj(path, mesh: ColouredMesh, quads: int = DEFAULT_QUADS) -> str:
    """``NAME.quad.obj``: the quad-dominant remesh, faces of four (or three) corners, vertex colours as
    ``v x y z r g b`` (read by Blender, MeshLab and trimesh); appears only once complete."""
    from fabricate.atomic import write_bytes_atomic

    remeshed = quad_remesh(mesh, quads)
    counts = remeshed.corner_counts
    lines = [f"# fabricate quad-dominant mesh: {int((counts == 4).sum())} quads, {int((counts == 3).sum())} "
             "triangles, millimetres, vertex colours in 0..1"]
    colours = remeshed.vertex_colours / 255.0
    lines += [f"v {x:.5f} {y:.5f} {z:.5f} {r:.4f} {g:.4f} {b:.4f}"
              for (x, y, z), (r, g, b) in zip(remeshed.vertices, colours)]
    for face, count in zip(remeshed.faces + 1, counts):
        lines.append("f " + " ".join(str(int(v)) for v in face[:count]))
    write_bytes_atomic(path, ("\n".join(lines) + "\n").encode())
    return os.fspath(path)
