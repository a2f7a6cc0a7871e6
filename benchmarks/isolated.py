"""Run one benchmark case in its own Python process, so its peak resident memory is its own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_case(child_code: str, case: dict, root=ROOT) -> dict:
    """Run ``child_code`` with the case as JSON in ``sys.argv[1]``; its last stdout line is JSON.

    ``root`` is the folder the child imports ``fabricate`` from (another checkout's, to
    measure a baseline in the same run). Returns that JSON, or ``{"error": last line of
    stderr}`` when the child failed.
    """
    env = {**os.environ, "PYTHONPATH": str(root)}
    # ``python -c`` puts the working folder first on sys.path: run in ``root`` so it is the one imported.
    done = subprocess.run([sys.executable, "-c", child_code, json.dumps(case)], capture_output=True, text=True,
                          env=env, cwd=str(root))
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])
