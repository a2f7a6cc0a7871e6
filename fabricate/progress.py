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

    def stage(self, name: str) -> "StageProgress":
        return StageProgress(self, name)


class StageProgress:
    """Progress of one stage: ``report(f)`` with f in [0, 1]."""

    def __init__(self, parent: Progress, name: str):
        self.parent = parent
        self.name = name

    def report(self, fraction: float) -> None:
        self.parent(self.name, fraction)

    def __enter__(self) -> "StageProgress":
        self.report(0.0)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.report(1.0)
