"""Command line: `fabricate make`, `fabricate printers`, `fabricate check`.

Exit codes: 0 success, 2 bad input (or a mesh `check` finds unprintable), 1 internal error.
"""
from __future__ import annotations

import os
import sys

import click

from fabricate import __version__
from fabricate.errors import FabricateError, InputError, MeshError

EXIT_OK, EXIT_INTERNAL, EXIT_INPUT = 0, 1, 2


class StageBars:
    """One tqdm bar per pipeline stage, on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}

    def __call__(self, stage: str, fraction: float) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = tqdm(total=100, desc=f"{stage:<11}", unit="%", file=sys.stderr, leave=True,
                       bar_format="{desc} {bar} {n:3.0f}% {elapsed}")
            self.bars[stage] = bar
        bar.n = round(100 * fraction)
        bar.refresh()
        if fraction >= 1.0:
            bar.close()

    def close(self):
        for bar in self.bars.values():
            bar.close()


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run(action):
    """Run a command body, turning our errors into one line and an exit code."""
    try:
        return action()
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    except MeshError as exc:
        _fail(str(exc), EXIT_INTERNAL)
    except FabricateError as exc:
        _fail(str(exc), EXIT_INTERNAL)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: one line unless the user asks for the traceback
        if os.environ.get("FABRICATE_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set FABRICATE_DEBUG=1 for details)", EXIT_INTERNAL)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fabricate")
def main():
    """Turn a photo of an object into a watertight, coloured, print-ready 3MF."""


@main.command()
@click.argument("photo", type=click.Path(dir_okay=False))
@click.option("--printer", "-p", required=True, help="Printer id, e.g. bambu-a1 (see `fabricate printers`).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Output file: .3mf (recommended), .stl or .glb.")
@click.option("--height-mm", type=float, default=None, help="Model height in mm [default: largest that fits].")
@click.option("--resolution", type=click.Choice(["128", "256", "512", "1024"]), default="256", show_default=True,
              help="Voxels across the object.")
@click.option("--model", default="classical", show_default=True, help="Reconstruction model.")
@click.option("--back", type=click.Choice(["mirror", "thin", "flat"]), default="mirror", show_default=True,
              help="Back surface: mirror of the front, thinner, or flat (a relief plaque).")
@click.option("--back-ratio", type=float, default=0.5, show_default=True, help="Back depth for --back thin.")
@click.option("--depth-scale", type=float, default=1.0, show_default=True, help="Inflation depth multiplier.")
@click.option("--relief", type=float, default=1.0, show_default=True, help="Relief from shading (0 = none).")
@click.option("--orientation", type=click.Choice(["photo", "stable"]), default="photo", show_default=True,
              help="Stand as photographed, or on the most stable face.")
@click.option("--base-cut", type=float, default=0.03, show_default=True,
              help="Share of the height cut off for a flat base (0 = none).")
@click.option("--max-triangles", type=int, default=200_000, show_default=True, help="Triangle budget.")
@click.option("--preset", type=click.Choice(["draft", "standard", "fine"]), default="standard", show_default=True,
              help="Print preset (layer height 0.28 / 0.20 / 0.12 mm for a 0.4 mm nozzle).")
@click.option("--layer-height", type=float, default=None, help="Layer height in mm [default: from the preset].")
@click.option("--walls", type=int, default=None, help="Wall loops (perimeters).")
@click.option("--top-layers", type=int, default=None, help="Solid top layers.")
@click.option("--bottom-layers", type=int, default=None, help="Solid bottom layers.")
@click.option("--infill", type=float, default=None, help="Infill density in percent.")
@click.option("--infill-pattern", default=None, help="gyroid, grid, cubic, honeycomb, rectilinear, triangles, ...")
@click.option("--supports", type=click.Choice(["off", "normal", "tree"]), default=None,
              help="Support material [default: off].")
@click.option("--support-angle", type=float, default=None,
              help="Overhangs flatter than this many degrees above horizontal get support [default: 45].")
@click.option("--support-buildplate-only/--support-anywhere", default=None, help="Supports only from the plate.")
@click.option("--brim-mm", type=float, default=None, help="Brim width in mm [default: 0].")
@click.option("--colors", type=click.IntRange(1, 16), default=None,
              help="Number of filaments [default: 4 on multi-material printers, else 1].")
@click.option("--palette", default=None, help="Your filament colours, e.g. '#FFFFFF,#D02020,#202020'.")
@click.option("--material", default="PLA", show_default=True, help="Filament material.")
@click.option("--slicer", default="all", show_default=True,
              help="Extras for prusa, bambu, orca, generic (comma list) or all.")
@click.option("--slice", "slice_gcode", is_flag=True, help="Slice with PrusaSlicer when installed and report estimates.")
@click.option("--also", multiple=True, type=click.Choice(["stl", "glb"]), help="Also write these formats beside it.")
@click.option("--title", default=None, help="Model title [default: from the photo's name].")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def make(photo, printer, output, height_mm, resolution, model, back, back_ratio, depth_scale, relief, orientation,
         base_cut, max_triangles, preset, layer_height, walls, top_layers, bottom_layers, infill, infill_pattern,
         supports, support_angle, support_buildplate_only, brim_mm, colors, palette, material, slicer, slice_gcode,
         also, title, quiet):
    """Reconstruct PHOTO and write a print-ready model for PRINTER."""
    from fabricate.pipeline import MakeOptions, make_model, write_outputs

    options = MakeOptions(printer=printer, height_mm=height_mm, resolution=int(resolution), model=model, back=back,
                          back_ratio=back_ratio, depth_scale=depth_scale, relief=relief, orientation=orientation,
                          base_cut=base_cut, max_triangles=max_triangles, title=title, preset=preset,
                          layer_height=layer_height, wall_loops=walls, top_layers=top_layers,
                          bottom_layers=bottom_layers, infill_density=infill, infill_pattern=infill_pattern,
                          supports=supports, support_threshold_deg=support_angle,
                          support_buildplate_only=support_buildplate_only, brim_width_mm=brim_mm, colors=colors,
                          palette=palette, material=material, slicer=slicer)
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".3mf", ".stl", ".glb"):
        _fail(f"output must end in .3mf, .stl or .glb, got {output!r}", EXIT_INPUT)
    bars = StageBars(enabled=not quiet and sys.stderr.isatty() or os.environ.get("FABRICATE_PROGRESS") == "1")

    def body():
        try:
            result = make_model(photo, options, progress=bars)
            written = write_outputs(result, output, also=also, progress=bars, slice_gcode=slice_gcode)
        finally:
            bars.close()
        click.echo(f"{result.title}: {result.fit.size_mm[0]:.1f} x {result.fit.size_mm[1]:.1f} x "
                   f"{result.fit.size_mm[2]:.1f} mm on the {printer} ({result.fit.orientation} orientation, "
                   f"mask from {result.mask_source})")
        for line in result.validation.summary_lines():
            click.echo("  " + line)
        for action in result.repairs:
            click.echo("  repaired: " + action)
        st = result.settings
        click.echo(f"  print: {st.preset} preset, layer {st.layer_height:g} mm, {st.wall_loops} walls, "
                   f"infill {st.infill_density:g}% {st.infill_pattern}, supports {st.supports}, brim {st.brim_width_mm:g} mm")
        click.echo("  filaments: " + ", ".join(f"{f['filament']}: {f['colour']} {f['area_share']:.0%}"
                                              for f in result.filaments.summary()))
        for line in result.analysis.summary_lines():
            click.echo("  " + line)
        if result.slice_report is not None:
            click.echo("  " + result.slice_report.summary_line())
        elif slice_gcode:
            click.echo("  not sliced: PrusaSlicer is not installed (apt install prusa-slicer)")
        click.echo("wrote " + ", ".join(written))

    _run(body)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def printers(as_json):
    """List the printer profiles."""
    from fabricate.printing import list_printers

    def body():
        profiles = list_printers()
        if as_json:
            import json

            click.echo(json.dumps([p.to_dict() for p in profiles], indent=2))
            return
        click.echo(f"{'id':<26} {'printer':<30} {'build volume (mm)':<20} {'nozzle':>6} {'filaments':>9}")
        for p in profiles:
            volume = " x ".join(f"{v:g}" for v in p.build_volume_mm)
            if p.bed_shape == "circular":
                volume = f"⌀{p.build_volume_mm[0]:g} x {p.build_volume_mm[2]:g}"
            click.echo(f"{p.id:<26} {p.name:<30} {volume:<20} {p.nozzle_diameter_mm:>6g} {p.filament_slots:>9}")

    _run(body)


@main.command()
@click.argument("mesh_file", type=click.Path(dir_okay=False))
@click.option("--repair", is_flag=True, help="Repair the mesh and write the result.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Where --repair writes [default: NAME.repaired.EXT].")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check(mesh_file, repair, output, as_json):
    """Print the validation report of a 3MF, STL or GLB file (exit 2 if it is not printable)."""
    from fabricate.export import load_mesh_file, write_mesh
    from fabricate.mesh import repair_mesh, validate_mesh

    def body():
        mesh = load_mesh_file(mesh_file)
        report = validate_mesh(mesh)
        _print_report(mesh_file, report, as_json)
        if not repair:
            if not report.ok:
                sys.exit(EXIT_INPUT)
            return
        if report.ok:
            click.echo("nothing to repair")
            return
        repaired, actions = repair_mesh(mesh)
        for action in actions:
            click.echo("repaired: " + action)
        after = validate_mesh(repaired)
        target = output or "{0}.repaired{1}".format(*os.path.splitext(mesh_file))
        write_mesh(target, repaired)
        _print_report(target, after, as_json)
        click.echo(f"wrote {target}")

    _run(body)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Jobs and their files [default: ~/.local/share/fabricate].")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 16), help="Builds at the same time.")
@click.option("--max-upload-mb", default=25.0, show_default=True, type=float, help="Largest photo accepted.")
def serve(host, port, data_dir, workers, max_upload_mb):
    """Start the local web app (open http://HOST:PORT in a browser)."""
    def body():
        import uvicorn

        from web.app import create_app

        app = create_app(data_dir=data_dir, workers=workers, max_upload_mb=max_upload_mb)
        click.echo(f"fabricate {__version__}: open http://{host}:{port}/ (API docs at /docs)")
        uvicorn.run(app, host=host, port=port, log_level="warning")

    _run(body)


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.option("--title", required=True, help="Title on the hub.")
@click.option("--description", default="", help="Description (Markdown).")
@click.option("--licence", default="CC-BY-4.0", show_default=True, help="SPDX licence id.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--preview", type=click.Path(dir_okay=False), default=None, help="Preview PNG [default: rendered].")
@click.option("--hub", default="generic", show_default=True,
              help="generic (HTTP API: FABRICATE_HUB_URL, FABRICATE_HUB_TOKEN), printables or makerworld.")
def share(model_file, title, description, licence, tags, preview, hub):
    """Upload MODEL_FILE (a 3MF) with a preview and metadata to a model-sharing hub."""
    from pathlib import Path

    from fabricate.export import read_3mf
    from fabricate.export.preview import render_preview
    from fabricate.hub import ModelPackage, hub_client

    def body():
        preview_path = preview
        if preview_path is None:
            mesh = read_3mf(model_file)
            preview_path = str(Path(model_file).with_suffix(".preview.png"))
            render_preview(mesh.vertices, mesh.faces, mesh.face_colours if mesh.face_colours is not None
                           else __import__("numpy").full((len(mesh.faces), 3), 200), 512).save(preview_path)
        package = ModelPackage(title=title, model_path=Path(model_file), preview_path=Path(preview_path),
                               description=description, licence=licence, tags=list(tags))
        url = hub_client(hub, out_dir=Path(model_file).parent).upload(package)
        click.echo(f"shared: {url}")

    _run(body)


@main.command(name="eval")
@click.option("--models", default=None, help="Comma list of models [default: all available].")
@click.option("--meshes", type=click.Path(file_okay=False), default=None,
              help="Folder of held-out .obj meshes [default: ../shared/meshes/heldout].")
@click.option("--views", default=2, show_default=True, type=click.IntRange(1, 20), help="Rendered views per mesh.")
@click.option("--resolution", type=click.Choice(["128", "256", "512"]), default="128", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of views, lights and colours.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write every score here.")
def evaluate_command(models, meshes, views, resolution, seed, json_path):
    """Score every model against held-out ground truth and print one table."""
    from fabricate.evaluate import HELDOUT, evaluate, summary_table
    from fabricate.reconstruct import MODELS

    def body():
        chosen = tuple(models.split(",")) if models else tuple(MODELS)
        folder = meshes or HELDOUT
        from pathlib import Path

        if not Path(folder).is_dir() or not list(Path(folder).glob("*.obj")):
            raise InputError(f"no .obj meshes in {folder}")
        rows = evaluate(chosen, folder, views, int(resolution), seed,
                        progress=lambda what: click.echo(f"  {what}", err=True))
        click.echo(summary_table(rows))
        if json_path:
            import json

            from fabricate.atomic import write_bytes_atomic

            write_bytes_atomic(json_path, json.dumps(rows, indent=2, default=float).encode())

    _run(body)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None, help="TOML training config.")
@click.option("--layer-steps", type=int, default=None, help="Override the steps of the depth-layer stage.")
@click.option("--refine-steps", type=int, default=None, help="Override the steps of the 3D (sparse) stage.")
@click.option("--data-dir", default=None, help="Where training samples are (built there if missing).")
@click.option("--out-dir", default=None, help="Checkpoints, loss curves and summary.")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Where to write the trained weights [default: the shipped model's file].")
def train(config_path, layer_steps, refine_steps, data_dir, out_dir, weights):
    """Train the learned model (seeded and resumable; CUDA when present)."""
    def body():
        try:
            from fabricate.reconstruct.neural.train import WEIGHTS, TrainConfig, train as run_training
        except ImportError:
            raise InputError("training needs torch: pip install -e '.[neural]'") from None
        config = TrainConfig.load(config_path, layer_steps=layer_steps, refine_steps=refine_steps, data_dir=data_dir,
                                  out_dir=out_dir)
        summary = run_training(config, progress=True, weights_path=weights or WEIGHTS)
        for key, value in summary.items():
            click.echo(f"{key}: {value}")

    _run(body)


def _print_report(name, report, as_json: bool) -> None:
    if as_json:
        import json

        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"{name}: {'printable' if report.ok else 'NOT printable'}")
    for line in report.summary_lines():
        click.echo("  " + line)


if __name__ == "__main__":
    main()
