"""Edits that need the solid's inside: hollowing with drain holes and thickening thin walls.

Both work on the exact signed distance to the surface (libigl, sampled on a regular grid),
turn a level of it into a closed surface (marching cubes) and combine that with the model
through manifold3d booleans, so the model's own surface is kept wherever the edit does not
touch it and every result is a manifold.
"""
from __future__ import annotations

import numpy as np

from fabricate.edit.operations import CIRCLE_SEGMENTS, LONGEST_ADDED_EDGE_MM, _mesh_of, _solid
from fabricate.errors import BadOption, MeshError
from fabricate.manifold import as_manifold
from fabricate.mesh.coloured_mesh import ColouredMesh

#: Grid points per wall thickness: the cavity and the thickened parts follow the model to about
#: a third of the wall.
POINTS_PER_WALL = 3
#: Most grid points one edit samples (a 60 mm model at a 2 mm wall: ~0.2 M; a 200 mm one: ~2.7 M).
MAX_GRID_POINTS = 6_000_000
#: The cavity surface is simplified within this share of the grid step (fewer triangles to check).
CAVITY_SIMPLIFY_SHARE = 0.25
#: A drain hole reaches this many diameters up into the cavity, so it opens into it however the
#: cavity's floor slopes.
DRAIN_REACH_DIAMETERS = 1.5
#: A second drain hole is this many diameters away from the first (air in at one, out at the other).
DRAIN_SPACING_DIAMETERS = 3.0
#: Grid steps between the points of the coarse pass (fewer where the asked range reaches less far):
#: the exact distance is then measured only where the coarse one says it can lie in the range.
COARSE_BLOCK = 4


def _grid(mesh: ColouredMesh, step: float, pad: int):
    """The grid covering the mesh with ``pad`` steps around it: (origin, shape)."""
    lo, hi = mesh.bounds
    origin = lo - pad * step
    shape = tuple(int(n) for n in np.ceil((hi - lo) / step).astype(int) + 2 * pad + 1)
    if int(np.prod(shape)) > MAX_GRID_POINTS:
        raise BadOption(f"the model is too large for this wall at this detail ({int(np.prod(shape)):,} grid points); "
                        "ask for a thicker wall")
    return origin, shape


def _grid_step(mesh: ColouredMesh, wall_mm: float) -> float:
    """The grid step: a third of the wall, coarser only when the grid would pass MAX_GRID_POINTS."""
    step = wall_mm / POINTS_PER_WALL
    box = float(np.prod(mesh.extents + 4 * step))
    return max(step, (box / (MAX_GRID_POINTS * 0.8)) ** (1 / 3))


def _signed_depth(mesh: ColouredMesh, points: np.ndarray, reach_mm: float) -> np.ndarray:
    """libigl's exact distance to the surface, positive inside; NaN or infinite beyond ``reach_mm``
    (libigl stops looking there, five to ten times faster than the full distance)."""
    import igl

    distance, _, _, _ = igl.signed_distance(np.ascontiguousarray(points, np.float64),
                                            np.ascontiguousarray(mesh.vertices, np.float64),
                                            np.ascontiguousarray(mesh.faces, np.int64),
                                            sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL,
                                            lower_bound=-reach_mm, upper_bound=reach_mm)
    return -distance


