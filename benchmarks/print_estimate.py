"""How close the print estimate (fabricate/printing/estimate.py) comes to PrusaSlicer's own figures.

Makes models of the bundled samples at several heights, filament counts and support modes,
slices each 3MF with the real PrusaSlicer and prints, per case, the estimate against the
slicer (grams, hours, tool changes) and the mean absolute error in percent. With ``--fit`` it
also fits the time constants (least squares over the cases' shell, infill, layers and changes)
that ``CALIBRATION`` holds.

    .venv/bin/python benchmarks/print_estimate.py [--fit] [--resolution 128]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fabricate.export.slice import find_prusaslicer, slice_3mf  # noqa: E402
from fabricate.options import MakeOptions  # noqa: E402
from fabricate.pipeline import make_model, write_outputs  # noqa: E402
from fabricate.printing import estimate  # noqa: E402

#: (sample, height mm, filaments, supports): one colour and several, small and large, with and without support.
CASES = [
    ("hamburger", 40, 1, "off"), ("hamburger", 90, 1, "off"), ("robot", 50, 1, "off"), ("robot", 110, 1, "off"),
    ("chair", 60, 1, "off"), ("mushroom_house", 80, 1, "off"), ("robot", 70, 1, "normal"),
    ("chair", 70, 2, "off"), ("hamburger", 60, 4, "off"),
]


def terms(placed, settings, nozzle, face_filament) -> tuple:
    """The models' inputs for one case: the time terms (shell + support volume, infill volume, layers,
    changes), and the grams without purges and supports, per mm³ of purge, per unit of support fill."""
    seconds = {}
    saved = dict(estimate.CALIBRATION), estimate.PURGE_MM3_PER_CHANGE, estimate.SUPPORT_FILL

    def grams(purge, fill):
        estimate.PURGE_MM3_PER_CHANGE, estimate.SUPPORT_FILL = purge, fill
        return estimate.estimate_print(placed, settings, nozzle, face_filament).grams

    try:  # read each term's share by switching the others off
        for key in saved[0]:
            estimate.CALIBRATION.update({k: (1.0 if k == key else 0.0) for k in saved[0]})
            seconds[key] = estimate.estimate_print(placed, settings, nozzle, face_filament).hours * 3600
        base = grams(0.0, 0.0)
        weights = [base, grams(1000.0, 0.0) - base, grams(0.0, 1.0) - base]  # per 1000 mm³ for resolution
    finally:
        estimate.CALIBRATION.update(saved[0])
        estimate.PURGE_MM3_PER_CHANGE, estimate.SUPPORT_FILL = saved[1], saved[2]
    return np.array([seconds[k] for k in saved[0]]), np.array(weights)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="fit CALIBRATION's time constants to these cases")
    parser.add_argument("--resolution", type=int, default=128)
    args = parser.parse_args()
    if find_prusaslicer() is None:
        print("PrusaSlicer is not installed: nothing to compare with")
        return 1
    rows, design, truth, weights, grams_truth = [], [], [], [], []
    with tempfile.TemporaryDirectory() as folder:
        for sample, height, colours, supports in CASES:
            options = MakeOptions(printer="prusa-mk4s-mmu3", height_mm=height, colors=colours, supports=supports,
                                  resolution=args.resolution)
            result = make_model(os.path.join(ROOT, "samples", f"{sample}.png"), options)
            path = os.path.join(folder, f"{sample}-{height}.3mf")
            write_outputs(result, path, report_json=False)
            sliced = slice_3mf(path)
            guess = estimate.estimate_print(result.mesh, result.settings, result.printer.nozzle_diameter_mm,
                                            result.filaments.face_filament)
            timing, weighing = terms(result.mesh, result.settings, result.printer.nozzle_diameter_mm,
                                     result.filaments.face_filament)
            design.append(timing)
            truth.append(sliced.print_time_s)
            weights.append(weighing)
            grams_truth.append(sum(sliced.filament_g))
            rows.append((f"{sample} {height} mm, {colours} fil., supports {supports}", guess,
                         estimate.estimate_from_slice(sliced)))
    print("| case | grams est. / slicer | hours est. / slicer | changes est. / slicer |")
    print("|---|---|---|---|")
    for name, guess, real in rows:
        print(f"| {name} | {guess.grams:.1f} / {real.grams:.1f} | {guess.hours:.2f} / {real.hours:.2f} | "
              f"{guess.tool_changes} / {real.tool_changes} |")
    grams = np.mean([abs(g.grams / r.grams - 1) for _, g, r in rows]) * 100
    hours = np.mean([abs(g.hours / r.hours - 1) for _, g, r in rows]) * 100
    print(f"\nmean absolute error: grams {grams:.1f} %, time {hours:.1f} % ({len(rows)} cases, PrusaSlicer)")
    if args.fit:
        from scipy.optimize import nnls

        # Relative, non-negative least squares: each case weighs the same whatever its length.
        a, b = np.array(design), np.array(truth, float)
        fitted, _ = nnls(a / b[:, None], np.ones(len(b)))
        print("fitted CALIBRATION:", {k: round(float(v), 4) for k, v in zip(estimate.CALIBRATION, fitted)})
        w, g = np.array(weights), np.array(grams_truth)
        extra, _ = nnls(w[:, 1:] / g[:, None], 1 - w[:, 0] / g)
        print(f"fitted PURGE_MM3_PER_CHANGE: {extra[0] * 1000:.0f}; SUPPORT_FILL: {extra[1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
