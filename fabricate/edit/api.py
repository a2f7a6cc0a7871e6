"""Edit a made model by instructions: parse, run the operations, then finish it as ``make`` does.

Finishing is the same chain as fabricate/pipeline.py, built from the same pieces: validation
(fail -> repair -> refuse if still bad), placement on the bed (at the edited size: the
placement only rests and centres it), filament assignment and the slicer extras; the file
is written through the one atomic writer and carries the edit history
(fabricate/edit/history.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from fabricate.color.lab import to_hex
from fabricate.color.palette import FilamentAssignment, assign_filaments
from fabricate.edit.history import HISTORY_PART, History, read_history
from fabricate.edit.operations import Operation, area_ordered_colours
from fabricate.edit.parse import parse_instructions
from fabricate.errors import InputError, NotPrintable
from fabricate.export.slicer_parts import SlicerParts, parse_slicers
from fabricate.mesh import ColouredMesh, ValidationReport, distinct_colours, repair_mesh, validate_mesh
from fabricate.options import MakeOptions
from fabricate.printing import fit_to_build_volume, inside_build_volume
from fabricate.printing.settings import Filament

#: The make options an edited file keeps (stored in the history's job): the print, not the photo.
JOB_OPTIONS = ("printer", "preset", "material", "layer_height", "walls", "top_layers", "bottom_layers", "infill",
               "infill_pattern", "supports", "support_angle", "support_buildplate_only", "brim_mm", "slicer")


@dataclass
class EditableModel:
    """A placed, coloured model with its edit history (what a 3MF made or edited by fabricate holds)."""

    mesh: ColouredMesh
    history: History
    title: str = "fabricate model"
    source: Optional[str] = None

    @property
    def version(self) -> int:
        return self.history.current


@dataclass
class EditResult:
    """A new version: the model, the operations that made it, and the checks it passed."""

    model: EditableModel
    operations: list
    validation: ValidationReport
    filaments: FilamentAssignment
    settings: object
    printer: object
    repairs: list = field(default_factory=list)

    def summary_lines(self) -> list:
        return self.model.history.versions[-1].summary

    def slicer_parts(self) -> "EditedSlicerParts":
        return EditedSlicerParts(self.filaments.face_filament, self.settings, self.printer,
                                 parse_slicers(self.model.history.job.get("slicer", "all")),
                                 self.model.history.to_text())


@dataclass
class EditedSlicerParts(SlicerParts):
    """The slicer extras of ``make`` plus the edit history as one more settings part."""

    history_text: str = ""

    def extra_files(self, object_id: int, title: str, triangle_count: int) -> dict:
        return {**super().extra_files(object_id, title, triangle_count), HISTORY_PART: self.history_text}


def load_model(path, printer: Optional[str] = None) -> EditableModel:
    """A 3MF made (or edited) by fabricate, ready to edit.

    ``printer`` is needed for a file never edited (its history names the printer
    afterwards); given for an edited file, it replaces the stored one.
    """
    from fabricate.export.threemf import read_3mf

    path = os.fspath(path)
    if not path.lower().endswith(".3mf"):
        raise InputError(f"edit reads a 3MF made by fabricate, not {os.path.basename(path)}")
    if not os.path.isfile(path):
        raise InputError(f"file not found: {path}")
    mesh = read_3mf(path)
    history = read_history(path)
    if history is None:
        if not printer:
            raise InputError(f"{path} has no edit history yet: say which printer it is for with --printer ID")
        history = History({"printer": printer})
    elif printer:
        history.job["printer"] = printer
    return EditableModel(mesh.copy(metadata={}), history, mesh.metadata.get("Title") or "fabricate model",
                         mesh.metadata.get("SourcePhoto"))


def edit_model(model: Union[EditableModel, ColouredMesh], instructions: Union[str, Sequence[str]],
               printer: Optional[str] = None) -> EditResult:
    """Apply plain-words ``instructions`` ("make it 20% taller and flatten the base") to ``model``.

    A bare mesh needs ``printer``. Nothing runs unless every instruction is understood.

    Raises
    ------
    InputError
        An instruction not understood (listing what works), a bad value, or a result that does
        not fit the printer.
    NotPrintable
        The edited model cannot be made printable.
    """
    if isinstance(model, ColouredMesh):
        if not printer:
            raise InputError("editing a mesh needs the printer it is for")
        model = EditableModel(model, History({"printer": printer}))
    texts = [instructions] if isinstance(instructions, str) else list(instructions)
    operations = [op for text in texts for op in parse_instructions(text)]
    return apply_operations(model, operations, " and ".join(texts))


def apply_operations(model: EditableModel, operations: Sequence[Operation], text: str) -> EditResult:
    """Run checked operations in order, then finish the result as ``make`` does."""
    if not operations:
        raise InputError("no edit asked for")
    mesh, summary = model.mesh, []
    for operation in operations:
        before = mesh.extents
        mesh = operation.apply(mesh)
        after = mesh.extents
        size = "" if np.allclose(before, after, rtol=1e-6) else \
            f": {' x '.join(f'{v:.1f}' for v in before)} -> {' x '.join(f'{v:.1f}' for v in after)} mm"
        summary.append(operation.describe() + size)
    history = model.history.after_edit(model.mesh, text, list(operations), summary)
    return _finish(EditableModel(mesh, history, model.title, model.source), list(operations), place=True)


def undo_model(model: EditableModel, steps: int = 1) -> EditResult:
    """The version ``steps`` edits back, with its geometry exactly as that file held it (redo can return)."""
    mesh, history = model.history.undone_steps(steps, model.mesh)
    return _finish(EditableModel(mesh, history, model.title, model.source), [], place=False)


def redo_model(model: EditableModel, steps: int = 1) -> EditResult:
    """The version ``steps`` edits forward again after an undo, with its geometry exactly as it was."""
    mesh, history = model.history.redone_steps(steps)
    return _finish(EditableModel(mesh, history, model.title, model.source), [], place=False)


def write_model(result: EditResult, path) -> None:
    """Write the new version as a 3MF (atomically: the file appears only once complete)."""
    from fabricate.export import write_mesh

    if not os.fspath(path).lower().endswith(".3mf"):
        raise InputError(f"edits are written as .3mf (the file keeps their history), not {path}")
    write_mesh(path, result.model.mesh, "3mf", title=result.model.title, source=result.model.source,
               slicer_parts=result.slicer_parts())


def _own_colours(mesh: ColouredMesh) -> FilamentAssignment:
    """The model's colours as its filaments, unchanged (no clustering: an undo must give back the
    very colours, and an edit must not move a colour it did not touch)."""
    palette, face_filament, share = area_ordered_colours(mesh)
    return FilamentAssignment(face_filament=face_filament, palette=palette, area_share=share / share.sum())


def _finish(model: EditableModel, operations: list, place: bool) -> EditResult:
    """Validation, repair, placement, filaments and settings: the checks ``make`` runs on its mesh."""
    job = model.history.job
    mesh = model.mesh
    colours = distinct_colours(mesh.face_colours)[0] if mesh.face_colours is not None else np.zeros((0, 3), np.uint8)
    options = MakeOptions.from_flat({name: job[name] for name in JOB_OPTIONS if name in job})
    printer = options.validate(1).printer
    # The model's own colours are the filaments, while the printer loads them all; beyond
    # that they are clustered down to what it loads, as make does.
    count = max(1, min(len(colours), printer.filament_slots))
    exact = 0 < len(colours) == count
    options.colors = count
    options.palette = ",".join(to_hex(c) for c in colours) if exact else None
    plan = options.validate(1)
    settings = plan.settings
    repairs = []
    if place:
        # The edited size is the size wanted: placement rests, turns and centres it (scale 1).
        mesh, _ = fit_to_build_volume(mesh, printer, float(mesh.extents[2]), "photo", 0.0,
                                      settings.support_threshold_deg)
    validation = validate_mesh(mesh)
    if not validation.ok:
        mesh, repairs = repair_mesh(mesh)
        validation = validate_mesh(mesh)
    if not validation.ok:
        raise NotPrintable("the edit leaves the model unprintable: " + "; ".join(validation.problems))
    if not inside_build_volume(mesh, printer):
        raise InputError(f"the edited model leaves the {printer.name}'s build volume")
    filaments = _own_colours(mesh) if exact else assign_filaments(mesh, count, plan.palette)
    settings.filaments = [Filament(to_hex(c), options.material) for c in filaments.palette]
    if filaments.count > 1:
        mesh = mesh.copy(face_colours=filaments.palette[filaments.face_filament])
    model = EditableModel(mesh, model.history, model.title, model.source)
    return EditResult(model, operations, validation, filaments, settings, printer, repairs)
