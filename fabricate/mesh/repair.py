"""Repair broken meshes into closed, outward-oriented 2-manifolds."""
from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import breadth_first_order
from scipy.spatial import cKDTree

from fabricate.errors import MeshError
from fabricate.mesh.boundary_loops import boundary_loops
from fabricate.mesh.coloured_mesh import ColouredMesh
from fabricate.mesh.validate import signed_volume, validate_mesh

#: Grid resolution of the winding-number re-mesh, the repair of last resort.
REMESH_RESOLUTION = 160


def merge_close_vertices(mesh: ColouredMesh, tolerance: float = 1e-6) -> ColouredMesh:
    """Weld vertices closer than ``tolerance`` times the mesh size (STL triangle soups)."""
    scale = float(np.max(mesh.extents)) or 1.0
    keys = np.round(mesh.vertices / (tolerance * scale)).astype(np.int64)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    faces = inverse.ravel()[mesh.faces]
    colours = None if mesh.vertex_colours is None else mesh.vertex_colours[first]
    return mesh.copy(vertices=mesh.vertices[first], faces=faces, vertex_colours=colours)


def remove_bad_faces(mesh: ColouredMesh) -> ColouredMesh:
    """Drop degenerate triangles and every copy but one of duplicated triangles."""
    f = mesh.faces
    s = np.sort(f, axis=1)
    distinct = (s[:, 0] != s[:, 1]) & (s[:, 1] != s[:, 2])
    tri = mesh.vertices[f]
    area = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    scale = float(np.max(mesh.extents)) or 1.0
    keep = distinct & (area > 1e-12 * scale * scale)
    n = len(mesh.vertices)
    keys = (s[:, 0] * n + s[:, 1]) * n + s[:, 2]
    _, first = np.unique(keys, return_index=True)
    unique_mask = np.zeros(len(f), bool)
    unique_mask[first] = True
    keep &= unique_mask
    face_colours = None if mesh.face_colours is None else mesh.face_colours[keep]
    return mesh.with_faces(f[keep], face_colours)


def orient_consistently(mesh: ColouredMesh) -> ColouredMesh:
    """Flip triangles so neighbours agree, then turn each part outward (positive volume).

    Neighbours across a manifold edge agree when they traverse it in opposite
    directions; a breadth-first tree per part propagates the required flips.
    """
    f = mesh.faces.copy()
    m = len(f)
    topology = mesh.topology
    edges = topology.edges
    a, b = topology.edge_face_pairs  # directed-edge rows sharing an edge
    same_direction = (edges[a, 0] == edges[b, 0]).astype(np.int8)
    fa, fb = a // 3, b // 3
    graph = sparse.csr_matrix((same_direction.astype(np.float64) + 1.0, (fa, fb)), shape=(m, m))
    graph = graph + graph.T
    flip = np.zeros(m, bool)
    seen = np.zeros(m, bool)
    for root in range(m):
        if seen[root]:
            continue
        nodes, preds = breadth_first_order(graph, root, directed=False, return_predecessors=True)
        seen[nodes] = True
        parity = np.asarray(graph[preds[nodes[1:]], nodes[1:]]).ravel() > 1.5
        for node, pred, odd in zip(nodes[1:], preds[nodes[1:]], parity):
            flip[node] = flip[pred] ^ odd
    f[flip] = f[flip][:, ::-1]
    labels = topology.face_components  # flipping keeps every face's vertices: the same parts
    for label in np.unique(labels):
        part = labels == label
        if signed_volume(mesh.vertices, f[part]) < 0:
            f[part] = f[part][:, ::-1]
    return mesh.copy(faces=f)


