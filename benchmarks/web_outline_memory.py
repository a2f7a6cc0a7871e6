"""Peak memory of the web server process under parallel 40-megapixel `/api/outline` requests.

For each photo kind (a JPEG as cameras write it, and a PNG with transparency, the heaviest to
decode) a fresh `fabricate serve` subprocess gets 1 request (the baseline) and then, in a second
fresh server, N requests at once. The server's peak resident memory is its kernel high-water mark
(VmHWM in /proc/PID/status, Linux), read after the requests; "kept" is its VmRSS then.
Target (issue 12): 8 parallel requests keep the server under 1.5 GiB.

    python benchmarks/web_outline_memory.py [--parallel 8] [--megapixels 40]
"""
from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
TARGET_MIB = 1536


def photo_bytes(kind: str, megapixels: float) -> bytes:
    """A photo of one object on a plain (JPEG) or transparent (PNG) background, ``megapixels`` large."""
    height = int((megapixels * 1e6 / 1.5) ** 0.5)
    width = int(megapixels * 1e6 / height)
    transparent = kind == "png-alpha"
    image = Image.new("RGBA" if transparent else "RGB", (width, height),
                      (235, 235, 230, 0) if transparent else (235, 235, 230))
    ImageDraw.Draw(image).ellipse((width * 0.3, height * 0.2, width * 0.7, height * 0.85), fill=(180, 40, 30, 255))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if transparent else "JPEG", **({"compress_level": 1} if transparent else
                                                                   {"quality": 90}))
    return buffer.getvalue()


def memory_mib(pid: int) -> dict:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmHWM", "VmRSS")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(kind: str, data: bytes, parallel: int) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen([sys.executable, "-m", "fabricate.cli", "serve", "--port", str(port),
                                   "--data-dir", folder], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                  stdout=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    httpx.get(f"{base}/api/printers", timeout=2).raise_for_status()
                    break
                except httpx.TransportError:
                    if time.time() > deadline:
                        raise RuntimeError("the server did not start")
                    time.sleep(0.2)
            idle = memory_mib(server.pid)["VmRSS"]
            name = "photo.png" if kind == "png-alpha" else "photo.jpg"

            def outline(_):
                return httpx.post(f"{base}/api/outline", files={"photo": (name, data)}, timeout=300).status_code

            start = time.perf_counter()
            with ThreadPoolExecutor(parallel) as pool:
                statuses = list(pool.map(outline, range(parallel)))
            wall = time.perf_counter() - start
            memory = memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(30)
    return {"kind": kind, "parallel": parallel, "ok": statuses.count(200), "busy": statuses.count(503),
            "other": len(statuses) - statuses.count(200) - statuses.count(503), "wall": wall, "idle": idle,
            "peak": memory["VmHWM"], "kept": memory["VmRSS"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--megapixels", type=float, default=40.0)
    args = parser.parse_args()
    rows = []
    for kind in ("jpeg", "png-alpha"):
        data = photo_bytes(kind, args.megapixels)
        rows += [run(kind, data, 1), run(kind, data, args.parallel)]
    print(f"cores: {os.cpu_count()}; {args.megapixels:g}-megapixel photos; target: peak under {TARGET_MIB} MiB "
          f"with {args.parallel} at once\n")
    print("| photo | requests at once | answered 200 | 503 busy | other | wall s | idle MiB | peak MiB | kept MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['parallel']}{' (baseline)' if r['parallel'] == 1 else ''} | {r['ok']} | "
              f"{r['busy']} | {r['other']} | {r['wall']:.1f} | {r['idle']:.0f} | {r['peak']:.0f} | {r['kept']:.0f} |")
    worst = max(r["peak"] for r in rows if r["parallel"] == args.parallel)
    print(f"\nworst peak with {args.parallel} at once: {worst:.0f} MiB "
          f"({'under' if worst < TARGET_MIB else 'OVER'} the {TARGET_MIB} MiB target)")


if __name__ == "__main__":
    main()
