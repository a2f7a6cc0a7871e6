"""Render held-out meshes to photos, reconstruct them with every model, score against the truth.

Alignment uses what the renderer knows: the camera gives scale and position across
the image and the view's rotation; depth along the view is unknown from one photo,
so the reconstruction's depth is centred on the truth's (the same for every model).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from fabricate.errors import FabricateError
from fabricate.evaluate.metrics import surface_scores, volume_iou
from fabricate.sampling import sample_surface
from fabricate.render import orbit_camera, random_albedo, render_mesh
from fabricate.mesh.topology import unmatched_directed_edges
from fabricate.mesh.validate import manifold3d_check, signed_volume

#: Folder of held-out meshes beside the checkout (never trained or tuned on).
HELDOUT = Path(__file__).resolve().parents[3] / "shared" / "meshes" / "heldout"
METRICS = ("chamfer_l1", "f_score_1", "f_score_2", "volume_iou", "normal_consistency", "printable", "seconds")


@dataclass
class EvalCase:
    """One rendered view of one ground-truth mesh."""

    name: str
    photo_png: bytes
    camera: object
    gt_vertices: np.ndarray
    gt_faces: np.ndarray


def load_mesh(path) -> tuple:
    import trimesh

    mesh = trimesh.load(path, force="mesh", process=False)
    return np.asarray(mesh.vertices, np.float64), np.asarray(mesh.faces, np.int64)


def mesh_files(meshes=HELDOUT) -> list:
    """The meshes to score: a folder's .obj and .ply files, or a given list of paths."""
    if isinstance(meshes, (str, Path)):
        return sorted(p for p in Path(meshes).iterdir() if p.suffix.lower() in (".obj", ".ply"))
    return [Path(p) for p in meshes]


def render_cases(mesh_dir=HELDOUT, views: int = 2, size: int = 384, seed: int = 0) -> list:
    """Seeded random views (azimuth anywhere, elevation -5 to 30 degrees) and lights of every mesh.

    ``mesh_dir`` is a folder or a list of mesh files (see :func:`mesh_files`).
    """
    cases = []
    for path in mesh_files(mesh_dir):
        vertices, faces = load_mesh(path)
        rng = np.random.default_rng([seed, sum(map(ord, path.stem))])
        albedo = random_albedo(vertices, faces, rng)
        for view in range(views):
            camera = orbit_camera(vertices, rng.uniform(0, 360), rng.uniform(-5, 30), size)
            light = -camera.forward + camera.up * rng.uniform(0.2, 1.0) + camera.right * rng.uniform(-0.8, 0.8)
            render = render_mesh(vertices, faces, camera, albedo, light)
            buffer = io.BytesIO()
            Image.fromarray(render.rgba()).save(buffer, format="PNG")
            cases.append(EvalCase(f"{path.stem}#{view}", buffer.getvalue(), camera, vertices, faces))
    return cases


def score_case(case: EvalCase, model: str, resolution: int, points: int = 20000) -> dict:
    """Reconstruct one case with ``model`` and score it in the photo frame."""
    from fabricate.mesh.surface import reconstruct_surface
    from fabricate.reconstruct import get_reconstructor

    reconstructor = get_reconstructor(model)
    start = time.perf_counter()
    try:
        surface = reconstruct_surface([case.photo_png], reconstructor, resolution=resolution,
                                      photo_names=[case.name + ".png"])
    except FabricateError as exc:
        return {"case": case.name, "model": model, "error": str(exc), "printable": 0.0, "chamfer_l1": np.nan,
                "f_score_1": 0.0, "f_score_2": 0.0, "volume_iou": 0.0, "normal_consistency": 0.0,
                "seconds": time.perf_counter() - start}
    seconds = time.perf_counter() - start
    mesh = surface.mesh
    scores = score_surface(case, mesh.vertices, mesh.faces, surface.reconstruction.photo_from_voxel, points)
    return {"case": case.name, "model": model, "printable": float(printable(mesh)), "seconds": seconds, **scores}


def printable(mesh) -> bool:
    """Closed and outward by a library that did not build it, with every directed edge twinned once."""
    status, _ = manifold3d_check(mesh.vertices, mesh.faces)
    return status == "NoError" and signed_volume(mesh.vertices, mesh.faces) > 0 \
        and not unmatched_directed_edges(mesh.faces, len(mesh.vertices)).any()


def score_surface(case: EvalCase, vertices: np.ndarray, faces: np.ndarray, photo_from_voxel: np.ndarray,
                  points: int = 20000, volume: bool = True) -> dict:
    """Surface scores of a reconstruction (voxel coordinates) against the case's truth, in the photo frame.

    Depth is unknown from one photo, so the reconstruction's depth extent is centred on the truth's.
    """
    pred = vertices @ photo_from_voxel[:3, :3].T + photo_from_voxel[:3, 3]
    gt = case.camera.to_photo_frame(case.gt_vertices)
    pred[:, 2] += (gt[:, 2].min() + gt[:, 2].max()) / 2 - (pred[:, 2].min() + pred[:, 2].max()) / 2
    # The photo frame is left-handed (row grows downwards): flip one axis so orientation is kept.
    flip = np.array([1.0, -1.0, 1.0])
    pred_v, gt_v = pred * flip, gt * flip
    diagonal = float(np.linalg.norm(gt_v.max(0) - gt_v.min(0)))
    pp, pn = sample_surface(pred_v, faces, points, seed=1)
    gp, gn = sample_surface(gt_v, case.gt_faces, points, seed=2)
    scores = surface_scores(pp, pn, gp, gn, diagonal)
    if volume:
        scores["volume_iou"] = volume_iou(pred_v, faces, gt_v, case.gt_faces)
    return scores


def evaluate(models=("classical",), mesh_dir=HELDOUT, views: int = 2, resolution: int = 128, seed: int = 0,
             size: int = 384, progress: Optional[Callable[[str], None]] = None) -> list:
    """Every model on every rendered case; a list of per-case score dicts."""
    return score_every(render_cases(mesh_dir, views, size, seed), models, score_case, resolution, progress)


def score_every(cases, models, score, resolution: int, progress: Optional[Callable[[str], None]] = None,
                what: str = "") -> list:
    """``score(case, model, resolution)`` for every case and model, saying each as it starts."""
    rows = []
    for case in cases:
        for model in models:
            if progress:
                progress(f"{case.name} / {model}{what}")
            rows.append(score(case, model, resolution))
    return rows


def summary_table(rows: list) -> str:
    """Markdown: one line per model with the mean of each metric, then one per case."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    header = "| model | Chamfer-L1 (lower better) | F-score@1% | F-score@2% | volume IoU | normal consistency " \
             "| printable | s per model |"
    lines = [header, "|---|---|---|---|---|---|---|---|"]
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        mean = lambda key: float(np.nanmean([r[key] for r in mine]))
        lines.append(f"| {model} | {mean('chamfer_l1'):.4f} | {100 * mean('f_score_1'):.1f} | "
                     f"{100 * mean('f_score_2'):.1f} | {mean('volume_iou'):.3f} | {mean('normal_consistency'):.3f} | "
                     f"{100 * mean('printable'):.0f} % | {mean('seconds'):.2f} |")
    lines += ["", "| case | model | Chamfer-L1 | F@1% | F@2% | IoU | NC | printable |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['model']} | {r['chamfer_l1']:.4f} | {100 * r['f_score_1']:.1f} | "
                     f"{100 * r['f_score_2']:.1f} | {r['volume_iou']:.3f} | {r['normal_consistency']:.3f} | "
                     f"{'yes' if r['printable'] else 'NO'} |")
    return "\n".join(lines)
