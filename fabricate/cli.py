"""Command line: `fabricate make`, `fabricate printers`, `fabricate check`.

Exit codes: 0 success, 2 bad input (or a mesh `check` finds unprintable), 1 internal error.
"""
from __future__ import annotations

import os
import sys

import click

from fabricate import __version__
from fabricate.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, FabricateError, InputError


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
    except FabricateError as exc:  # each error type carries its exit code
        _fail(str(exc), exc.exit_code)
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        sys.exit(EXIT_OK)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as exc:  # a bug: one line unless the user asks for the traceback
        if os.environ.get("FABRICATE_DEBUG"):
            raise
        _fail(f"internal error: {type(exc).__name__}: {exc} (set FABRICATE_DEBUG=1 for details)", EXIT_INTERNAL)


class OneLineErrors(click.Group):
    """Usage errors (a missing or mistyped flag) as one line and exit code 2, like every other error."""

    def main(self, *args, **kwargs):
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            _fail("interrupted", 130)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fabricate")
def main():
    """Turn a photo of an object into a watertight, coloured, print-ready 3MF."""


def schema_options(command):
    """Add one click option per job option of the schema (fabricate.options), in display order.

    Values are checked by the library, once, so the CLI declares only types: every
    default, range and choice list is the schema's.
    """
    from fabricate.options import all_option_fields, describe_default

    for f in reversed(all_option_fields()):
        allowed = f.spec.allowed()
        default = describe_default(f)
        extra = f" [default: {default}]" if default and default != "required" else ""
        unit = f" ({f.spec.unit})" if f.spec.unit and f.spec.unit != "voxels" else ""
        help_text = f"{f.spec.help}{unit}{extra}"
        if f.kind is bool:
            command = click.option(f"{f.flag}/--{f.spec.negative}", f.name, default=f.default, help=help_text)(command)
            continue
        metavar = "[" + "|".join(map(str, allowed)) + "]" if allowed and len(allowed) <= 8 else None
        flags = [f.flag] + ([f.spec.short] if f.spec.short else [])
        command = click.option(*flags, f.name, type=f.kind, default=f.default, required=f.required,
                               metavar=metavar, help=help_text)(command)
    return command


@main.command()
@click.argument("photos", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False),
              help="Output file: .3mf (recommended), .stl or .glb.")
@schema_options
@click.option("--slice", "slice_gcode", is_flag=True, help="Slice with PrusaSlicer when installed and report estimates.")
@click.option("--also", multiple=True, type=click.Choice(["stl", "glb"]), help="Also write these formats beside it.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def make(photos, output, slice_gcode, also, quiet, **choices):
    """Reconstruct PHOTOS (one, or up to 8 of the same object) and write a print-ready model."""
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".3mf", ".stl", ".glb"):
        _fail(f"output must end in .3mf, .stl or .glb, got {output!r}", EXIT_INPUT)
    bars = StageBars(enabled=not quiet and sys.stderr.isatty() or os.environ.get("FABRICATE_PROGRESS") == "1")

    def body():
        from fabricate.pipeline import MakeOptions, check_outputs, make_model, output_paths, write_outputs

        options = MakeOptions.from_flat(choices)
        printer = options.printer
        check_outputs(output_paths(output, also, slice_gcode=slice_gcode), photos)
        try:
            result = make_model(list(photos), options, progress=bars)
            written = write_outputs(result, output, also=also, progress=bars, slice_gcode=slice_gcode)
        finally:
            bars.close()
        click.echo(f"{result.title}: {result.fit.size_mm[0]:.1f} x {result.fit.size_mm[1]:.1f} x "
                   f"{result.fit.size_mm[2]:.1f} mm on the {printer} ({result.fit.orientation} orientation, "
                   f"mask from {result.mask_source})")
        for fit in result.view_fits or []:
            click.echo(f"  view {fit['name']}: azimuth {fit['azimuth_deg']:.0f} deg, silhouette fit "
                       f"(IoU) {fit['iou']:.0%}")
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
@click.option("--repair", is_flag=True, help="Repair every object that is not printable and write the result.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None,
              help="Where --repair writes [default: NAME.repaired.EXT, or NAME.repaired.3mf if EXT cannot be written].")
@click.option("--printer", default=None, help="Also check that every object lies in this printer's build volume.")
@click.option("--strict", is_flag=True,
              help="Refuse also the departures from the 3MF specification that change nothing printed.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, one entry per object.")
