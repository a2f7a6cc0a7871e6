"""Several photos of each held-out mesh: score 1, 2, 3, 4 and 8 views against the plain visual hull.

Each mesh is photographed from front, left, back and right (then the four diagonals),
each photo framed on its own with a seeded random zoom and offset, as a handheld shot
would be. Every view count reconstructs from the first photos of that order through
the product's own stages 1-3; the plain visual hull of the same silhouettes is the
baseline row (carving alone is the floor to beat). Scores are taken in the front
camera's frame, as for one photo.
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from PIL import Image

from fabricate.errors import FabricateError
from fabricate.evaluate.run import HELDOUT, EvalCase, load_mesh, mesh_files, printable, score_surface
from fabricate.reconstruct import Reconstructor, get_reconstructor
from fabricate.render import orbit_camera, random_albedo, render_mesh

#: Azimuths in the order photos are added: front, left, back, right, then the diagonals.
VIEW_ORDER = (0.0, 90.0, 180.0, 270.0, 45.0, 135.0, 225.0, 315.0)
VIEW_COUNTS = (1, 2, 3, 4, 8)
#: Handheld framing: the object fills this share of the frame, and its centre moves by up to this share.
FILL_RANGE = (0.55, 0.9)
MAX_OFFSET = 0.08
#: Handheld photos are roughly level: elevation in degrees.
ELEVATION_RANGE = (-3.0, 8.0)


@dataclass
class ViewSet:
    """Every photo of one mesh, in :data:`VIEW_ORDER`."""

    name: str
    photos: list
    azimuths: list
    front: EvalCase


class VisualHull(Reconstructor):
    """The plain visual hull of the photos' silhouettes (the baseline; not a product model)."""

    name = "visual hull"
    max_photos = len(VIEW_ORDER)

    def reconstruct(self, foreground, resolution=256, report=None):
        raise FabricateError("the visual hull needs at least two photos")

    def reconstruct_views(self, views, resolution=256, report=None):
        from fabricate.reconstruct.multiview import reconstruct_multiview

        return reconstruct_multiview(views, resolution, report, rounding=0.0)


def render_view_sets(mesh_dir=HELDOUT, size: int = 384, seed: int = 0, count: int = len(VIEW_ORDER)) -> list:
    """Seeded photos of every mesh from the first ``count`` azimuths of :data:`VIEW_ORDER`."""
    sets = []
    for path in mesh_files(mesh_dir):
        vertices, faces = load_mesh(path)
        rng = np.random.default_rng([seed, sum(map(ord, path.stem)), 8])
        albedo = random_albedo(vertices, faces, rng)
        # One light for the whole set, fixed to the object (it does not move with the photographer).
        light = np.array([rng.uniform(-0.6, 0.6), 1.0, rng.uniform(-1.0, -0.3)])
        photos, front = [], None
        for azimuth in VIEW_ORDER[:count]:
            # The renderer's azimuth turns towards the object's right; ours towards its own left.
            camera = orbit_camera(vertices, -azimuth, rng.uniform(*ELEVATION_RANGE), size,
                                  fill=rng.uniform(*FILL_RANGE))
            shift = rng.uniform(-MAX_OFFSET, MAX_OFFSET, 2) * size * camera.pixel_size
            camera.centre = camera.centre - shift[0] * camera.right + shift[1] * camera.up
            render = render_mesh(vertices, faces, camera, albedo, light + 0.8 * -camera.forward)
            buffer = io.BytesIO()
            Image.fromarray(render.rgba()).save(buffer, format="PNG")
            photos.append(buffer.getvalue())
            if front is None:
                front = EvalCase(f"{path.stem}", photos[0], camera, vertices, faces)
        sets.append(ViewSet(path.stem, photos, list(VIEW_ORDER[:count]), front))
    return sets


def score_view_set(view_set: ViewSet, count: int, reconstructor: Reconstructor, label: str,
                   resolution: int, points: int = 20000) -> dict:
    """Reconstruct from the first ``count`` photos and score in the front camera's frame."""
    from fabricate.mesh.surface import reconstruct_surface

    start = time.perf_counter()
    row = {"case": view_set.name, "model": label, "views": count}
    try:
        surface = reconstruct_surface(view_set.photos[:count], reconstructor, view_set.azimuths[:count], resolution,
                                      photo_names=[f"{view_set.name}@{a:g}.png" for a in view_set.azimuths[:count]])
    except FabricateError as exc:
        return {**row, "error": str(exc), "printable": 0.0, "chamfer_l1": np.nan, "f_score_1": 0.0,
                "f_score_2": 0.0, "volume_iou": 0.0, "normal_consistency": 0.0,
                "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    mesh = surface.mesh
    scores = score_surface(view_set.front, mesh.vertices, mesh.faces, surface.reconstruction.photo_from_voxel,
                           points)
    return {**row, "printable": float(printable(mesh)), "seconds": seconds, **scores}


def evaluate_views(counts: Sequence[int] = VIEW_COUNTS, mesh_dir=HELDOUT, resolution: int = 128, seed: int = 0,
                   model: str = "classical", size: int = 384,
                   progress: Optional[Callable[[str], None]] = None, baseline: bool = True) -> list:
    """Every view count with ``model``, and (with ``baseline``) the plain hull for every count above one."""
    counts = sorted(set(int(c) for c in counts))
    if not counts or counts[0] < 1 or counts[-1] > len(VIEW_ORDER):
        from fabricate.errors import BadOption

        raise BadOption(f"view counts must be between 1 and {len(VIEW_ORDER)}, got {counts}")
    reconstructor, hull = get_reconstructor(model), VisualHull()
    rows = []
    for view_set in render_view_sets(mesh_dir, size, seed, max(counts)):
        for count in counts:
            if progress:
                progress(f"{view_set.name} / {count} view{'s' if count > 1 else ''}")
            rows.append(score_view_set(view_set, count, reconstructor, model, resolution))
            if count > 1 and baseline:
                rows.append(score_view_set(view_set, count, hull, hull.name, resolution))
    return rows


def views_table(rows: list) -> str:
    """Markdown: the mean scores per view count and model, then every case."""
    lines = ["| views | model | Chamfer-L1 (lower better) | F-score@1% | F-score@2% | volume IoU | printable |",
             "|---|---|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["views"], r["model"]) for r in rows))
    for count, model in sorted(keys, key=lambda k: (k[0], k[1] != "visual hull")):
        mine = [r for r in rows if r["views"] == count and r["model"] == model]
        mean = lambda key: float(np.nanmean([r[key] for r in mine]))
        lines.append(f"| {count} | {model} | {mean('chamfer_l1'):.4f} | {100 * mean('f_score_1'):.1f} | "
                     f"{100 * mean('f_score_2'):.1f} | {mean('volume_iou'):.3f} | {100 * mean('printable'):.0f} % |")
    lines += ["", "| case | views | model | Chamfer-L1 | F@1% | F@2% | IoU | printable |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        note = f" ({r['error']})" if "error" in r else ""
        lines.append(f"| {r['case']} | {r['views']} | {r['model']} | {r['chamfer_l1']:.4f} | "
                     f"{100 * r['f_score_1']:.1f} | {100 * r['f_score_2']:.1f} | {r['volume_iou']:.3f} | "
                     f"{'yes' if r['printable'] else 'NO'}{note} |")
    return "\n".join(lines)