def depth_inside(mesh: ColouredMesh, origin: np.ndarray, step: float, shape: tuple,
                 low_mm: float, high_mm: float) -> np.ndarray:
    """Each grid point's distance to the surface, positive inside, negative outside, clipped to
    [``low_mm``, ``high_mm``]: exact wherever it lies in between.

    A coarse pass measures every COARSE_BLOCK-th grid point (the corners of cells of grid points).
    The distance changes by at most the distance travelled, so each grid point's depth lies within
    its cell corners' depths plus or minus its distance to them; it is measured exactly only where
    that bound overlaps the range. A point libigl leaves out (beyond the range's reach) takes its
    nearest corner's side: the block size keeps the corners nearer than the reach, so the surface
    does not pass between them. A corner libigl leaves out takes the side of the nearest corner it
    measured, which is right because going from one side to the other passes within the reach.
    """
    from scipy import ndimage

    shape = np.asarray(shape, np.int64)
    reach = max(abs(low_mm), abs(high_mm))
    block = int(max(1, min(COARSE_BLOCK, np.ceil(2 * reach / (np.sqrt(3) * step)) - 1)))
    diagonal = np.sqrt(3) * block * step  # no cell point is farther from a corner, nor over half of it from the nearest
    cells = -(-shape // block)
    corners = np.stack(np.meshgrid(*[origin[i] + step * block * np.arange(cells[i] + 1) for i in range(3)],
                                   indexing="ij"), axis=-1).reshape(-1, 3)
    coarse_reach = reach + diagonal / 2
    coarse = _signed_depth(mesh, corners, coarse_reach).reshape(tuple(cells + 1))
    far = ~np.isfinite(coarse)
    if far.all():
        raise MeshError("no grid point lies near the surface")
    if far.any():
        _, nearest = ndimage.distance_transform_edt(far, return_indices=True)
        coarse[far] = np.sign(coarse[tuple(nearest)])[far] * np.inf
    # Bounds a corner gives: a far corner is at least the coarse reach deep (inside) or out (outside).
    floor = np.where(coarse == np.inf, coarse_reach, np.where(coarse == -np.inf, -np.inf, coarse))
    ceiling = np.where(coarse == -np.inf, -coarse_reach, np.where(coarse == np.inf, np.inf, coarse))
    shifts = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]

    def at_corners(values):  # (cells..., 8): each cell's eight corner values
        return np.stack([values[a:a + cells[0], b:b + cells[1], c:c + cells[2]] for a, b, c in shifts], axis=-1)

    cell_floor, cell_ceiling = at_corners(floor), at_corners(ceiling)
    deep = cell_floor.max(axis=-1) - diagonal > high_mm
    fill = np.where(deep, high_mm, low_mm)
    depth = fill.repeat(block, 0).repeat(block, 1).repeat(block, 2)[:shape[0], :shape[1], :shape[2]].copy()
    wanted = np.argwhere(~deep & (cell_ceiling.min(axis=-1) + diagonal >= low_mm))
    # Each point's bound from its cell's corners: the offsets within a cell are the same everywhere.
    offsets = np.stack(np.meshgrid(*[np.arange(block)] * 3, indexing="ij"), axis=-1).reshape(-1, 3)
    apart = step * np.linalg.norm(offsets[:, None, :] - block * np.array(shifts)[None], axis=-1)  # (k^3, 8)
    index = wanted[:, None, :] * block + offsets[None]
    corner_floor = cell_floor[tuple(wanted.T)][:, None, :]
    corner_ceiling = cell_ceiling[tuple(wanted.T)][:, None, :]
    least = (corner_floor - apart).max(axis=-1)
    most = (corner_ceiling + apart).min(axis=-1)
    nearest_sign = np.sign(coarse[tuple((wanted[:, None, :] + np.array(shifts)[np.argmin(apart, axis=1)][None]).
                                         reshape(-1, 3).T)]).reshape(least.shape)
    on_grid = (index < shape).all(axis=-1)
    measure = on_grid & (least <= high_mm) & (most >= low_mm)
    settled = on_grid & ~measure
    depth[tuple(index[settled].T)] = np.where(least[settled] > high_mm, high_mm, low_mm)
    exact = _signed_depth(mesh, origin + step * index[measure], reach)
    beyond = ~np.isfinite(exact)
    exact[beyond] = nearest_sign[measure][beyond] * np.inf
    depth[tuple(index[measure].T)] = np.clip(exact, low_mm, high_mm)
    return depth


def _level_surface(field: np.ndarray, origin: np.ndarray, step: float):
    """The closed surface where ``field`` (on the grid, positive inside) is 0, as a manifold3d solid."""
    from skimage.measure import marching_cubes

    if field.max() <= 0:
        return None
    vertices, faces, _, _ = marching_cubes(field, 0.0, spacing=(step, step, step))
    solid = as_manifold(vertices + origin, faces)
    if solid.status().name != "NoError":
        raise MeshError(f"the level surface is not a manifold ({solid.status().name})")
    if solid.volume() < 0:  # marching cubes' winding depends on the field's sign convention
        solid = as_manifold(vertices + origin, faces[:, ::-1])
    return solid