def check(mesh_file, repair, output, printer, strict, as_json):
    """Judge each object of a 3MF, STL, OBJ, PLY, OFF or GLB file on its own, then the plate (exit 2 if not printable)."""
    def body():
        from fabricate.errors import MeshError, NotPrintable
        from fabricate.export.formats import WRITABLE, load_plate_file, repaired_path, write_plate
        from fabricate.export.plate import nearest_face_colours
        from fabricate.mesh import repair_mesh
        from fabricate.mesh.validate import validate_plate
        from fabricate.printing import get_printer
        from fabricate.printing.fit import BuildVolume

        profile = BuildVolume(get_printer(printer)) if printer else None
        target = output or repaired_path(mesh_file)
        if repair and os.path.splitext(target)[1].lower() not in WRITABLE:  # before any work
            raise InputError(f"cannot write {target}: --output must end in {', '.join(WRITABLE)}")
        plate = load_plate_file(mesh_file, strict=strict)
        report = validate_plate(plate.objects, profile, plate.notes)
        _print_report(mesh_file, report, as_json)
        if not repair:
            if not report.ok:
                sys.exit(EXIT_INPUT)
            return
        if report.ok:
            click.echo("nothing to repair")
            return
        failing = {id(part) for obj, judged in zip(plate.objects, report.objects)
                   for part, part_report in zip(obj.parts, judged.parts) if not part_report.ok}

        def fix(obj, part):
            if id(part) not in failing:
                return None
            label = obj.name if len(obj.parts) == 1 else f"{obj.name} / {part.name}"
            try:
                repaired, actions = repair_mesh(part.mesh)
            except MeshError as exc:
                raise NotPrintable(f'"{label}": {exc}') from None
            for action in actions:
                click.echo(f"repaired {label}: {action}" if len(plate.objects) > 1 else f"repaired: {action}")
            return nearest_face_colours(part.mesh, repaired)

        repaired = plate.with_meshes(fix)
        for obj in plate.objects:
            for part in obj.parts:
                if not part.checked:
                    click.echo(f'left out "{obj.name} / {part.name}": {part.not_checked or "no mesh"}')
        write_plate(target, repaired)
        _print_report(target, validate_plate(repaired.objects, profile), as_json)
        merged = len(plate.objects) > 1 and not target.lower().endswith(".3mf")
        click.echo(f"wrote {target}" + (f" (its {len(plate.objects)} objects as one mesh)" if merged else ""))

    _run(body)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Jobs and their files [default: ~/.local/share/fabricate].")
@click.option("--workers", default=1, show_default=True, type=int, help="Builds at the same time (1-16).")
@click.option("--max-upload-mb", default=25.0, show_default=True, type=float, help="Largest photo accepted.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this host name (repeat for more); loopback names and --host always.")
def serve(host, port, data_dir, workers, max_upload_mb, allow_hosts):
    """Start the local web app (open http://HOST:PORT in a browser)."""
    def body():
        import uvicorn

        from web.app import create_app

        # Every server option is checked (finite, in range) before anything starts: exit 2, one line.
        app = create_app(data_dir=data_dir, workers=workers, max_upload_mb=max_upload_mb,
                         allowed_hosts=(host, *allow_hosts))
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
    from fabricate.render import render_preview
    from fabricate.hub import ModelPackage, hub_client

    def body():
        preview_path = preview
        if preview_path is None:
            mesh = read_3mf(model_file)
            preview_path = str(Path(model_file).with_suffix(".preview.png"))
            render_preview(mesh.vertices, mesh.faces, mesh.face_colours, 512).save(preview_path)
        package = ModelPackage(title=title, model_path=Path(model_file), preview_path=Path(preview_path),
                               description=description, licence=licence, tags=list(tags))
        url = hub_client(hub, out_dir=Path(model_file).parent).upload(package)
        click.echo(f"shared: {url}")

    _run(body)


@main.command(name="eval")
@click.option("--models", default=None, help="Comma list of models [default: all available].")
@click.option("--meshes", type=click.Path(file_okay=False), default=None,
              help="Folder of held-out .obj meshes [default: ../shared/meshes/heldout].")
@click.option("--samples", default=2, show_default=True, type=click.IntRange(1, 20),
              help="Random single-photo views rendered per mesh.")
@click.option("--views", "view_counts", default=None,
              help="Several photos instead: the view counts to score, e.g. 1,2,3,4,8 (front, left, back, right, "
                   "then the diagonals), with the plain visual hull as baseline.")
@click.option("--colour", "colour", is_flag=True,
              help="Score colour instead: CIEDE2000 against the true albedo under strong lights, with and "
                   "without delighting.")
@click.option("--resolution", type=click.Choice(["128", "256", "512"]), default="128", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of views, lights and colours.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Also write every score here.")
def evaluate_command(models, meshes, samples, view_counts, colour, resolution, seed, json_path):
    """Score every model against held-out ground truth and print one table."""
    def body():
        from pathlib import Path

        from fabricate.evaluate import HELDOUT, evaluate, summary_table
        from fabricate.reconstruct import MODELS

        chosen = tuple(models.split(",")) if models else tuple(MODELS)
        folder = meshes or HELDOUT
        if not Path(folder).is_dir() or not list(Path(folder).glob("*.obj")):
            raise InputError(f"no .obj meshes in {folder}")
        say = lambda what: click.echo(f"  {what}", err=True)  # noqa: E731
        if colour:
            from fabricate.evaluate.colour import colour_table, evaluate_colour

            rows = evaluate_colour(chosen, folder, samples, int(resolution), seed, progress=say)
            click.echo(colour_table(rows))
        elif view_counts:
            from fabricate.evaluate.multiview import evaluate_views, views_table

            try:
                counts = [int(c) for c in view_counts.split(",")]
            except ValueError:
                raise InputError(f"--views takes view counts such as 1,2,3,4,8, got {view_counts!r}") from None
            rows = []
            for model in (tuple(models.split(",")) if models else ("classical",)):
                rows += evaluate_views(counts, folder, int(resolution), seed, model, progress=say,
                                       baseline=not rows)
            click.echo(views_table(rows))
        else:
            rows = evaluate(chosen, folder, samples, int(resolution), seed, progress=say)
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
    count = len(report.objects)
    click.echo(f"{name}: {report.status}" + (f" ({count} objects)" if report.single is None and count > 1 else ""))
    for line in report.summary_lines():
        click.echo("  " + line)


if __name__ == "__main__":
    main()
