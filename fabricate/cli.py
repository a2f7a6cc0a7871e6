"""Command line: `fabricate make`, `fabricate printers`, `fabricate check`.

Exit codes: 0 success, 2 bad input (or a mesh `check` finds unprintable), 1 internal error.
"""
from __future__ import annotations

import os
import sys

import click

from fabricate import __version__
from fabricate.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, FabricateError, InputError
from fabricate.export.formats import ALSO_FORMATS
from fabricate.jobs.celery_runner import JOB_TIME_LIMIT_S


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
@click.option("--also", multiple=True, type=click.Choice(ALSO_FORMATS),
              help="Also write these beside it: glb (textured PBR), obj (+ MTL + PNG), quad-obj (quad-dominant).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
def make(photos, output, also, quiet, **choices):
    """Reconstruct PHOTOS (one, or up to 8 of the same object) and write a print-ready model."""
    extension = os.path.splitext(output)[1].lower()
    if extension not in (".3mf", ".stl", ".glb"):
        _fail(f"output must end in .3mf, .stl or .glb, got {output!r}", EXIT_INPUT)
    bars = StageBars(enabled=not quiet and sys.stderr.isatty() or os.environ.get("FABRICATE_PROGRESS") == "1")

    def body():
        from fabricate.pipeline import MakeOptions, check_outputs, make_model, output_paths, write_outputs

        options = MakeOptions.from_flat(choices)
        printer = options.printer
        slice_gcode = options.slice
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
        estimate = result.print_estimate()
        click.echo("  " + estimate.summary_line())
        for warning in estimate.warnings():
            click.echo("  warning: " + warning)
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
        click.echo(f"{'id':<26} {'printer':<36} {'build volume (mm)':<20} {'nozzle':>6} {'filaments':>9}")
        for p in profiles:
            volume = " x ".join(f"{v:g}" for v in p.build_volume_mm)
            if p.bed_shape == "circular":
                volume = f"⌀{p.build_volume_mm[0]:g} x {p.build_volume_mm[2]:g}"
            click.echo(f"{p.id:<26} {p.name:<36} {volume:<20} {p.nozzle_diameter_mm:>6g} {p.filament_slots:>9}")

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
@click.option("--broker", default=None, metavar="URL", envvar="FABRICATE_BROKER", show_envvar=True,
              help="Hand every job to `fabricate worker`s through this Redis broker (redis://HOST:PORT/DB) "
                   "instead of --workers local processes; the workers must share --data-dir.")
def serve(host, port, data_dir, workers, max_upload_mb, allow_hosts, broker):
    """Start the local web app (open http://HOST:PORT in a browser)."""
    def body():
        import uvicorn

        from web.app import create_app

        # Every server option is checked (finite, in range) before anything starts: exit 2, one line.
        app = create_app(data_dir=data_dir, workers=workers, max_upload_mb=max_upload_mb,
                         allowed_hosts=(host, *allow_hosts), broker=broker)
        click.echo(f"fabricate {__version__}: open http://{host}:{port}/ (API docs at /docs)")
        uvicorn.run(app, host=host, port=port, log_level="warning")

    _run(body)


@main.command()
@click.option("--broker", required=True, metavar="URL", envvar="FABRICATE_BROKER", show_envvar=True,
              help="The Redis broker `serve --broker` uses (redis://HOST:PORT/DB).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Jobs this worker builds at the same time (one process each).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="The data folder the server uses (job files), shared with it, at any path "
                   "[default: ~/.local/share/fabricate].")
@click.option("--loglevel", default="INFO", show_default=True, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]))
@click.option("--job-time-limit", default=JOB_TIME_LIMIT_S, show_default=True, type=click.IntRange(10, 7 * 24 * 3600),
              metavar="SECONDS", help="Stop (and fail) a job building longer than this; a lost machine's job is "
                                      "handed out again a little after it. The same on every worker.")
def worker(broker, concurrency, data_dir, loglevel, job_time_limit):
    """Build the jobs of a `serve --broker` server (or a `batch --broker`) on this machine, until stopped.

    Uses CUDA for the learned model where the machine has it, else the CPU.
    """
    def body():
        from fabricate.jobs.celery_runner import redis_url_ok, run_worker

        run_worker(redis_url_ok(broker), data_dir=data_dir, concurrency=concurrency, loglevel=loglevel,
                   job_time_limit_s=job_time_limit)

    _run(body)


