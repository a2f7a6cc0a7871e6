"""Evaluation: render held-out meshes, reconstruct them, score against the truth."""
from fabricate.evaluate.metrics import surface_scores, volume_iou
from fabricate.sampling import sample_surface
from fabricate.evaluate.run import HELDOUT, evaluate, render_cases, summary_table

__all__ = ["sample_surface", "surface_scores", "volume_iou",
           "evaluate", "render_cases", "summary_table", "HELDOUT"]
