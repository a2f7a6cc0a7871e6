"""Photo -> 3MF wall time and peak memory, and sparse vs dense volumes, in one run.

Every case runs in its own Python process so its peak resident memory (ru_maxrss)
is its own. Prints a Markdown table.

    python benchmarks/pipeline_speed_memory.py [--samples hamburger,poly_fox] [--full]

``--full`` adds resolution 1024 (the "fits in 8 GiB" check) and 512 for every sample.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from isolated import ROOT, run_case

CHILD = r'''
import json, resource, sys, time
case = json.loads(sys.argv[1])
start = time.perf_counter()
if case["kind"] == "pipeline":
    from fabricate.pipeline import MakeOptions, make_model, write_outputs
    result = make_model(case["photo"], MakeOptions(printer="bambu-a1", resolution=case["resolution"]))
    write_outputs(result, case["out"], report_json=False)
    extra = {"triangles": result.validation.faces, "ok": result.validation.ok}
else:
    import numpy as np
    from fabricate.image import extract_foreground, load_photo
    from fabricate.reconstruct import ClassicalReconstructor
    from skimage.measure import marching_cubes
    fg = extract_foreground(load_photo(case["photo"]))
    start = time.perf_counter()
    model = ClassicalReconstructor()
    if case["kind"] == "sparse":
        volume = model.reconstruct(fg, case["resolution"]).volume
        vertices, faces = volume.extract_surface()
        extra = {"volume_bytes": volume.nbytes, "triangles": len(faces)}
    else:
        dense = model.dense_volume(fg, case["resolution"])
        vertices, faces, _, _ = marching_cubes(np.pad(dense, 1, constant_values=3.0), 0.0)
        extra = {"volume_bytes": dense.nbytes, "triangles": len(faces)}
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, **extra}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="hamburger,poly_fox,robot")
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    mib = lambda b: b / 2 ** 20
    photos = [ROOT / "samples" / f"{name}.png" for name in args.samples.split(",")]
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}\n")
    print("| photo -> 3MF | resolution | wall s | peak RSS MiB | triangles | printable |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        resolutions = [(256, photos), (512, photos if args.full else photos[:1])]
        if args.full:
            resolutions.append((1024, photos[:1]))
        for resolution, chosen in resolutions:
            for photo in chosen:
                r = run_case(CHILD, {"kind": "pipeline", "photo": str(photo), "resolution": resolution,
                              "out": os.path.join(tmp, photo.stem + ".3mf")})
                if "error" in r:
                    print(f"| {photo.stem} | {resolution} | error: {r['error']} | | | |")
                    continue
                print(f"| {photo.stem} | {resolution} | {r['seconds']:.2f} | {mib(r['peak_bytes']):.0f} | "
                      f"{r['triangles']} | {'yes' if r['ok'] else 'NO'} |")
        print("\n| volume at 512 (" + photos[0].stem + ") | build + extract s | volume MiB | peak RSS MiB | triangles |")
        print("|---|---|---|---|---|")
        rows = {}
        for kind in ("sparse", "dense"):
            rows[kind] = r = run_case(CHILD, {"kind": kind, "photo": str(photos[0]), "resolution": 512})
            print(f"| {kind} | {r['seconds']:.2f} | {mib(r['volume_bytes']):.1f} | {mib(r['peak_bytes']):.0f} | "
                  f"{r['triangles']} |")
        s, d = rows["sparse"], rows["dense"]
        print(f"| dense / sparse | {d['seconds'] / s['seconds']:.1f}x | {d['volume_bytes'] / s['volume_bytes']:.1f}x | "
              f"{d['peak_bytes'] / s['peak_bytes']:.1f}x | |")


if __name__ == "__main__":
    main()