@main.command()
@click.argument("photos_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--output", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the models, their reports and summary.csv / summary.json.")
@schema_options
@click.option("--broker", default=None, metavar="URL", envvar="FABRICATE_BROKER", show_envvar=True,
              help="Hand the models to `fabricate worker`s through this Redis broker (redis://HOST:PORT/DB) "
                   "instead of making them here; PHOTOS_DIR and --output must be reachable by the workers.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def batch(photos_dir, out_dir, broker, quiet, **choices):
    """Make every photo in PHOTOS_DIR (or every sub-folder of photos of one object, with a views.txt) a 3MF.

    Resumable: a rerun skips the models already written (model and report both present).
    """
    def body():
        from fabricate.jobs.batch import run_batch, summary_table

        builder = None
        if broker:
            from fabricate.jobs.celery_runner import CeleryBatchBuilder, redis_url_ok

            builder = CeleryBatchBuilder(redis_url_ok(broker))
        show_progress = not quiet and (sys.stderr.isatty() or os.environ.get("FABRICATE_PROGRESS") == "1")
        rows = run_batch(photos_dir, out_dir, choices, builder=builder, show_progress=show_progress)
        click.echo(summary_table(rows))
        failed = [row.name for row in rows if row.error]
        click.echo(f"{len(rows) - len(failed)} of {len(rows)} made in {out_dir}"
                   + (f"; failed: {', '.join(failed)}" if failed else "") + " (summary.csv, summary.json)")
        if failed:
            sys.exit(EXIT_INPUT)

    _run(body)


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False), required=False)
@click.option("--title", default=None, help="Title on the hub (needed to share a model).")
@click.option("--description", default="", help="Description (Markdown).")
@click.option("--licence", default="CC-BY-4.0", show_default=True, help="SPDX licence id.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeat for more).")
@click.option("--preview", type=click.Path(dir_okay=False), default=None, help="Preview PNG [default: rendered].")
@click.option("--hub", default="generic", show_default=True,
              help="thingiverse or sketchfab (their APIs; token in hub.toml, FABRICATE_<HUB>_TOKEN or the keyring), "
                   "generic (your own hub: hub.toml or FABRICATE_HUB_URL, FABRICATE_HUB_TOKEN), printables or "
                   "makerworld (a package to upload there yourself).")
@click.option("--category", default=None, help="The hub's category (Thingiverse).")
@click.option("--publish", is_flag=True, help="Publish at once [default: a draft / work in progress].")
@click.option("--private", is_flag=True, help="Private model (Sketchfab Pro).")
@click.option("--status", "show_status", is_flag=True, help="List every share to a hub with an API: state and link.")
@click.option("--resume", is_flag=True, help="Run the unfinished shares whose next try has come.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Where the share queue lives, beside the jobs [default: ~/.local/share/fabricate].")
def share(model_file, title, description, licence, tags, preview, hub, category, publish, private, show_status,
          resume, data_dir):
    """Upload MODEL_FILE (a 3MF) with a preview and metadata to a model-sharing hub."""
    from pathlib import Path

    from fabricate.export import read_3mf, write_glb
    from fabricate.render import render_preview
    from fabricate.hub import ADAPTERS, HubError, ManualHubAdapter, ModelPackage, ShareFailed
    from fabricate.hub.profiles import profile_of
    from fabricate.hub import resume as resume_shares
    from fabricate.hub import share as share_to_hub
    from fabricate.hub.queue import ShareQueue
    from fabricate.jobs.store import default_data_dir

    queue_dir = Path(data_dir) if data_dir else default_data_dir()

    def report(status):
        if status.state == "done":
            click.echo(f"shared: {status.link}")
        elif status.state == "failed":
            raise ShareFailed(f"share {status.id} failed: {status.error}")
        else:
            raise HubError(f"share {status.id} is {status.state}: {status.error}; "
                           "`fabricate share --resume` tries again (`--status` shows it)")

    def body():
        if show_status:
            for status in ShareQueue(queue_dir).status():
                click.echo(status.line())
            return
        if resume:
            statuses = resume_shares(queue_dir)
            for status in statuses:
                click.echo(status.line())
            if any(status.state != "done" for status in statuses):
                raise HubError("some shares are not done yet; `fabricate share --status` shows why")
            return
        if not model_file or not title:
            raise InputError("a MODEL_FILE and a --title are needed to share (or use --status / --resume)")
        mesh = None
        preview_path = preview
        if preview_path is None:
            mesh = read_3mf(model_file)
            preview_path = str(Path(model_file).with_suffix(".preview.png"))
            render_preview(mesh.vertices, mesh.faces, mesh.face_colours, 512).save(preview_path)
        package = ModelPackage(title=title, model_path=Path(model_file), preview_path=Path(preview_path),
                               description=description, licence=licence, tags=list(tags), category=category)
        if hub not in ADAPTERS:
            url = ManualHubAdapter(hub, out_dir=Path(model_file).parent).upload(package)
            click.echo(f"shared: {url}")
            return
        if profile_of(hub).uploads_glb:  # its 3D viewer takes the textured GLB, written beside the 3MF
            package.glb_path = Path(model_file).with_suffix(".glb")
            if not package.glb_path.is_file():
                write_glb(package.glb_path, mesh or read_3mf(model_file))
        report(share_to_hub(hub, package, queue_dir, publish=publish, private=private))

    _run(body)


