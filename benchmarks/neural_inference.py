"""Neural against classical on the CPU: photo -> 3MF wall time and peak memory at the default resolution.

Each model runs in its own process (peak RSS is its own), on the same photos, in one run.

    python benchmarks/neural_inference.py [--samples hamburger,robot] [--resolution 256]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r'''
import json, resource, sys, tempfile, time, os
case = json.loads(sys.argv[1])
import torch
torch.set_num_threads(2)
from fabricate.pipeline import MakeOptions, make_model, write_outputs
start = time.perf_counter()
result = make_model(case["photo"], MakeOptions(printer="bambu-a1", model=case["model"], resolution=case["resolution"]))
with tempfile.TemporaryDirectory() as tmp:
    write_outputs(result, os.path.join(tmp, "m.3mf"), report_json=False)
print(json.dumps({"seconds": time.perf_counter() - start, "reconstruct": result.seconds["reconstruct"],
                  "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ok": result.validation.ok}))
'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", default="hamburger,robot")
    parser.add_argument("--resolution", type=int, default=256)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; resolution {args.resolution}\n")
    print("| photo | model | photo -> 3MF s | reconstruct stage s | peak RSS MiB | printable |")
    print("|---|---|---|---|---|---|")
    for name in args.samples.split(","):
        for model in ("classical", "neural"):
            case = {"photo": str(ROOT / "samples" / f"{name}.png"), "model": model, "resolution": args.resolution}
            done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(case)], capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            if done.returncode:
                print(f"| {name} | {model} | error: {done.stderr.strip().splitlines()[-1]} | | | |")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"| {name} | {model} | {r['seconds']:.2f} | {r['reconstruct']:.2f} | {r['peak'] / 2 ** 20:.0f} | "
                  f"{'yes' if r['ok'] else 'NO'} |")


if __name__ == "__main__":
    main()
