"""Resting poses of a solid on a flat bed."""
from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull


def centre_of_mass(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Centroid of the enclosed volume (signed tetrahedra from the origin)."""
    tri = vertices[faces]
    volumes = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    total = volumes.sum()
    if abs(total) < 1e-12:
        return vertices.mean(axis=0)
    return (volumes[:, None] * tri.sum(axis=1) / 4.0).sum(axis=0) / total


def stable_poses(vertices: np.ndarray, faces: np.ndarray, max_points: int = 20000):
    """Downward normals of the stable resting faces and how likely each pose is.

    A face of the convex hull is a resting face when the centre of mass projects
    inside it; the chance of landing on it is the solid angle it subtends at the
    centre of mass (coplanar hull triangles are merged into one face).

    Returns
    -------
    normals : (k, 3) float
        Outward hull normals, i.e. the direction that points down when resting.
    probabilities : (k,) float
        Sorted from the most to the least likely.
    """
    com = centre_of_mass(vertices, faces)
    points = vertices
    if len(points) > max_points:
        points = points[np.random.default_rng(0).choice(len(points), max_points, replace=False)]
    hull = ConvexHull(points)
    tri = points[hull.simplices]
    normals = hull.equations[:, :3]
    # Orient simplices counter-clockwise around their outward normal.
    flip = np.einsum("ij,ij->i", np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), normals) < 0
    tri[flip] = tri[flip][:, ::-1]
    # Solid angle of each hull triangle seen from the centre of mass (Van Oosterom-Strackee).
    a, b, c = tri[:, 0] - com, tri[:, 1] - com, tri[:, 2] - com
    la, lb, lc = (np.linalg.norm(x, axis=1) for x in (a, b, c))
    numerator = np.einsum("ij,ij->i", a, np.cross(b, c))
    denominator = la * lb * lc + np.einsum("ij,ij->i", a, b) * lc + np.einsum("ij,ij->i", a, c) * lb \
        + np.einsum("ij,ij->i", b, c) * la
    solid = 2.0 * np.arctan2(np.abs(numerator), denominator)
    # Does the centre of mass project inside the triangle?
    distance = normals @ com + hull.equations[:, 3]
    projected = com - distance[:, None] * normals
    inside = np.ones(len(tri), bool)
    for i in range(3):
        edge = tri[:, (i + 1) % 3] - tri[:, i]
        inside &= np.einsum("ij,ij->i", np.cross(edge, projected - tri[:, i]), normals) >= -1e-9
    # Group coplanar triangles into facets by their rounded plane.
    keys = np.round(hull.equations / (np.abs(hull.equations).max() + 1e-12) * 1e4).astype(np.int64)
    _, facet = np.unique(keys, axis=0, return_inverse=True)
    facet = facet.ravel()
    weight = np.bincount(facet, solid)
    stable = np.bincount(facet, inside.astype(float)) > 0
    facet_normal = np.zeros((facet.max() + 1, 3))
    facet_normal[facet] = normals
    chosen = np.flatnonzero(stable)
    order = np.argsort(-weight[chosen], kind="stable")
    chosen = chosen[order]
    probability = weight[chosen] / (4 * np.pi)
    return facet_normal[chosen], probability


def rotation_to_floor(down: np.ndarray) -> np.ndarray:
    """3x3 rotation taking direction ``down`` to -Z."""
    a = down / np.linalg.norm(down)
    b = np.array([0.0, 0.0, -1.0])
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-12:
        return np.eye(3) if c > 0 else np.diag([1.0, -1.0, -1.0])
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + k + k @ k * (1.0 / (1.0 + c))
