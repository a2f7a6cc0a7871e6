"""Photo -> 3MF, stage by stage: time and peak memory per sample at 256, 512 and 1024.

Every case runs in its own Python process (benchmarks/isolated.py), so its peak
resident memory is its own. Each output is then checked outside the timing: read back
from the 3MF, judged by the full ``validate_mesh`` and by independent checks (every
directed edge has exactly one reverse twin, manifold3d accepts it, positive volume).

With ``--baseline DIR`` (a folder holding an earlier ``fabricate`` package, e.g.
``git archive <commit> fabricate printer_profiles | tar -x -C DIR``: the printers live beside the
package) every case also runs on that code in
the same run, interleaved, and the table gets the ratio and whether the placed mesh is
bit for bit the same. The cores may be shared: read absolute seconds with that in mind
and trust the ratios more.

    python benchmarks/stage_profile.py [--resolutions 256,512,1024] [--samples robot,hamburger]
        [--large-samples hamburger] [--baseline DIR]

``--large-samples`` limits 512 and 1024 to those samples (default: hamburger).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

from isolated import ROOT, run_case

SAMPLES = ("chair", "hamburger", "mushroom_house", "poly_fox", "robot", "teapot")
STAGES = ("image", "reconstruct", "mesh", "color", "validate", "printing", "write")

CHILD = r'''
import hashlib, json, resource, sys, time
import numpy as np
case = json.loads(sys.argv[1])
from fabricate.pipeline import MakeOptions, make_model, write_outputs

def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

peak_by_stage = {}
def progress(stage, fraction):
    peak_by_stage[stage] = rss_mib()  # the process peak so far, as each stage goes on

start = time.perf_counter()
result = make_model(case["photo"], MakeOptions(printer="bambu-a1", resolution=case["resolution"]), progress=progress)
write_outputs(result, case["out"], report_json=False, progress=progress)
seconds = time.perf_counter() - start
peak = rss_mib()

# Outside the timing: the file as written, judged again.
from fabricate.export import read_3mf
from fabricate.manifold import as_manifold
from fabricate.mesh import validate_mesh
mesh = read_3mf(case["out"])
report = validate_mesh(mesh)
faces = mesh.faces
edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
keys = edges[:, 0] * len(mesh.vertices) + edges[:, 1]
reverse = edges[:, 1] * len(mesh.vertices) + edges[:, 0]
unique, counts = np.unique(keys, return_counts=True)
position = np.minimum(np.searchsorted(unique, reverse), len(unique) - 1)
twinned = bool((counts == 1).all() and (unique[position] == reverse).all())
solid = as_manifold(mesh.vertices, mesh.faces)
independent = twinned and solid.status().name == "NoError" and solid.volume() > 0
digest = hashlib.sha256(result.mesh.vertices.tobytes() + result.mesh.faces.tobytes()).hexdigest()[:16]
print(json.dumps({"seconds": seconds, "peak_mib": peak, "stages": result.seconds, "peak_by_stage": peak_by_stage,
                  "triangles": len(result.mesh.faces), "validated": report.ok, "independent": independent,
                  "digest": digest}))
'''


def cases(resolutions, samples, large_samples):
    for resolution in resolutions:
        for sample in (samples if resolution <= 256 else large_samples):
            yield resolution, sample


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", default="256,512,1024")
    parser.add_argument("--samples", default=",".join(SAMPLES))
    parser.add_argument("--large-samples", default="hamburger")
    parser.add_argument("--baseline", default=None, help="folder with an earlier fabricate package")
    args = parser.parse_args()
    resolutions = [int(r) for r in args.resolutions.split(",")]
    samples, large = args.samples.split(","), args.large_samples.split(",")
    trees = [("new", ROOT)] + ([("baseline", Path(args.baseline).resolve())] if args.baseline else [])
    print(f"cores: {os.cpu_count()} (shared: absolute times are noisy), python {sys.version.split()[0]}\n")
    header = ("| code | sample | res | total s | " + " | ".join(f"{s} s" for s in STAGES)
              + " | peak MiB | peak stage | triangles | validated | independent checks |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for resolution, sample in cases(resolutions, samples, large):
            for label, root in trees:
                photo = ROOT / "samples" / f"{sample}.png"
                r = run_case(CHILD, {"photo": str(photo), "resolution": resolution,
                                     "out": os.path.join(tmp, f"{label}_{sample}_{resolution}.3mf")}, root)
                results[label, resolution, sample] = r
                if "error" in r:
                    print(f"| {label} | {sample} | {resolution} | error: {r['error']} |")
                    continue
                st = r["stages"]
                first_at_peak = next((s for s, m in r["peak_by_stage"].items() if m >= r["peak_mib"] - 1), "")
                print(f"| {label} | {sample} | {resolution} | {r['seconds']:.2f} | "
                      + " | ".join(f"{st.get(s, 0.0):.2f}" for s in STAGES)
                      + f" | {r['peak_mib']:.0f} | {first_at_peak} | {r['triangles']} | "
                        f"{'yes' if r['validated'] else 'NO'} | {'yes' if r['independent'] else 'NO'} |", flush=True)
    print("\n| res | samples | median total s (new) | max peak MiB (new) | all printable |"
          + (" median baseline s | baseline / new | identical meshes |" if len(trees) > 1 else ""))
    print("|---|---|---|---|---|" + ("---|---|---|" if len(trees) > 1 else ""))
    for resolution in resolutions:
        chosen = samples if resolution <= 256 else large
        new = [results["new", resolution, s] for s in chosen if "error" not in results["new", resolution, s]]
        if not new:
            continue
        line = (f"| {resolution} | {len(new)} | {statistics.median(r['seconds'] for r in new):.2f} | "
                f"{max(r['peak_mib'] for r in new):.0f} | "
                f"{'yes' if all(r['validated'] and r['independent'] for r in new) else 'NO'} |")
        if len(trees) > 1:
            pairs = [(results["baseline", resolution, s], results["new", resolution, s]) for s in chosen]
            pairs = [(b, n) for b, n in pairs if "error" not in b and "error" not in n]
            if not pairs:
                print(line + " | | |")
                continue
            base = statistics.median(b["seconds"] for b, _ in pairs)
            ratio = statistics.median(b["seconds"] / n["seconds"] for b, n in pairs)
            same = sum(b["digest"] == n["digest"] for b, n in pairs)
            line += f" {base:.2f} | {ratio:.2f}x | {same} of {len(pairs)} |"
        print(line)


if __name__ == "__main__":
    main()
