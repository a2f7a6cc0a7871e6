"""Slice a 3MF with the PrusaSlicer command line and read the estimates from its G-code."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Optional

from fabricate.errors import FabricateError


@dataclass
class SliceReport:
    """What PrusaSlicer reported for one slicing run."""

    slicer: str
    seconds: float
    print_time: str
    print_time_s: int
    filament_mm: list
    filament_g: list
    tool_changes: int
    layers: int
    gcode: Optional[str] = None

    def to_dict(self) -> dict:
        return asdict(self)

    def summary_line(self) -> str:
        grams = sum(self.filament_g)
        return (f"PrusaSlicer estimate: {self.print_time}, {grams:.1f} g of filament "
                f"({', '.join(f'{g:.1f}' for g in self.filament_g)} g per filament), "
                f"{self.tool_changes} tool changes, {self.layers} layers")


def find_prusaslicer() -> Optional[str]:
    return shutil.which("prusa-slicer") or shutil.which("prusa-slicer-console")


def config_block(gcode: str) -> dict:
    """The `; key = value` settings block PrusaSlicer appends to every G-code file."""
    config = {}
    for line in gcode[-400_000:].splitlines():
        if line.startswith("; ") and " = " in line:
            key, _, value = line[2:].partition(" = ")
            config[key.strip()] = value.strip()
    return config


def _duration_seconds(text: str) -> int:
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)\s*([dhms])", text))


def parse_gcode(gcode: str) -> dict:
    """Print time, filament use, tool changes and layer count from PrusaSlicer G-code."""
    config = config_block(gcode)
    time_text = config.get("estimated printing time (normal mode)", "")
    numbers = lambda key: [float(x) for x in re.findall(r"[\d.]+", config.get(key, ""))]
    tool_changes = len(re.findall(r"^T\d+\s*$", gcode, re.M))
    layers = len(re.findall(r"^;LAYER_CHANGE", gcode, re.M))
    return {"print_time": time_text, "print_time_s": _duration_seconds(time_text),
            "filament_mm": numbers("filament used [mm]"),
            # Grams per filament: the volume (cm³) times the density written into the config.
            "filament_g": [round(v * d, 2) for v, d in zip(numbers("filament used [cm3]"), numbers("filament_density"))],
            "tool_changes": tool_changes, "layers": layers, "config": config}


#: Runs of PrusaSlicer on one file when it dies by a signal: 2.5 aborted (SIGABRT) once in about
#: thirty CI runs on a file it sliced every other time, so a crash is tried once more; an error
#: it reports (exit code > 0) is its answer.
SLICER_ATTEMPTS = 2


def slice_3mf(path, gcode_path=None, timeout: float = 600) -> SliceReport:
    """Run ``prusa-slicer --export-gcode`` on ``path`` (headless) and parse the result.

    Raises
    ------
    FabricateError
        PrusaSlicer is missing, fails or times out.
    """
    executable = find_prusaslicer()
    if executable is None:
        raise FabricateError("PrusaSlicer is not installed (Debian/Ubuntu: apt install prusa-slicer)")
    with tempfile.TemporaryDirectory(prefix="fabricate-slice-") as home:
        output = gcode_path or os.path.join(home, "model.gcode")
        start = time.perf_counter()
        for _ in range(SLICER_ATTEMPTS):
            try:
                # HOME points at a scratch folder so PrusaSlicer never touches the user's own profiles.
                done = subprocess.run([executable, "--export-gcode", "--output", os.fspath(output), os.fspath(path)],
                                      capture_output=True, text=True, timeout=timeout,
                                      env={**os.environ, "HOME": home})
            except subprocess.TimeoutExpired:
                raise FabricateError(f"PrusaSlicer did not finish within {timeout:.0f} s") from None
            if done.returncode >= 0:  # finished (well or not): its answer stands
                break
        seconds = time.perf_counter() - start
        if done.returncode != 0 or not os.path.exists(output):
            reason = (done.stderr or done.stdout).strip().splitlines()
            raise FabricateError("PrusaSlicer failed: " + (reason[-1] if reason else f"exit code {done.returncode}"))
        with open(output, encoding="utf-8", errors="replace") as handle:
            parsed = parse_gcode(handle.read())
    parsed.pop("config")
    return SliceReport(slicer="PrusaSlicer", seconds=round(seconds, 3), gcode=os.fspath(gcode_path) if gcode_path else None,
                       **parsed)
