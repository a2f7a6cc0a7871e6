"""slice_3mf tries PrusaSlicer once more when it dies by a signal, and takes a reported error as final.

The real PrusaSlicer cannot be made to crash on demand, so a small shell script stands in for
it here (on PATH as ``prusa-slicer``); every other slicing test runs the real one.
"""
import os
import stat

import pytest

from fabricate.errors import FabricateError
from fabricate.export.slice import SLICER_ATTEMPTS, slice_3mf

GCODE = "; estimated printing time (normal mode) = 1m 2s\\n;LAYER_CHANGE\\n"


def _stand_in(folder, body: str):
    script = folder / "prusa-slicer"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture
def on_path(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    return bin_dir


def test_a_crash_is_tried_once_more(tmp_path, on_path):
    runs = tmp_path / "runs"
    # First run: abort like PrusaSlicer's SIGABRT; second: write the G-code to --output ($3).
    _stand_in(on_path, f'echo run >> "{runs}"\n'
                       f'if [ "$(wc -l < "{runs}")" -eq 1 ]; then kill -ABRT $$; fi\n'
                       f'printf "{GCODE}" > "$3"\n')
    report = slice_3mf(tmp_path / "model.3mf", tmp_path / "model.gcode")
    assert runs.read_text().count("run") == 2 and report.layers == 1 and report.print_time_s == 62


def test_a_reported_error_is_final_and_a_crash_twice_fails(tmp_path, on_path):
    runs = tmp_path / "runs"
    _stand_in(on_path, f'echo run >> "{runs}"\necho "Error: object outside the print area" >&2\nexit 1\n')
    with pytest.raises(FabricateError, match="outside the print area"):
        slice_3mf(tmp_path / "model.3mf", tmp_path / "model.gcode")
    assert runs.read_text().count("run") == 1
    runs.unlink()
    _stand_in(on_path, f'echo run >> "{runs}"\nkill -ABRT $$\n')
    with pytest.raises(FabricateError, match="PrusaSlicer failed"):
        slice_3mf(tmp_path / "model.3mf", tmp_path / "model.gcode")
    assert runs.read_text().count("run") == SLICER_ATTEMPTS
