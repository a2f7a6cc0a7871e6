"""Every choice a maker makes for one job, declared once and checked once, before any work.

:class:`MakeOptions` is built from one dataclass per concern (photos and model, size
and placement, colours, print settings, outputs); each field states its name, type,
default, allowed values, unit and help through :func:`fabricate.schema.option`.
Each reconstruction model declares the options it uses (``Reconstructor.options``);
they travel in ``MakeOptions.model_options`` and any the chosen model does not use is
refused. The CLI flags, the web API's form model, the page's form and the README's
option table are generated from :func:`all_option_fields`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from fabricate.color.delight import DELIGHT_MODES
from fabricate.color.lab import parse_hex_colours
from fabricate.color.palette import AUTO_COUNT, MAX_FILAMENTS
from fabricate.errors import BadOption, TooSmall
from fabricate.export.textured import (DEFAULT_ASSET_TRIANGLES, DEFAULT_TEXTURE_SIZE, MAX_ASSET_TRIANGLES,
                                       TEXTURE_SIZES)
from fabricate.mesh.simplify import DEFAULT_TRIANGLE_BUDGET, MIN_TRIANGLE_BUDGET
from fabricate.printing import get_printer, list_printers
from fabricate.printing.fit import MAX_BASE_CUT, MIN_SIDE_NOZZLE_WIDTHS, ORIENTATIONS
from fabricate.printing.settings import (BRIM_RANGE_MM, INFILL_PATTERNS, INFILL_RANGE, MATERIALS, MIN_LAYER_MM,
                                         PRESETS, SHELL_LAYERS_RANGE, SUPPORT_ANGLE_RANGE, SUPPORT_MODES,
                                         WALL_LOOPS_RANGE, Filament, PrintSettings, build_settings)
from fabricate.reconstruct import MODELS, RESOLUTIONS, Reconstructor, get_reconstructor
from fabricate.reconstruct import model_names
from fabricate.schema import OptionField, WholeNumberOr, check_options, option, option_fields

#: The concerns, in the order the CLI help, the page and the README show them.
GROUPS = {
    "model": "Photos and model",
    "size": "Size and placement",
    "colours": "Colours",
    "print": "Print settings",
    "output": "Outputs",
}
#: Most photos of one object a job takes.
MAX_PHOTOS = 8
#: The tallest model any option accepts (larger than every printer; each printer's own limit is checked on fit).
MAX_HEIGHT_MM = 2000.0


#: ``--colors``: a number of filaments, or auto (as many as the object's distinct colours).
COLOUR_COUNT = WholeNumberOr(AUTO_COUNT)


def printer_ids() -> tuple:
    return tuple(p.id for p in list_printers())


@dataclass(kw_only=True)
class ModelChoice:
    """Which reconstruction model runs, how finely, and what the photos show."""

    model: str = option("classical", choices=model_names, group="model", label="Model",
                        help="Reconstruction model (neural needs the [neural] extra).")
    resolution: int = option(256, choices=RESOLUTIONS, unit="voxels", group="model", label="Resolution",
                             help="Voxels across the object's largest extent.")
    views: Optional[str] = option(None, group="model", label="Views", default_text="evenly spaced, in order",
                                  help="One label per photo: front, left, back, right or an azimuth in degrees "
                                       "(comma list).")


@dataclass(kw_only=True)
class SizeAndPlacement:
    """Which printer, how large, and how the model stands on its bed."""

    printer: str = option(choices=printer_ids, group="size", label="Printer", short="-p",
                          help="Printer id, e.g. bambu-a1 (see `fabricate printers`).")
    height_mm: Optional[float] = option(None, minimum=0.0, exclusive_minimum=True, maximum=MAX_HEIGHT_MM,
                                        unit="mm", group="size", label="Height", default_text="largest that fits",
                                        help="Printed height.")
    orientation: str = option("photo", choices=ORIENTATIONS, group="size", label="Orientation",
                              help="Stand as photographed, on the most stable face, or in the pose needing "
                                   "least support.")
    base_cut: float = option(0.03, minimum=0.0, maximum=MAX_BASE_CUT, group="size", label="Base cut",
                             help="Share of the height cut off for a flat base (0 = none).")


@dataclass(kw_only=True)
class ColourChoice:
    """How many filaments, which colours, which material."""

    colors: COLOUR_COUNT = option(AUTO_COUNT, minimum=1, maximum=MAX_FILAMENTS, group="colours", label="Colours",
                                  help="Number of filaments, or auto: one per distinct colour of the object, at "
                                       "most what the printer (or --palette) loads.")
    palette: Optional[str] = option(None, group="colours", label="Palette", default_text="from the photo",
                                    help="Your filament colours, e.g. '#FFFFFF,#D02020,#202020'.")
    material: str = option("PLA", choices=MATERIALS, group="colours", label="Material", help="Filament material.")
    # On by default: on the held-out colour score it takes the error from 24.98 to 11.34 CIEDE2000
    # (fabricate eval --colour), and a uniform object under a strong side light is one filament.
    delight: str = option("auto", choices=DELIGHT_MODES, group="colours", label="Delight",
                          help="Take the photo's lighting, shadows and highlights out of the colours (auto) "
                               "or keep the photo's colours (off).")


@dataclass(kw_only=True)
class PrintChoice:
    """Slicing and support settings; unset ones come from the preset."""

    preset: str = option("standard", choices=tuple(PRESETS), group="print", label="Preset",
                         help="Print preset (layer height 0.28 / 0.20 / 0.12 mm for a 0.4 mm nozzle).")
    layer_height: Optional[float] = option(None, minimum=MIN_LAYER_MM, unit="mm", group="print",
                                           label="Layer height", default_text="from the preset",
                                           help="Layer height (at most 80 % of the nozzle).")
    walls: Optional[int] = option(None, minimum=WALL_LOOPS_RANGE[0], maximum=WALL_LOOPS_RANGE[1], group="print",
                                  label="Walls", default_text="from the preset", help="Wall loops (perimeters).")
    top_layers: Optional[int] = option(None, minimum=SHELL_LAYERS_RANGE[0], maximum=SHELL_LAYERS_RANGE[1],
                                       group="print", label="Top layers", default_text="from the preset",
                                       help="Solid top layers.")
    bottom_layers: Optional[int] = option(None, minimum=SHELL_LAYERS_RANGE[0], maximum=SHELL_LAYERS_RANGE[1],
                                          group="print", label="Bottom layers", default_text="from the preset",
                                          help="Solid bottom layers.")
    infill: Optional[float] = option(None, minimum=INFILL_RANGE[0], maximum=INFILL_RANGE[1], unit="%",
                                     group="print", label="Infill", default_text="from the preset",
                                     help="Infill density.")
    infill_pattern: Optional[str] = option(None, choices=INFILL_PATTERNS, group="print", label="Infill pattern",
                                           default_text="gyroid", help="Infill pattern.")
    supports: Optional[str] = option(None, choices=SUPPORT_MODES, group="print", label="Supports",
                                     default_text="off", help="Support material.")
    support_angle: Optional[float] = option(None, minimum=SUPPORT_ANGLE_RANGE[0], exclusive_minimum=True,
                                            maximum=SUPPORT_ANGLE_RANGE[1] - 1, unit="degrees", group="print",
                                            label="Support angle", default_text="45",
                                            help="Overhangs flatter than this angle above horizontal get support.")
    support_buildplate_only: Optional[bool] = option(None, group="print", label="Supports from the plate only",
                                                     negative="support-anywhere", default_text="no",
                                                     help="Supports only from the build plate.")
    brim_mm: Optional[float] = option(None, minimum=BRIM_RANGE_MM[0], maximum=BRIM_RANGE_MM[1], unit="mm",
                                      group="print", label="Brim", default_text="0", help="Brim width.")


@dataclass(kw_only=True)
class OutputChoice:
    """What the written model carries."""

    max_triangles: int = option(DEFAULT_TRIANGLE_BUDGET, minimum=MIN_TRIANGLE_BUDGET, maximum=5_000_000,
                                group="output", label="Triangle budget", help="Most triangles in the model.")
    slicer: str = option("all", group="output", label="Slicer extras",
                         help="Extras for prusa, bambu, orca, generic (comma list) or all.")
    title: Optional[str] = option(None, group="output", label="Title", default_text="from the photo's name",
                                  help="Model title.")
    slice: bool = option(False, negative="no-slice", group="output", label="Slice with PrusaSlicer",
                         help="Slice with PrusaSlicer when installed: its exact filament and print-time figures and "
                              "a G-code file (takes longer; otherwise they are estimated).")
    texture_size: int = option(DEFAULT_TEXTURE_SIZE, choices=TEXTURE_SIZES, unit="texels", group="output",
                               label="Texture size", help="Side of the colour texture of the GLB and OBJ (--also).")
    asset_triangles: int = option(DEFAULT_ASSET_TRIANGLES, minimum=MIN_TRIANGLE_BUDGET, maximum=MAX_ASSET_TRIANGLES,
                                  group="output", label="GLB/OBJ triangle budget",
                                  help="Most triangles in the textured GLB and OBJ (the 3MF keeps --max-triangles).")


#: The concern groups, in display order; MakeOptions inherits every field from them.
OPTION_GROUPS = (ModelChoice, SizeAndPlacement, ColourChoice, PrintChoice, OutputChoice)


@dataclass(kw_only=True)
class MakeOptions(OutputChoice, PrintChoice, ColourChoice, SizeAndPlacement, ModelChoice):
    """Everything a maker can choose for one job (the CLI flags and the web form's fields).

    ``model_options`` holds the options of the chosen model (e.g. ``{"back": "flat"}``
    for the classical model); ``views`` may be given as a list of labels.
    """

    model_options: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.views, (list, tuple)):
            self.views = ",".join(str(v) for v in self.views)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_flat(cls, values: dict) -> "MakeOptions":
        """From one flat mapping of every option (CLI flags, form fields): model options sorted out.

        ``None`` values are unset and take the default.
        """
        own = {f.name for f in option_fields(cls)}
        model_keys = {f.name for f in model_option_fields()}
        unknown = sorted(set(values) - own - model_keys - {"model_options"})
        if unknown:
            raise BadOption(f"unknown option {', '.join(unknown)}")
        given = {k: v for k, v in values.items() if v is not None}
        model_options = dict(given.pop("model_options", {}) or {})
        model_options.update({k: given.pop(k) for k in list(given) if k in model_keys and k not in own})
        return cls(**given, model_options=model_options)

    def validate(self, photo_count: int = 1) -> "JobPlan":
        """Check every choice before any work.

        Raises
        ------
        BadOption (or another InputError)
            Naming the first bad choice.
        """
        check_options(self)
        printer = get_printer(self.printer)
        smallest = MIN_SIDE_NOZZLE_WIDTHS * printer.nozzle_diameter_mm
        if self.height_mm is not None and self.height_mm < smallest:
            raise TooSmall(f"height {self.height_mm:g} mm is below the {smallest:g} mm the {printer.name}'s "
                           f"{printer.nozzle_diameter_mm:g} mm nozzle can print (two walls)")
        palette = self.palette_colours()
        from fabricate.export.slicer_parts import parse_slicers

        parse_slicers(self.slicer)
        reconstructor = get_reconstructor(self.model, **self.model_options)
        if not 1 <= photo_count <= min(MAX_PHOTOS, reconstructor.max_photos):
            most = min(MAX_PHOTOS, reconstructor.max_photos)
            raise BadOption(f"the {self.model} model takes 1 to {most} photo{'s' if most > 1 else ''}, "
                            f"got {photo_count}")
        one_photo_only = [n for n in self.model_options if n in reconstructor.single_photo_options]
        if photo_count > 1 and one_photo_only:
            flags = ", ".join("--" + n.replace("_", "-") for n in one_photo_only)
            raise BadOption(f"{flags} shape{'s' if len(one_photo_only) == 1 else ''} the side one photo cannot "
                            f"see; with {photo_count} photos the photos show it, so leave {flags} out")
        azimuths = self.view_azimuths(photo_count)
        count = self.filament_count(printer, palette)
        settings = build_settings(
            printer, self.preset, filaments=[Filament("#FFFFFF", self.material)] * count,
            layer_height=self.layer_height, wall_loops=self.walls, top_layers=self.top_layers,
            bottom_layers=self.bottom_layers, infill_density=self.infill, infill_pattern=self.infill_pattern,
            supports=self.supports, support_threshold_deg=self.support_angle,
            support_buildplate_only=self.support_buildplate_only, brim_width_mm=self.brim_mm)
        return JobPlan(printer, settings, palette, reconstructor, azimuths)

    def view_azimuths(self, photo_count: int) -> list:
        """The azimuth of each photo in degrees (labels, or evenly spaced in the order given)."""
        from fabricate.reconstruct.views_align import parse_views

        return parse_views(self.views, photo_count)

    def palette_colours(self):
        if not self.palette:
            return None
        try:
            return parse_hex_colours(self.palette)
        except ValueError as exc:
            raise BadOption(f"palette: {exc}") from None

    def filament_count(self, printer, palette=None) -> int:
        """The number of filaments asked for, or with ``--colors auto`` the most there may be."""
        if self.colors != AUTO_COUNT:
            return int(self.colors)
        return min(printer.filament_slots, len(palette)) if palette is not None else printer.filament_slots

    @property
    def auto_colours(self) -> bool:
        """Whether the object's colours choose the number of filaments (at most :meth:`filament_count`)."""
        return self.colors == AUTO_COUNT


@dataclass
class JobPlan:
    """The checked choices of one job, ready for the stages."""

    printer: object
    settings: PrintSettings
    palette: object
    reconstructor: Reconstructor
    azimuths: list


def model_option_fields() -> list:
    """The options every registered model declares, each once (a name two models share is one option)."""
    seen = {}
    for model in MODELS.values():
        for f in option_fields(model.options):
            seen.setdefault(f.name, f)
    return list(seen.values())


def models_using(name: str) -> list:
    return [model_name for model_name, model in MODELS.items()
            if name in {f.name for f in option_fields(model.options)}]


def all_option_fields() -> list:
    """Every option a job takes, grouped in display order: the source of every generated surface."""
    ordered = []
    for group_class in OPTION_GROUPS:
        ordered += option_fields(group_class)
        if group_class is ModelChoice:
            ordered += [_in_group(f, "model") for f in model_option_fields()]
    return ordered


def _in_group(f: OptionField, group: str) -> OptionField:
    """A model's option as a job option: unset unless given (so another model is not handed it)."""
    from dataclasses import replace

    owners = ", ".join(models_using(f.name))
    return replace(f, default=None, optional=True,
                   spec=replace(f.spec, group=group, default_text=f"{f.default} ({owners} model)"))


def describe_default(f: OptionField) -> str:
    if f.default is None:
        return f.spec.default_text or ("required" if not f.optional else "")
    if isinstance(f.default, bool):
        return "yes" if f.default else "no"
    return f"{f.default:,}" if isinstance(f.default, int) and f.default >= 10_000 else str(f.default)


def _number_range(f: OptionField) -> str:
    """'whole number 1–20', 'number above 0–2000 mm', 'number from 0.04 mm'."""
    def shown(value):
        return f"{value:,}" if whole else f"{value:g}"

    whole = f.kind is int or isinstance(f.kind, WholeNumberOr)
    low, high = f.spec.minimum, f.spec.maximum
    kind = "whole number" if whole else "number"
    unit = f" {f.spec.unit}" if f.spec.unit else ""
    if low is not None and high is not None:
        return f"{kind} {'over ' if f.spec.exclusive_minimum else ''}{shown(low)}–{shown(high)}{unit}"
    if low is not None:
        return f"{kind} {'over' if f.spec.exclusive_minimum else 'from'} {shown(low)}{unit}"
    return f"{kind} up to {shown(high)}{unit}" if high is not None else kind


def options_markdown() -> str:
    """The README's option table (a test checks the README carries exactly this)."""
    lines = ["| option | values | default | what it does |", "|---|---|---|---|"]
    for f in all_option_fields():
        allowed = f.spec.allowed()
        if f.name == "printer":
            values = "a printer id"
        elif allowed is not None:
            values = " \\| ".join(map(str, allowed))
        elif isinstance(f.kind, WholeNumberOr):
            values = " \\| ".join(f.kind.words + (_number_range(f),))
        elif f.kind is bool:
            values = f"`{f.flag}` / `--{f.spec.negative}`"
        elif f.kind in (int, float):
            values = _number_range(f)
        else:
            values = "text"
        lines.append(f"| `{f.flag}` | {values} | {describe_default(f)} | {f.spec.help} |")
    return "\n".join(lines)


#: The README's table sits between these two lines.
README_TABLE_MARKERS = ("<!-- options table: generated by `python -m fabricate.options` -->",
                        "<!-- end of options table -->")


def with_options_table(readme: str) -> str:
    """``readme`` with the text between :data:`README_TABLE_MARKERS` replaced by the current table."""
    opening, closing = README_TABLE_MARKERS
    head, rest = readme.split(opening, 1)
    _, tail = rest.split(closing, 1)
    return f"{head}{opening}\n{options_markdown()}\n{closing}{tail}"


if __name__ == "__main__":  # python -m fabricate.options [README.md]: print the table, or rewrite it there
    import sys

    if len(sys.argv) > 1:
        from pathlib import Path

        readme = Path(sys.argv[1])
        readme.write_text(with_options_table(readme.read_text()))
    else:
        print(options_markdown())
