"""The one CPU renderer: ray casting with Embree (fabricate.rays, one scene per picture).

It serves the previews of made models (job results, hub uploads), the evaluation's photos and
the training data: orthographic cameras (the classical model assumes one) or, for training data
that looks like phone photos, perspective ones; Lambert shading (and an optional highlight) under
one light, a plain background; it returns photo, mask, depth and normals.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass
class Camera:
    """An orthographic camera, or a perspective one when ``focal_mm`` is set.

    Orthographic: pixel (row i, column j) looks along ``forward`` from
    ``centre + (j - W/2 + 0.5) * pixel_size * right - (i - H/2 + 0.5) * pixel_size * up``.
    Perspective: every pixel's ray starts at ``eye`` and passes through that same point, so
    the centre plane (through ``centre``, facing ``forward``) keeps ``pixel_size``.
    ``to_photo_frame`` is always the orthographic frame of the centre plane: the object's true
    shape, which is what a reconstruction is scored and trained against.
    """

    right: np.ndarray
    up: np.ndarray
    forward: np.ndarray
    centre: np.ndarray
    pixel_size: float
    width: int
    height: int
    focal_mm: float | None = None   # 35 mm-equivalent focal length (36 mm frame width); None: orthographic

    @property
    def eye(self) -> np.ndarray:
        """Where a perspective camera's rays start (a frame-wide field of view of 2 atan(18 / f))."""
        distance = self.width * self.pixel_size * self.focal_mm / 36.0
        return self.centre - distance * self.forward

    def to_photo_frame(self, points: np.ndarray) -> np.ndarray:
        """World points -> (column, row, depth) in pixels, the frame of ``Reconstruction.photo_from_voxel``."""
        d = np.asarray(points, np.float64) - self.centre
        return np.stack([d @ self.right / self.pixel_size + self.width / 2 - 0.5,
                         -(d @ self.up) / self.pixel_size + self.height / 2 - 0.5,
                         d @ self.forward / self.pixel_size], axis=1)


def orbit_camera(vertices: np.ndarray, azimuth_deg: float, elevation_deg: float, size: int = 384,
                 fill: float = 0.8, up_axis: int = 1, focal_mm: float | None = None) -> Camera:
    """A camera circling the object's bounding sphere, the object filling ``fill`` of the frame.

    ``focal_mm`` (35 mm equivalent) makes it a perspective camera; at 35 mm and the default fill
    the bounding sphere still fits the frame.
    """
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    centre = (lo + hi) / 2
    radius = float(np.linalg.norm(vertices - centre, axis=1).max()) or 1.0  # a single point still gets a frame
    world_up = np.eye(3)[up_axis]
    side = np.eye(3)[(up_axis + 1) % 3]
    front = np.cross(side, world_up)
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    to_eye = np.cos(el) * (np.cos(az) * -front + np.sin(az) * side) + np.sin(el) * world_up
    forward = -to_eye / np.linalg.norm(to_eye)
    right = np.cross(forward, world_up)
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    return Camera(right, up, forward, centre, 2 * radius / (size * fill), size, size, focal_mm)


@dataclass
class Render:
    rgb: np.ndarray       # (H, W, 3) uint8
    mask: np.ndarray      # (H, W) bool
    depth: np.ndarray     # (H, W) float, distance along the view in world units (inf off the object)
    normals: np.ndarray   # (H, W, 3) float, world-space, facing the camera

    def rgba(self) -> np.ndarray:
        return np.dstack([self.rgb, (self.mask * 255).astype(np.uint8)])


