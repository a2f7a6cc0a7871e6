"""Colour and asset stages of issue 16: delighting, the textured GLB bake, the quad remesh. Prints a Markdown table.

One model made from a sample photo (with and without delighting: the colour stage's time
each way, the baseline being the colour stage without it); its textured GLB at the default
texture and triangle budget (baseline: the plain vertex-coloured GLB of the same model);
its quad-dominant remesh from the model decimated to exactly the given triangle count
(baseline: that decimation). The machine's cores are shared with other work: figures vary
by tens of percent between runs.

    python benchmarks/colour_assets.py [--sample hamburger] [--glb-triangles 50000] [--quad-input 100000]
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from fabricate.export.formats import export_glb  # noqa: E402
from fabricate.export.quads import DEFAULT_QUADS, quad_remesh  # noqa: E402
from fabricate.export.textured import DEFAULT_TEXTURE_SIZE, bake_textured, export_textured_glb  # noqa: E402
from fabricate.mesh.simplify import simplify_mesh  # noqa: E402
from fabricate.pipeline import MakeOptions, make_model  # noqa: E402

PRINTER = "bambu-a1"
#: Issue 16's targets, seconds.
GLB_TARGET_S, QUAD_TARGET_S = 5.0, 10.0


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample", default="hamburger")
    parser.add_argument("--glb-triangles", type=int, default=50_000)
    parser.add_argument("--quad-input", type=int, default=100_000)
    args = parser.parse_args()
    photo = str(ROOT / "samples" / f"{args.sample}.png")
    plain = make_model(photo, MakeOptions(printer=PRINTER, delight="off"))
    delit = make_model(photo, MakeOptions(printer=PRINTER, delight="auto"))
    mesh = delit.mesh
    rows = [("colour stage, photo colours (baseline)", plain.seconds["color"], None, ""),
            ("colour stage, delit", delit.seconds["color"], None,
             f"{delit.seconds['color'] / plain.seconds['color']:.1f}x the baseline")]

    stream = io.BytesIO()
    _, plain_glb = timed(export_glb, mesh, stream)
    rows.append((f"vertex-coloured GLB, {len(mesh.faces):,} triangles (baseline)", plain_glb, None, ""))
    stream = io.BytesIO()
    _, glb = timed(export_textured_glb, mesh, stream, texture_size=DEFAULT_TEXTURE_SIZE,
                   asset_triangles=args.glb_triangles)
    asset = bake_textured(mesh, DEFAULT_TEXTURE_SIZE, args.glb_triangles)
    rows.append((f"textured GLB bake + write, {len(mesh.faces):,} -> {len(asset.faces):,} triangles, "
                 f"{DEFAULT_TEXTURE_SIZE} texels", glb, GLB_TARGET_S,
                 f"{asset.covered:.0%} of the texture covered, {len(stream.getvalue()) / 2**20:.1f} MiB"))

    source, decimate = timed(simplify_mesh, mesh, args.quad_input)
    rows.append((f"decimation {len(mesh.faces):,} -> {len(source.faces):,} triangles (baseline)", decimate, None, ""))
    quads, remesh = timed(quad_remesh, source, DEFAULT_QUADS)
    rows.append((f"quad remesh of {len(source.faces):,} triangles -> {len(quads.faces):,} faces", remesh, QUAD_TARGET_S,
                 f"{quads.quad_share:.1%} quads, {remesh / decimate:.1f}x the baseline"))

    print(f"{args.sample}: {len(mesh.faces):,} triangles; {os.cpu_count()} cores, shared with other work "
          "(figures vary between runs)\n")
    print("| step | seconds | target | notes |")
    print("|---|---:|---:|---|")
    for name, seconds, target, note in rows:
        verdict = "" if target is None else f"{target:g} s {'met' if seconds <= target else 'MISSED'}"
        print(f"| {name} | {seconds:.2f} | {verdict} | {note} |")


if __name__ == "__main__":
    main()
