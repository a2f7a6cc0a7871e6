"""Colour score: how close the model's colours are to the object's own, under lights that try to fool it.

Each mesh gets a seeded painted albedo and is photographed under a random strong light
(one directional light from the side, little ambient, a white specular highlight). The
photo is reconstructed once and coloured twice, with and without delighting; both
results are rendered from the photo's camera with no shading at all (ambient 1), so
every pixel shows the model's own surface colour where the photo saw it, and compared
with the same unshaded render of the truth: the mean CIEDE2000 difference over the
pixels inside both silhouettes (a thin border left out, where the outlines may differ
by a pixel). Lower is better; 1 is a just-noticeable difference.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image
from scipy import ndimage

from fabricate.color.lab import srgb_to_lab
from fabricate.errors import FabricateError
from fabricate.evaluate.run import HELDOUT, load_mesh, mesh_files, score_every
from fabricate.render import Camera, orbit_camera, random_albedo, render_mesh

#: Light: ambient share, the light's angle off the camera axis (degrees), highlight strength and sharpness.
AMBIENT_RANGE = (0.08, 0.25)
LIGHT_ANGLE_RANGE_DEG = (35.0, 75.0)
SPECULAR_RANGE = (0.25, 0.6)
SHININESS_RANGE = (20.0, 60.0)
#: Pixels this close to either silhouette's edge are not scored.
BORDER_PX = 2


@dataclass
class ColourCase:
    """One strongly lit photo of a painted mesh, and the truth to score against."""

    name: str
    photo_png: bytes
    camera: Camera
    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray


def strong_light(camera: Camera, rng: np.random.Generator) -> dict:
    """A seeded side light in front of the object, with little ambient and a highlight (render_mesh's arguments)."""
    angle = np.radians(rng.uniform(*LIGHT_ANGLE_RANGE_DEG))
    around = rng.uniform(0, 2 * np.pi)
    sideways = np.cos(around) * camera.right + np.sin(around) * camera.up
    light = np.cos(angle) * -camera.forward + np.sin(angle) * sideways
    return {"light": light, "ambient": rng.uniform(*AMBIENT_RANGE), "specular": rng.uniform(*SPECULAR_RANGE),
            "shininess": rng.uniform(*SHININESS_RANGE)}


def render_colour_cases(mesh_dir=HELDOUT, views: int = 1, size: int = 384, seed: int = 0) -> list:
    """Seeded strongly lit views of every mesh (azimuth anywhere, elevation -5 to 30 degrees)."""
    cases = []
    for path in mesh_files(mesh_dir):
        vertices, faces = load_mesh(path)
        rng = np.random.default_rng([seed, sum(map(ord, path.stem)), 16])
        albedo = random_albedo(vertices, faces, rng)
        for view in range(views):
            camera = orbit_camera(vertices, rng.uniform(0, 360), rng.uniform(-5, 30), size)
            render = render_mesh(vertices, faces, camera, albedo, **strong_light(camera, rng))
            buffer = io.BytesIO()
            Image.fromarray(render.rgba()).save(buffer, format="PNG")
            cases.append(ColourCase(f"{path.stem}#{view}", buffer.getvalue(), camera, vertices, faces, albedo))
    return cases


def unshaded(vertices: np.ndarray, faces: np.ndarray, camera: Camera, face_colours: np.ndarray):
    """Each pixel's surface colour as it is, no light (ambient 1): (rgb, mask)."""
    render = render_mesh(vertices, faces, camera, face_colours, light=-camera.forward, ambient=1.0)
    return render.rgb, render.mask


def world_from_photo(camera: Camera, photo_points: np.ndarray) -> np.ndarray:
    """Inverse of ``Camera.to_photo_frame``: (column, row, depth) pixels -> world points."""
    col, row, depth = photo_points[:, 0], photo_points[:, 1], photo_points[:, 2]
    return (camera.centre
            + ((col - camera.width / 2 + 0.5) * camera.pixel_size)[:, None] * camera.right
            - ((row - camera.height / 2 + 0.5) * camera.pixel_size)[:, None] * camera.up
            + (depth * camera.pixel_size)[:, None] * camera.forward)


def colour_error(case: ColourCase, vertices: np.ndarray, faces: np.ndarray, face_colours: np.ndarray,
                 photo_from_voxel: np.ndarray) -> float:
    """Mean CIEDE2000 between a coloured reconstruction (voxel coordinates) and the truth, in the photo's view."""
    from skimage.color import deltaE_ciede2000

    photo = vertices @ photo_from_voxel[:3, :3].T + photo_from_voxel[:3, 3]
    truth_rgb, truth_mask = unshaded(case.vertices, case.faces, case.camera, case.albedo)
    # Depth from one photo is unknown: put the model's middle on the truth's (orthographic, so only occlusion cares).
    photo[:, 2] -= photo[:, 2].mean()
    photo[:, 2] += case.camera.to_photo_frame(case.vertices)[:, 2].mean()
    pred_rgb, pred_mask = unshaded(world_from_photo(case.camera, photo), faces, case.camera, face_colours)
    inside = ndimage.binary_erosion(truth_mask & pred_mask, iterations=BORDER_PX)
    if not inside.any():
        return float("nan")
    return float(deltaE_ciede2000(srgb_to_lab(truth_rgb[inside]), srgb_to_lab(pred_rgb[inside])).mean())


def score_colour_case(case: ColourCase, model: str = "classical", resolution: int = 128) -> dict:
    """Reconstruct once; colour with and without delighting; score both."""
    from fabricate.color.views import colour_from_views, single_photo_view
    from fabricate.mesh.surface import reconstruct_surface
    from fabricate.reconstruct import get_reconstructor

    row = {"case": case.name, "model": model}
    try:
        surface = reconstruct_surface([case.photo_png], get_reconstructor(model), resolution=resolution,
                                      photo_names=[case.name + ".png"])
    except FabricateError as exc:
        return {**row, "error": str(exc), "colour_error_photo": np.nan, "colour_error_delit": np.nan}
    mesh, reconstruction = surface.mesh, surface.reconstruction
    views = reconstruction.view_projections or [single_photo_view(reconstruction)]
    for label, delight in (("photo", False), ("delit", True)):
        start = time.perf_counter()
        coloured = colour_from_views(mesh, views, delight=delight)
        row[f"colour_seconds_{label}"] = time.perf_counter() - start
        row[f"colour_error_{label}"] = colour_error(case, coloured.vertices, coloured.faces, coloured.face_colours,
                                                    reconstruction.photo_from_voxel)
    return row


def evaluate_colour(models: Sequence[str] = ("classical",), mesh_dir=HELDOUT, views: int = 1,
                    resolution: int = 128, seed: int = 0, size: int = 384,
                    progress: Optional[Callable[[str], None]] = None) -> list:
    """Every model on every strongly lit case: one row per case and model."""
    return score_every(render_colour_cases(mesh_dir, views, size, seed), models, score_colour_case, resolution,
                       progress, " / colour")


def colour_table(rows: list) -> str:
    """Markdown: mean CIEDE2000 per model with and without delighting, the reduction, then every case."""
    lines = ["| model | colour error, photo colours (CIEDE2000) | colour error, delit | reduction |",
             "|---|---|---|---|"]
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        photo = float(np.nanmean([r["colour_error_photo"] for r in mine]))
        delit = float(np.nanmean([r["colour_error_delit"] for r in mine]))
        lines.append(f"| {model} | {photo:.2f} | {delit:.2f} | {100 * (1 - delit / photo):.0f} % |")
    lines += ["", "| case | model | photo colours | delit |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['model']} | {r['colour_error_photo']:.2f} | {r['colour_error_delit']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m fabricate.evaluate.colour [MESH_DIR]: the colour table
    import sys

    folder = sys.argv[1] if len(sys.argv) > 1 else HELDOUT
    print(colour_table(evaluate_colour(mesh_dir=folder, progress=lambda what: print(what, file=sys.stderr))))
