"""Progress reporting shared by the CLI bar, the job runner and the library.

A stage reports fractions in [0, 1]; `Progress` turns them into calls of a
user callback ``callback(stage, fraction)`` so the library never imports a UI.
"""
from __future__ import annotations

from typing import Callable, Optional

ProgressCallback = Callable[[str, float], None]

#: Pipeline stages in the order data flows through them.
STAGES = ("image", "reconstruct", "mesh", "color", "printing", "export")


class Progress:
    """Forward stage progress to an optional callback.

    Parameters
    ----------
    callback
        Called as ``callback(stage, fraction)``; ``None`` makes reporting free.
    """

    def __init__(self, callback: Optional[ProgressCallback] = None):
        self._callback = callback

    def __call__(self, stage: str, fraction: float) -> None:
        if self._callback is not None:
            self._callback(stage, float(min(max(fraction, 0.0), 1.0)))

    def stage(self, name: str, start: float = 0.0, end: float = 1.0) -> "StageProgress":
        return StageProgress(self, name, start, end)


class StageProgress:
    """Progress of one stage: ``report(f)`` with f in [0, 1].

    ``start`` and ``end`` let two calls share one stage (the checks in
    ``make_model`` and the writing in ``write_outputs`` both belong to "export").
    """

    def __init__(self, parent: Progress, name: str, start: float = 0.0, end: float = 1.0):
        self.parent = parent
        self.name = name
        self.start, self.end = start, end

    def report(self, fraction: float) -> None:
        self.parent(self.name, self.start + (self.end - self.start) * fraction)

    def __enter__(self) -> "StageProgress":
        self.report(0.0)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.report(1.0)
