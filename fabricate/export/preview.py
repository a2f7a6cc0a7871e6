"""Render a coloured mesh to a PNG picture (README images, job previews)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image


def render_preview(vertices: np.ndarray, faces: np.ndarray, face_colours: np.ndarray, size: int = 512,
                   azimuth_deg: float = -30.0, elevation_deg: float = 20.0,
                   background=(245, 245, 245)) -> Image.Image:
    """Ray-cast an orthographic, Lambert-shaded view of a mesh.

    Parameters
    ----------
    vertices : (n, 3) float
        Z up; the viewer looks from -Y (the photo's front) turned by ``azimuth_deg``.
    faces : (m, 3) int
    face_colours : (m, 3) uint8
    size : int
        Width and height of the picture in pixels.

    Returns
    -------
    PIL.Image.Image
    """
    import trimesh

    mesh = trimesh.Trimesh(vertices, faces, process=False)
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    view = np.array([np.sin(az) * np.cos(el), -np.cos(az) * np.cos(el), np.sin(el)])  # from target to eye
    right = np.cross([0.0, 0.0, 1.0], view)
    right /= np.linalg.norm(right)
    up = np.cross(view, right)
    centre = (vertices.min(0) + vertices.max(0)) / 2
    radius = float(np.linalg.norm(vertices.max(0) - vertices.min(0))) / 2 * 1.08 or 1.0
    u = np.linspace(-radius, radius, size)
    gu, gv = np.meshgrid(u, -u)
    origins = centre + view * radius * 3 + gu[..., None] * right + gv[..., None] * up
    directions = np.broadcast_to(-view, origins.shape)
    tri, ray = mesh.ray.intersects_id(origins.reshape(-1, 3), directions.reshape(-1, 3), multiple_hits=False)[:2]
    image = np.empty((size * size, 3), np.float64)
    image[:] = background
    normals = mesh.face_normals[tri]
    light = view + 0.6 * up + 0.3 * right
    light /= np.linalg.norm(light)
    shade = 0.35 + 0.65 * np.clip(normals @ light, 0.0, 1.0)
    image[ray] = face_colours[tri, :3] * shade[:, None]
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8).reshape(size, size, 3))


def preview_png_bytes(vertices, faces, face_colours, size: int = 512) -> bytes:
    buffer = io.BytesIO()
    render_preview(vertices, faces, face_colours, size).save(buffer, format="PNG")
    return buffer.getvalue()
