"""Evaluation: render held-out meshes, reconstruct them, score against the truth."""
from fabricate.evaluate.metrics import sample_surface, surface_scores, volume_iou
from fabricate.render import Camera, orbit_camera, render_mesh  # noqa: F401  (re-exported for evaluation users)
from fabricate.evaluate.run import HELDOUT, evaluate, render_cases, summary_table

__all__ = ["Camera", "orbit_camera", "render_mesh", "sample_surface", "surface_scores", "volume_iou",
           "evaluate", "render_cases", "summary_table", "HELDOUT"]