@main.command(name="eval")
@click.option("--models", default=None, help="Comma list of models [default: all available].")
@click.option("--meshes", type=click.Path(file_okay=False), default=None,
              help="Folder of held-out .obj/.ply meshes [default: ../shared/meshes/heldout].")
@click.option("--corpus-validation", is_flag=True,
              help="Score the training corpus's validation split (5 % of every category, held back by object) "
                   "instead of a folder.")
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
def evaluate_command(models, meshes, corpus_validation, samples, view_counts, colour, resolution, seed, json_path):
    """Score every model against held-out ground truth and print one table."""
    def body():
        from pathlib import Path

        from fabricate.evaluate import HELDOUT, evaluate, summary_table
        from fabricate.evaluate.run import mesh_files
        from fabricate.reconstruct import MODELS

        chosen = tuple(models.split(",")) if models else tuple(MODELS)
        folder = meshes or HELDOUT
        if corpus_validation:
            from fabricate.reconstruct.neural.shards import CORPUS, corpus_objects, validation_files

            folder = [CORPUS / "meshes" / name for name in sorted(validation_files(corpus_objects()))]
            if not folder:
                raise InputError(f"no training corpus at {CORPUS}")
        elif not Path(folder).is_dir() or not mesh_files(folder):
            raise InputError(f"no .obj or .ply meshes in {folder}")
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


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False))
@click.argument("instructions", nargs=-1)
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="The edited 3MF.")
@click.option("--printer", default=None, help="Printer id (needed for a file never edited; stored in it afterwards).")
@click.option("--history", "show_history", is_flag=True, help="List the edits stored in the file.")
@click.option("--undo", "undo_steps", type=int, default=None, metavar="N", help="Go back N edits.")
@click.option("--redo", "redo_steps", type=int, default=None, metavar="N", help="Go forward N edits again after --undo.")
def edit(model_file, instructions, output, printer, show_history, undo_steps, redo_steps):
    """Edit a made 3MF by plain words, e.g. "make it 20% taller and flatten the base" (see README: Edits)."""
    def body():
        from fabricate.edit import edit_model, load_model, redo_model, undo_model, write_model

        asked = [bool(instructions), show_history, undo_steps is not None, redo_steps is not None]
        if sum(asked) != 1:
            raise InputError("give instructions, --history, --undo N or --redo N (one of them)")
        if not show_history and not output:
            raise InputError("say where the edited model goes with -o OUT.3mf")
        model = load_model(model_file, printer)
        if show_history:
            for version in model.history.versions:
                said = f' "{version.text}"' if version.text else ""
                click.echo(f"version {version.number}{said}: " + "; ".join(version.summary))
            for version in model.history.undone:
                click.echo(f"undone, --redo can restore: version {version.number} \"{version.text}\"")
            return
        if undo_steps is not None:
            result = undo_model(model, undo_steps)
        elif redo_steps is not None:
            result = redo_model(model, redo_steps)
        else:
            result = edit_model(model, list(instructions))
        write_model(result, output)
        size = result.model.mesh.extents
        click.echo(f"version {result.model.version}: {size[0]:.1f} x {size[1]:.1f} x {size[2]:.1f} mm on the "
                   f"{result.printer.id}" + (f" (undid {undo_steps})" if undo_steps is not None else "")
                   + (f" (redid {redo_steps})" if redo_steps is not None else ""))
        for line in result.summary_lines() if undo_steps is None else []:
            click.echo("  " + line)
        for action in result.repairs:
            click.echo("  repaired: " + action)
        click.echo("  filaments: " + ", ".join(f"{f['filament']}: {f['colour']} {f['area_share']:.0%}"
                                              for f in result.filaments.summary()))
        click.echo(f"wrote {output}")

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
