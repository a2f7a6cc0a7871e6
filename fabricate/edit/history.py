"""The edit history, kept inside the 3MF so a later edit, ``--history`` or ``--undo`` needs the file alone.

One part, :data:`HISTORY_PART` (JSON; ``.config`` so it takes the package's existing
``text/plain`` content type and slicers ignore it as they ignore other settings files),
holds:

- ``job``: the printer and print choices every edit is finished with (placement, filaments,
  slicer settings);
- ``versions``: version 0 is the model as made; each edit adds one with its text, its checked
  operations and their plain-words summary;
- ``undone``: the versions an undo stepped back over, newest last, so ``--redo`` can go forward
  again (a new edit drops them, as in any editor);
- ``snapshots``: the exact geometry (float32 vertices as the file holds them, triangles,
  triangle colours) of earlier versions, so an undo restores a previous file's geometry
  bit for bit rather than replaying operations. Only the last :data:`MAX_SNAPSHOTS` are kept.

Reading is bounded and never unpickles: the snapshots are ``.npz`` arrays loaded with
``allow_pickle=False``, and every stored operation is checked again against the table.
"""
from __future__ import annotations

import base64
import json
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from fabricate.errors import InputError
from fabricate.edit.operations import checked_operation
from fabricate.mesh.archive import mesh_from_npz, mesh_to_npz
from fabricate.mesh.coloured_mesh import ColouredMesh

HISTORY_PART = "Metadata/fabricate_edits.config"
HISTORY_FORMAT = 1
#: Undo reaches back this many versions: each snapshot costs about 10 bytes per triangle.
MAX_SNAPSHOTS = 10
#: A history part larger than this is refused (MAX_SNAPSHOTS snapshots of a 5-million-triangle model).
MAX_HISTORY_BYTES = 1 << 30


@dataclass
class Version:
    """One version of the model: what was asked, the operations it became and what they did."""

    number: int
    text: Optional[str] = None
    operations: list = field(default_factory=list)
    summary: list = field(default_factory=list)


@dataclass
class History:
    job: dict
    versions: list = field(default_factory=lambda: [Version(0, None, [], ["as made"])])
    snapshots: dict = field(default_factory=dict)
    undone: list = field(default_factory=list)

    @property
    def current(self) -> int:
        return self.versions[-1].number

    def after_edit(self, before: ColouredMesh, text: str, operations: list, summary: list) -> "History":
        """The history once ``before`` (the current version) has been edited into a new version."""
        snapshots = {k: v for k, v in self.snapshots.items() if k < self.current}
        snapshots[self.current] = snapshot(before)
        kept = sorted(snapshots)[-MAX_SNAPSHOTS:]
        return History(dict(self.job), self.versions + [Version(self.current + 1, text, [op.to_dict() for op in operations],
                                                                summary)],
                       {k: snapshots[k] for k in kept})

    def undone_steps(self, steps: int, current: ColouredMesh) -> tuple:
        """(the geometry of the version ``steps`` back, the history as it was then, able to redo)."""
        target = self.current - steps
        if steps < 1 or target < 0:
            raise InputError(f"cannot undo {steps} edit{'s' if steps != 1 else ''}: the file is at version "
                             f"{self.current} ({self.current} edit{'s' if self.current != 1 else ''} to undo)")
        if target not in self.snapshots:
            raise InputError(f"version {target} is no longer stored (the file keeps the last {MAX_SNAPSHOTS}); "
                             f"the oldest it can undo to is {min(self.snapshots) if self.snapshots else self.current}")
        snapshots = {**self.snapshots, self.current: snapshot(current)}
        versions = [v for v in self.versions if v.number <= target]
        undone = [v for v in self.versions if v.number > target] + self.undone
        return restore(self.snapshots[target]), History(dict(self.job), versions, snapshots, undone)

    def redone_steps(self, steps: int) -> tuple:
        """(the geometry of the version ``steps`` forward again after an undo, the history then)."""
        if steps < 1 or steps > len(self.undone):
            raise InputError(f"cannot redo {steps} edit{'s' if steps != 1 else ''}: "
                             f"{len(self.undone) or 'no'} undone edit{'s' if len(self.undone) != 1 else ''} to redo")
        target = self.undone[steps - 1].number
        if target not in self.snapshots:
            raise InputError(f"version {target} is no longer stored; it cannot be redone")
        return restore(self.snapshots[target]), History(dict(self.job), self.versions + self.undone[:steps],
                                                        dict(self.snapshots), self.undone[steps:])

    def to_text(self) -> str:
        return json.dumps({"format": HISTORY_FORMAT, "job": self.job, "versions": [asdict(v) for v in self.versions],
                           "undone": [asdict(v) for v in self.undone], "snapshots": {str(k): v for k, v in self.snapshots.items()}})

    @classmethod
    def from_text(cls, text: str, where: str) -> "History":
        try:
            data = json.loads(text)
            if data.get("format") != HISTORY_FORMAT:
                raise ValueError(f"format {data.get('format')!r} is not {HISTORY_FORMAT}")
            versions, undone = ([Version(int(v["number"]), v.get("text"), list(v.get("operations", [])),
                                         [str(s) for s in v.get("summary", [])]) for v in data.get(key, [])]
                                for key in ("versions", "undone"))
            for version in versions + undone:  # stored operations are untrusted text like any other
                for op in version.operations:
                    checked_operation(op.get("operation"), op.get("parameters", {}))
            snapshots = {int(k): str(v) for k, v in data.get("snapshots", {}).items()}
            job = dict(data["job"])
        except InputError as exc:
            raise InputError(f"{where}: the stored edit history is damaged: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"{where}: the stored edit history is damaged: {exc}") from None
        if not versions:
            raise InputError(f"{where}: the stored edit history has no versions")
        return cls(job, versions, snapshots, undone)


def read_history(path) -> Optional[History]:
    """The history stored in the 3MF at ``path``, or None for a file never edited."""
    with zipfile.ZipFile(path) as package:
        try:
            info = package.getinfo(HISTORY_PART)
        except KeyError:
            return None
        if info.file_size > MAX_HISTORY_BYTES:
            raise InputError(f"{path}: the edit history is larger than {MAX_HISTORY_BYTES >> 20} MB")
        with package.open(info) as part:
            data = part.read(MAX_HISTORY_BYTES + 1)
    if len(data) > MAX_HISTORY_BYTES:
        raise InputError(f"{path}: the edit history is larger than {MAX_HISTORY_BYTES >> 20} MB")
    return History.from_text(data.decode("utf-8", errors="strict"), str(path))


def snapshot(mesh: ColouredMesh) -> str:
    """The geometry exactly as a 3MF holds it (float32 vertices, triangles, their colours), compressed, as text."""
    return base64.b64encode(mesh_to_npz(mesh, np.float32, vertex_colours=False)).decode("ascii")


def restore(text: str) -> ColouredMesh:
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InputError(f"a stored version is damaged: {exc}") from None
    return mesh_from_npz(data, "a stored version")
