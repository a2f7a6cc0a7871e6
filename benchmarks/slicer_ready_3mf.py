"""Colour reduction, slicer-ready 3MF writing and PrusaSlicer slicing at 100k, 200k and 500k triangles.

Baselines measured in the same run: the same mesh written by lib3mf (geometry and colour
group only, as fabricate's writer did before its one streamed pass; lib3mf is now only the
tests' reader), and slicing the same mesh with one filament. Prints a Markdown table.

    python benchmarks/slicer_ready_3mf.py [--sample poly_fox] [--sizes 100000,200000,500000]
"""
from __future__ import annotations

import argparse
import ctypes
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabricate.color.lab import to_hex  # noqa: E402
from fabricate.color.palette import assign_filaments  # noqa: E402
from fabricate.export import write_3mf  # noqa: E402
from fabricate.export.slice import find_prusaslicer, slice_3mf  # noqa: E402
from fabricate.export.slicer_parts import SlicerParts  # noqa: E402
from fabricate.export.threemf import palette_indices  # noqa: E402
from fabricate.mesh import simplify_mesh  # noqa: E402
from fabricate.pipeline import MakeOptions, make_model  # noqa: E402
from fabricate.printing import get_printer  # noqa: E402
from fabricate.printing.settings import Filament, build_settings  # noqa: E402


def lib3mf_write(path, mesh) -> None:
    """The baseline: geometry and per-triangle colours through lib3mf's C API, no slicer parts."""
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.SetUnit(lib3mf.ModelUnit.MilliMeter)
    obj = model.AddMeshObject()
    vertices = np.ascontiguousarray(mesh.vertices, np.float32)
    faces = np.ascontiguousarray(mesh.faces, np.uint32)
    n, m = len(vertices), len(faces)
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_setgeometry(
        obj._handle, ctypes.c_uint64(n), (lib3mf.Position * n).from_buffer(vertices),
        ctypes.c_uint64(m), (lib3mf.Triangle * m).from_buffer(faces)))
    palette, index = palette_indices(mesh.face_colours)
    group = model.AddColorGroup()
    for r, g, b in palette:
        group.AddColor(wrapper.RGBAToColor(int(r), int(g), int(b), 255))
    properties = np.empty((m, 4), np.uint32)
    properties[:, 0] = group.GetResourceID()
    properties[:, 1:] = (index + 1).astype(np.uint32)[:, None]
    wrapper.checkError(obj, wrapper.lib.lib3mf_meshobject_setalltriangleproperties(
        obj._handle, ctypes.c_uint64(m), (lib3mf.TriangleProperties * m).from_buffer(properties)))
    model.AddBuildItem(obj, wrapper.GetIdentityTransform())
    model.QueryWriter("3mf").WriteToFile(str(path))


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", default="poly_fox")
    parser.add_argument("--sizes", default="100000,200000,500000")
    parser.add_argument("--printer", default="prusa-mk4s-mmu3")
    args = parser.parse_args()
    printer = get_printer(args.printer)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = make_model(ROOT / "samples" / f"{args.sample}.png",
                      MakeOptions(printer=args.printer, resolution=1024, max_triangles=max(sizes), colors=1,
                                  height_mm=120)).mesh
    print(f"cores: {os.cpu_count()}; sample {args.sample} on {printer.name}, 120 mm tall; "
          f"PrusaSlicer: {find_prusaslicer() or 'not installed'}\n")
    print("| triangles | colour reduction s (4 filaments) | lib3mf 3MF write s / MB (baseline) | plain 3MF write s / MB "
          "| slicer-ready 3MF write s / MB | lib3mf / slicer-ready | slice s, 1 filament | slice s, 4 filaments "
          "| slice ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            mesh = simplify_mesh(base, size)
            t_colour, filaments = timed(assign_filaments, mesh, 4)
            painted = mesh.copy(face_colours=filaments.palette[filaments.face_filament])
            settings = build_settings(printer, "standard", filaments=[Filament(to_hex(c)) for c in filaments.palette])
            single = build_settings(printer, "standard", filaments=[Filament("#808080")])
            lib3mf_path, plain_path, ready_path, one_path = (os.path.join(tmp, f"{n}{size}.3mf")
                                                             for n in ("lib3mf", "plain", "ready", "one"))
            t_lib3mf, _ = timed(lib3mf_write, lib3mf_path, painted)
            t_plain, _ = timed(write_3mf, plain_path, painted)
            t_ready, _ = timed(write_3mf, ready_path, painted,
                               slicer_parts=SlicerParts(filaments.face_filament, settings, printer))
            write_3mf(one_path, mesh, slicer_parts=SlicerParts(filaments.face_filament * 0, single, printer))
            mb = lambda p: os.path.getsize(p) / 1e6
            row = (f"| {len(mesh.faces):,} | {t_colour:.2f} | {t_lib3mf:.2f} / {mb(lib3mf_path):.1f} | "
                   f"{t_plain:.2f} / {mb(plain_path):.1f} | {t_ready:.2f} / {mb(ready_path):.1f} | "
                   f"{t_lib3mf / t_ready:.2f}x |")
            if find_prusaslicer():
                one = slice_3mf(one_path).seconds
                four = slice_3mf(ready_path).seconds
                row += f" {one:.1f} | {four:.1f} | {four / one:.2f}x |"
            else:
                row += " n/a | n/a | n/a |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
