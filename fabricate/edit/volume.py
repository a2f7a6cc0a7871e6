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


def _grid(mesh: ColouredMesh, step: float, pad: int):
    """Grid points covering the mesh with ``pad`` steps around it: (origin, shape, points (n, 3))."""
    lo, hi = mesh.bounds
    origin = lo - pad * step
    shape = tuple(int(n) for n in np.ceil((hi - lo) / step).astype(int) + 2 * pad + 1)
    if int(np.prod(shape)) > MAX_GRID_POINTS:
        raise BadOption(f"the model is too large for this wall at this detail ({int(np.prod(shape)):,} grid points); "
                        "ask for a thicker wall")
    axes = [origin[i] + step * np.arange(shape[i]) for i in range(3)]
    points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    return origin, shape, points


def _grid_step(mesh: ColouredMesh, wall_mm: float) -> float:
    """The grid step: a third of the wall, coarser only when the grid would pass MAX_GRID_POINTS."""
    step = wall_mm / POINTS_PER_WALL
    box = float(np.prod(mesh.extents + 4 * step))
    return max(step, (box / (MAX_GRID_POINTS * 0.8)) ** (1 / 3))


def depth_inside(mesh: ColouredMesh, points: np.ndarray, shape: tuple, reach_mm: float) -> np.ndarray:
    """Each grid point's exact distance to the surface, positive inside, negative outside, where it is
    within ``reach_mm``; farther points get +-``reach_mm`` with their side's sign.

    libigl stops looking beyond the reach (five to ten times faster than the full field); a point it
    leaves out takes the side of the nearest point it measured, which is right because going from
    one side to the other passes within the reach of the surface.
    """
    import igl
    from scipy import ndimage

    distance, _, _, _ = igl.signed_distance(np.ascontiguousarray(points, np.float64),
                                            np.ascontiguousarray(mesh.vertices, np.float64),
                                            np.ascontiguousarray(mesh.faces, np.int64),
                                            sign_type=igl.SignedDistanceType.SIGNED_DISTANCE_TYPE_PSEUDONORMAL,
                                            lower_bound=-reach_mm, upper_bound=reach_mm)
    depth = -distance.reshape(shape)
    far = ~np.isfinite(depth)
    if far.all():
        raise MeshError("no grid point lies near the surface")
    if far.any():
        _, nearest = ndimage.distance_transform_edt(far, return_indices=True)
        side = np.sign(depth[tuple(nearest)])
        depth[far] = side[far] * reach_mm
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
    origin, shape, points = _grid(mesh, step, pad=2)
    depth = depth_inside(mesh, points, shape, wall_mm + 3 * step)
    # Marching cubes interpolates between grid points: the surface it finds lies within half a
    # step of the true level, and the simplification moves it by at most its tolerance.
    tolerance = CAVITY_SIMPLIFY_SHARE * step
    margin = step / 2 + tolerance
    cavity = _level_surface(depth - (wall_mm + margin), origin, step)
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
    return _mesh_of(drilled, mesh)


def thicken(mesh: ColouredMesh, min_wall_mm: float) -> ColouredMesh:
    """Grow every part thinner than ``min_wall_mm`` to that thickness; thicker parts keep their surface.

    A thin part's middle is where the depth inside is largest across it (a ridge of the depth,
    less than half the wall deep); a ball of half the wall around every ridge point covers the
    part at the wanted thickness, and the union of those balls with the model is the result.
    """
    from scipy import ndimage

    step = _grid_step(mesh, min_wall_mm) * 0.75  # thin parts must hold grid points across them
    origin, shape, points = _grid(mesh, step, pad=int(np.ceil(min_wall_mm / step)) + 2)
    depth = depth_inside(mesh, points, shape, min_wall_mm + 2 * step)
    radius = min_wall_mm / 2
    ridge = (depth > 0) & (depth < radius) & (depth >= ndimage.maximum_filter(depth, size=3))
    if not ridge.any():
        raise BadOption(f"no part of the model is thinner than {min_wall_mm:g} mm; nothing to thicken")
    # A ridge point lies within half a step of the true middle: the ball reaches that much further.
    distance = ndimage.distance_transform_edt(~ridge, sampling=step)
    grown = _level_surface(radius + step / 2 - distance, origin, step)
    return _mesh_of(_solid(mesh) + grown, mesh)
