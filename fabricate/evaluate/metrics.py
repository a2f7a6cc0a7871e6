"""Distances between a reconstruction and the ground truth."""
from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


def surface_scores(pred_points, pred_normals, gt_points, gt_normals, scale: float,
                   thresholds=(0.01, 0.02)) -> dict:
    """Chamfer-L1, F-scores and normal consistency, distances divided by ``scale``.

    Chamfer-L1 is the mean of the two directed mean nearest-neighbour distances.
    F-score at t: harmonic mean of precision (predicted points within t of the truth)
    and recall (true points within t of the prediction). Normal consistency: mean
    |cos| between each point's normal and its nearest neighbour's, both ways.
    """
    d_pred, i_pred = cKDTree(gt_points).query(pred_points, workers=-1)
    d_gt, i_gt = cKDTree(pred_points).query(gt_points, workers=-1)
    d_pred, d_gt = d_pred / scale, d_gt / scale
    scores = {"chamfer_l1": float((d_pred.mean() + d_gt.mean()) / 2)}
    for t in thresholds:
        precision, recall = float((d_pred < t).mean()), float((d_gt < t).mean())
        scores[f"f_score_{round(t * 100)}"] = 0.0 if precision + recall == 0 else \
            2 * precision * recall / (precision + recall)
    consistency = np.concatenate([np.abs(np.einsum("ij,ij->i", pred_normals, gt_normals[i_pred])),
                                  np.abs(np.einsum("ij,ij->i", gt_normals, pred_normals[i_gt]))])
    scores["normal_consistency"] = float(consistency.mean())
    return scores


def volume_iou(pred_vertices, pred_faces, gt_vertices, gt_faces, resolution: int = 64) -> float:
    """Intersection over union of the two solids on a grid; insides by generalised winding number.

    The winding number also gives a sensible inside for ground-truth meshes with holes.
    """
    import igl

    lo = np.minimum(pred_vertices.min(0), gt_vertices.min(0))
    hi = np.maximum(pred_vertices.max(0), gt_vertices.max(0))
    axes = [np.linspace(lo[i], hi[i], resolution) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    inside = lambda v, f: np.abs(igl.fast_winding_number(np.ascontiguousarray(v, np.float64),
                                                         np.ascontiguousarray(f, np.int64), grid)) >= 0.5
    a, b = inside(pred_vertices, pred_faces), inside(gt_vertices, gt_faces)
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0