def fill_holes(mesh: ColouredMesh) -> ColouredMesh:
    """Close every boundary loop with a fan around its centroid."""
    loops = boundary_loops(mesh.faces, len(mesh.vertices), mesh.topology)
    if not loops:
        return mesh
    vertices, colours, faces = [mesh.vertices], [mesh.vertex_colours], [mesh.faces]
    face_colours = [] if mesh.face_colours is not None else None
    next_index = len(mesh.vertices)
    for loop in loops:
        centre = mesh.vertices[loop].mean(axis=0)
        vertices.append(centre[None])
        if mesh.vertex_colours is not None:
            colours.append(np.round(mesh.vertex_colours[loop].mean(axis=0))[None].astype(np.uint8))
        # Boundary edge a->b belongs to an existing face; the patch must use b->a.
        fan = np.stack([np.roll(loop, -1), loop, np.full(len(loop), next_index)], axis=1)
        faces.append(fan)
        if face_colours is not None:
            face_colours.append(np.repeat(np.round(mesh.vertex_colours[loop].mean(axis=0)
                                                   if mesh.vertex_colours is not None else
                                                   [200, 200, 200])[None].astype(np.uint8), len(fan), axis=0))
        next_index += 1
    return mesh.copy(
        vertices=np.concatenate(vertices), faces=np.concatenate(faces),
        vertex_colours=None if mesh.vertex_colours is None else np.concatenate(colours),
        face_colours=None if face_colours is None else np.concatenate([mesh.face_colours] + face_colours))


def remesh_by_winding_number(mesh: ColouredMesh, resolution: int = REMESH_RESOLUTION) -> ColouredMesh:
    """Rebuild the surface as the 0.5 level set of the generalized winding number.

    Robust to holes, fins, flipped patches, self-intersections and overlapping parts;
    it loses detail below one grid cell. Colours come from the nearest input vertex.
    """
    import igl
    from skimage.measure import marching_cubes

    lo, hi = mesh.bounds
    size = float(np.max(hi - lo)) or 1.0
    step = size / (resolution - 8)
    origin = lo - 4 * step
    dims = np.ceil((hi - lo) / step).astype(int) + 9
    axes = [origin[i] + step * np.arange(dims[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    winding = igl.fast_winding_number(np.ascontiguousarray(mesh.vertices), np.ascontiguousarray(mesh.faces),
                                      grid).reshape(tuple(dims))
    field = ndimage.gaussian_filter(np.abs(winding), 1.0)  # |w| also fills inside-out parts
    if field.max() <= 0.5:
        raise MeshError("the mesh encloses no volume and cannot be repaired")
    verts, faces, _, _ = marching_cubes(0.5 - field, 0.0, spacing=(step, step, step))
    verts += origin
    colours = None
    if mesh.vertex_colours is not None:
        _, nearest = cKDTree(mesh.vertices).query(verts, workers=-1)
        colours = mesh.vertex_colours[nearest]
    result = ColouredMesh(verts, faces, colours, None, dict(mesh.metadata))
    return orient_consistently(result)


def repair_mesh(mesh: ColouredMesh):
    """Repair a mesh step by step, re-meshing only when cheap fixes are not enough.

    Parameters
    ----------
    mesh
        Any triangle mesh (STL soup, flipped faces, holes, duplicates...).

    Returns
    -------
    repaired : ColouredMesh
    actions : list of str
        What was done, in order.

    Raises
    ------
    MeshError
        When even the re-mesh does not give a printable solid.
    """
    actions = []
    before = len(mesh.vertices)
    mesh = merge_close_vertices(mesh)
    if len(mesh.vertices) < before:
        actions.append(f"welded {before - len(mesh.vertices)} duplicate vertices")
    before = len(mesh.faces)
    mesh = remove_bad_faces(mesh)
    if len(mesh.faces) < before:
        actions.append(f"removed {before - len(mesh.faces)} degenerate or duplicate triangles")
    before_holes = len(mesh.faces)
    mesh = fill_holes(mesh)
    if len(mesh.faces) > before_holes:
        actions.append(f"filled holes with {len(mesh.faces) - before_holes} triangles")
    oriented = orient_consistently(mesh)
    flipped = int(np.any(oriented.faces != mesh.faces, axis=1).sum())
    if flipped:
        actions.append(f"re-oriented {flipped} triangles outward")
    mesh = oriented
    report = validate_mesh(mesh)
    if not report.ok:
        actions.append("re-meshed from the winding number (" + "; ".join(report.problems) + ")")
        mesh = remesh_by_winding_number(mesh)
        report = validate_mesh(mesh)
        if not report.ok:
            raise MeshError("mesh could not be repaired: " + "; ".join(report.problems))
    return mesh.with_face_colours_from_vertices() if mesh.vertex_colours is not None else mesh, actions