def hollow(mesh: ColouredMesh, wall_mm: float, drain_mm: float, drains: int) -> ColouredMesh:
    """Remove the inside, keeping a wall at least ``wall_mm`` thick, with ``drains`` holes through the base.

    The cavity is the set of points deeper than the wall (plus a margin for the grid and the
    cavity's simplification); each drain hole is a vertical cylinder from below the base up into
    the cavity at its lowest points, so resin or loose powder runs out and air gets in.
    """
    import manifold3d

    step = _grid_step(mesh, wall_mm)
    origin, shape = _grid(mesh, step, pad=2)
    # Marching cubes interpolates between grid points: the surface it finds lies within half a
    # step of the true level, and the simplification moves it by at most its tolerance.
    tolerance = CAVITY_SIMPLIFY_SHARE * step
    margin = step / 2 + tolerance
    level = wall_mm + margin
    # Only the depth near the level shapes the cavity (neighbouring grid points differ by at most
    # a step), so it is measured exactly within two steps of it.
    depth = depth_inside(mesh, origin, step, shape, level - 2 * step, level + 2 * step)
    cavity = _level_surface(depth - level, origin, step)
    if cavity is None or cavity.volume() <= 0:
        raise BadOption(f"the model is nowhere thicker than two {wall_mm:g} mm walls; there is nothing to hollow")
    cavity = cavity.simplify(tolerance)
    solid = _solid(mesh)
    shell = solid - cavity
    bottom = float(mesh.bounds[0, 2])
    drills = []
    cavity_mesh = cavity.to_mesh()
    inner = np.array(cavity_mesh.vert_properties, np.float64)[:, :3]
    order = np.argsort(inner[:, 2], kind="stable")
    for index in order:
        place = inner[index]
        if any(np.linalg.norm(place[:2] - other[:2]) < DRAIN_SPACING_DIAMETERS * drain_mm for other in drills):
            continue
        drills.append(place)
        if len(drills) == drains:
            break
    drilled = shell
    for place in drills:
        top = float(place[2]) + DRAIN_REACH_DIAMETERS * drain_mm
        length = top - bottom + 2.0
        cutter = manifold3d.Manifold.cylinder(length, drain_mm / 2, drain_mm / 2, CIRCLE_SEGMENTS)
        drilled = drilled - cutter.translate([float(place[0]), float(place[1]), bottom - 2.0]) \
            .refine_to_length(LONGEST_ADDED_EDGE_MM)
    pieces = len(drilled.decompose())
    if pieces != 1:
        raise BadOption(f"the drain hole{'s' if drains > 1 else ''} would not open the cavity ({pieces} separate "
                        "surfaces); try a larger drain hole")
    return _mesh_of(drilled, mesh, solid)


def thicken(mesh: ColouredMesh, min_wall_mm: float) -> ColouredMesh:
    """Grow every part thinner than ``min_wall_mm`` to that thickness; thicker parts keep their surface.

    A thin part's middle is where the depth inside is largest across it (a ridge of the depth,
    less than half the wall deep); a ball of half the wall around every ridge point covers the
    part at the wanted thickness, and the union of those balls with the model is the result.
    """
    from scipy import ndimage

    step = _grid_step(mesh, min_wall_mm) * 0.75  # thin parts must hold grid points across them
    radius = min_wall_mm / 2
    # Grid steps a ball reaches beyond its ridge point, with room for its surface to close.
    reach = int(np.ceil(radius / step)) + 2
    origin, shape = _grid(mesh, step, pad=reach)
    # A ridge point is less than half the wall deep and no shallower than its neighbours, so the
    # depth is measured exactly inside the model up to a step deeper than that (a neighbour deeper
    # still is clipped there, and still deeper than the point).
    depth = depth_inside(mesh, origin, step, shape, 0.0, radius + step)
    ridge = (depth > 0) & (depth < radius) & (depth >= ndimage.maximum_filter(depth, size=3))
    points = np.argwhere(ridge)
    if not len(points):
        raise BadOption(f"no part of the model is thinner than {min_wall_mm:g} mm; nothing to thicken")
    # The grown surface keeps to the box of the ridge points, as far as a ball reaches.
    first = np.maximum(points.min(axis=0) - reach, 0)
    last = np.minimum(points.max(axis=0) + reach + 1, shape)
    ridge = ridge[tuple(slice(a, b) for a, b in zip(first, last))]
    # A ridge point lies within half a step of the true middle: the ball reaches that much further.
    distance = ndimage.distance_transform_edt(~ridge, sampling=step)
    grown = _level_surface(radius + step / 2 - distance, origin + step * first, step)
    model = _solid(mesh)
    return _mesh_of(model + grown, mesh, model)
