"""Photo -> 3MF wall time and peak memory, and sparse vs dense volumes, in one run.

Every case runs in its own Python process so its peak resident memory (ru_maxrss)
is its own. Prints a Markdown table.

    python benchmarks/pipeline_speed_memory.py [--samples hamburger,poly_fox] [--full]
        [--volume-resolutions 512,1024]

``--full`` adds resolution 1024 and 512 for every sample. The volume table builds the
same distance field sparse (the narrow band of 8^3 blocks, the compiled extraction) and
dense (float32 on every sample of the object's bounding grid, padded by one sample of
the outside value in the same allocation, samples within LEVEL_GAP of the level moved off
it as the sparse extraction does, one marching-cubes call), each in its own
process: build + extract time, the volume's bytes, peak RSS, and how far apart the two
surfaces are (the largest distance from a vertex of one to the nearest vertex of the
other, in voxels: marching cubes puts both on the same grid edges). Per-stage figures:
benchmarks/stage_profile.py. Targets (2 cores): photo -> 3MF at 256 <= 3 s and
<= 1 GiB (median over the samples), at 1024 <= 15 s and <= 4 GiB; sparse against dense at
1024 >= 12x faster to build and extract and >= 20x less memory, the same surface.
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
    seconds = time.perf_counter() - start
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
        from fabricate.reconstruct.sparse_volume import LEVEL_GAP
        dense = model.dense_volume(fg, case["resolution"], pad=1)
        # The sparse extraction's one preparation: no sample within LEVEL_GAP of the level.
        near = np.abs(dense) < LEVEL_GAP
        dense[near] = np.where(dense[near] < 0, -LEVEL_GAP, LEVEL_GAP)
        del near
        vertices, faces, _, _ = marching_cubes(dense, 0.0)
        vertices -= 1.0  # the padding sample
        extra = {"volume_bytes": dense.nbytes, "triangles": len(faces)}
    seconds = time.perf_counter() - start
    np.save(case["vertices"], np.asarray(vertices, np.float32))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"seconds": seconds, "peak_bytes": peak, **extra}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="hamburger,poly_fox,robot")
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--volume-resolutions", default="1024", help="sparse vs dense at these (comma-separated)")
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
        for resolution in [int(r) for r in args.volume_resolutions.split(",") if r]:
            volume_table(photos[0], resolution, tmp)


def volume_table(photo, resolution: int, tmp: str) -> None:
    """Sparse against dense for one photo at one resolution, each in its own process."""
    import numpy as np
    from scipy.spatial import cKDTree

    mib = lambda b: b / 2 ** 20
    print(f"\n| volume at {resolution} ({photo.stem}) | build + extract s | volume MiB | peak RSS MiB | triangles |")
    print("|---|---|---|---|---|")
    rows = {}
    for kind in ("sparse", "dense"):
        rows[kind] = r = run_case(CHILD, {"kind": kind, "photo": str(photo), "resolution": resolution,
                                         "vertices": os.path.join(tmp, f"{kind}.npy")})
        if "error" in r:
            print(f"| {kind} | error: {r['error']} | | | |")
            return
        print(f"| {kind} | {r['seconds']:.2f} | {mib(r['volume_bytes']):.1f} | {mib(r['peak_bytes']):.0f} | "
              f"{r['triangles']} |")
    s, d = rows["sparse"], rows["dense"]
    print(f"| dense / sparse | {d['seconds'] / s['seconds']:.1f}x | {d['volume_bytes'] / s['volume_bytes']:.1f}x | "
          f"{d['peak_bytes'] / s['peak_bytes']:.1f}x | |")
    sparse_vertices, dense_vertices = (np.load(os.path.join(tmp, f"{k}.npy")) for k in ("sparse", "dense"))
    apart = np.concatenate([cKDTree(dense_vertices).query(sparse_vertices)[0],
                            cKDTree(sparse_vertices).query(dense_vertices)[0]])
    print(f"\nSame surface: {s['triangles']} and {d['triangles']} triangles, {len(sparse_vertices)} and "
          f"{len(dense_vertices)} vertices; each vertex's distance to the other surface's nearest: median "
          f"{np.median(apart):.2g}, 99.99th percentile {np.percentile(apart, 99.99):.2g}, largest {apart.max():.2g} "
          f"voxels ({int((apart > 1e-3).sum())} over 0.001).")


if __name__ == "__main__":
    main()