def render_mesh(vertices: np.ndarray, faces: np.ndarray, camera: Camera, face_albedo: np.ndarray,
                light: np.ndarray, background=(255, 255, 255), ambient: float = 0.35, specular: float = 0.0,
                shininess: float = 40.0) -> Render:
    """Ray-cast one image.

    Parameters
    ----------
    face_albedo : (m, 3) uint8
        Colour of each triangle.
    light : (3,) float
        Direction towards the light (world space).
    specular : float
        Strength of a white Blinn-Phong highlight (0, the default, renders none).
    shininess : float
        Its exponent: higher is a smaller, sharper highlight.
    """
    from fabricate.rays import RayScene

    vertices, faces = np.asarray(vertices, np.float64), np.asarray(faces, np.int64)
    h, w = camera.height, camera.width
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    offsets = ((jj - w / 2 + 0.5)[..., None] * camera.right - (ii - h / 2 + 0.5)[..., None] * camera.up) \
        * camera.pixel_size
    back_off = camera.pixel_size * max(h, w) * 2
    if camera.focal_mm is None:
        origins = (camera.centre + offsets - camera.forward * back_off).reshape(-1, 3)
        directions = np.broadcast_to(camera.forward, origins.shape)
    else:
        through = (camera.centre + offsets).reshape(-1, 3)
        origins = np.broadcast_to(camera.eye, through.shape)
        directions = through - camera.eye
        directions = directions / np.linalg.norm(directions, axis=1, keepdims=True)
        back_off = float((camera.centre - camera.eye) @ camera.forward)
    hit, distance = RayScene(vertices, faces).first_hits(origins, directions)
    ray = np.flatnonzero(hit >= 0)
    tri = hit[ray]
    locations = origins[ray] + distance[ray, None] * directions[ray]
    depth = np.full(h * w, np.inf)
    depth[ray] = (locations - origins[ray]) @ camera.forward - back_off
    normals = np.zeros((h * w, 3))
    corners = vertices[faces[tri]]
    n = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-30)  # the hit triangles' unit normals
    view = directions[ray] if camera.focal_mm is not None else camera.forward
    n = np.where((n * view).sum(-1, keepdims=True) > 0, -n, n)  # open meshes: light the side we see
    normals[ray] = n
    light = np.asarray(light, np.float64) / np.linalg.norm(light)
    shade = ambient + (1 - ambient) * np.clip(n @ light, 0, 1)
    rgb = np.empty((h * w, 3))
    rgb[:] = background
    rgb[ray] = face_albedo[tri, :3] * shade[:, None]
    if specular > 0:  # light reflected off the surface: white, and only where the light reaches
        halfway = light - view
        halfway = halfway / np.linalg.norm(halfway, axis=-1, keepdims=True)
        lit = (n @ light) > 0
        rgb[ray] += 255.0 * specular * np.where(lit, np.clip((n * halfway).sum(-1), 0, 1) ** shininess, 0.0)[:, None]
    mask = np.zeros(h * w, bool)
    mask[ray] = True
    return Render(np.clip(rgb, 0, 255).astype(np.uint8).reshape(h, w, 3), mask.reshape(h, w),
                  depth.reshape(h, w), normals.reshape(h, w, 3))


def random_albedo(vertices: np.ndarray, faces: np.ndarray, rng: np.random.Generator, up_axis: int = 1) -> np.ndarray:
    """Two seeded colours in bands along the up axis: a simple 'painted object'."""
    base, second = rng.integers(40, 230, (2, 3))
    height = vertices[faces].mean(axis=1)[:, up_axis]
    cut = np.quantile(height, rng.uniform(0.2, 0.5))
    return np.where((height < cut)[:, None], second, base).astype(np.uint8)


#: The preview's view of a made model (Z up, its photographed front facing -Y): orbit azimuth 180
#: looks at that front; 210 turns 30 degrees to the viewer's left so the side shows too.
PREVIEW_AZIMUTH_DEG = 210.0
PREVIEW_ELEVATION_DEG = 20.0


def render_preview(vertices: np.ndarray, faces: np.ndarray, face_colours: np.ndarray | None = None, size: int = 512,
                   azimuth_deg: float = PREVIEW_AZIMUTH_DEG, elevation_deg: float = PREVIEW_ELEVATION_DEG,
                   background=(245, 245, 245)) -> Image.Image:
    """A picture of a made model (Z up), as the job results and hub uploads show it.

    Parameters
    ----------
    face_colours : (m, 3) uint8, optional
        Colour of each triangle; light grey without.
    azimuth_deg, elevation_deg : float
        Of the orbit camera around Z (see ``orbit_camera``).
    """
    if face_colours is None:
        face_colours = np.full((len(faces), 3), 200, np.uint8)
    camera = orbit_camera(vertices, azimuth_deg, elevation_deg, size, fill=0.9, up_axis=2)
    # Lit from over the viewer's right shoulder, so the top and one side read as brighter.
    light = -camera.forward + 0.6 * camera.up + 0.3 * camera.right
    return Image.fromarray(render_mesh(vertices, faces, camera, face_colours, light, background).rgb)
