"""Four photos -> 3MF next to one photo of the same object: wall time and peak memory, in one run.

The photos are rendered from a training mesh (front, left, back, right, each framed
on its own like a handheld shot); every case runs in its own Python process so its
peak resident memory (ru_maxrss) is its own. Prints a Markdown table.

    python benchmarks/multiview_speed.py [--mesh ../shared/meshes/train/NAME.obj] [--resolution 256]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from isolated import ROOT, run_case
TRAIN = ROOT.parent / "shared" / "meshes" / "train"

CHILD = r'''
import json, resource, sys, time
case = json.loads(sys.argv[1])
from fabricate.pipeline import MakeOptions, make_model, write_outputs
start = time.perf_counter()
result = make_model(case["photos"], MakeOptions(printer="bambu-a1", resolution=case["resolution"],
                                                views=case["views"]))
write_outputs(result, case["out"], report_json=False)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "triangles": result.validation.faces,
                  "ok": result.validation.ok, "stages": result.seconds}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", default=None, help="A training mesh (.obj) [default: the first in shared/meshes/train]")
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from fabricate.evaluate.multiview import render_view_sets

    mesh = Path(args.mesh) if args.mesh else sorted(TRAIN.glob("*.obj"))[0]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "mesh"
        folder.mkdir()
        (folder / mesh.name).symlink_to(mesh.resolve())
        view_set = render_view_sets(folder, count=4)[0]
        paths = []
        for index, photo in enumerate(view_set.photos):
            paths.append(str(Path(tmp) / f"{mesh.stem}_{index}.png"))
            Path(paths[-1]).write_bytes(photo)
        print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, mesh {mesh.stem}, "
              f"resolution {args.resolution}\n")
        print("| photos -> 3MF | wall s | peak RSS MiB | image s | reconstruct s | mesh s | color s | triangles | printable |")
        print("|---|---|---|---|---|---|---|---|---|")
        rows = {}
        for count, views in ((1, "front"), (4, "front,left,back,right")):
            r = rows[count] = run_case(CHILD, {"photos": paths[:count], "views": views, "resolution": args.resolution,
                                        "out": str(Path(tmp) / f"out{count}.3mf")})
            if "error" in r:
                print(f"| {count} | error: {r['error']} | | | | | | | |")
                continue
            st = r["stages"]
            print(f"| {count} | {r['seconds']:.2f} | {r['peak_bytes'] / 2 ** 20:.0f} | {st['image']:.2f} | "
                  f"{st['reconstruct']:.2f} | {st['mesh']:.2f} | {st['color']:.2f} | {r['triangles']} | "
                  f"{'yes' if r['ok'] else 'NO'} |")
        if all("error" not in r for r in rows.values()):
            print(f"| 4 / 1 | {rows[4]['seconds'] / rows[1]['seconds']:.2f}x | "
                  f"{rows[4]['peak_bytes'] / rows[1]['peak_bytes']:.2f}x | | | | | | |")


if __name__ == "__main__":
    main()
