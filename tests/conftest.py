"""Shared fixtures and independent checks of printability.

The checks here deliberately do not use fabricate's own validation code: a 3MF
is read back with lib3mf and judged with manifold3d plus a directed-edge count
written separately below (manifold3d's status alone passes inverted meshes and
edges shared by four faces).
"""
from __future__ import annotations

import contextlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = sorted((ROOT / "samples").glob("*.png"))
SHARED = ROOT.parent / "shared"
ARTIFACTS = ROOT / "tests" / "artifacts"


def read_3mf_with_lib3mf(path):
    """Vertices, triangles, per-triangle colours and the unit of a 3MF, via lib3mf only."""
    import lib3mf

    wrapper = lib3mf.get_wrapper()
    model = wrapper.CreateModel()
    model.QueryReader("3mf").ReadFromFile(str(path))
    objects = model.GetMeshObjects()
    meshes = []
    while objects.MoveNext():
        meshes.append(objects.GetCurrentMeshObject())
    assert len(meshes) == 1, f"expected one mesh object, found {len(meshes)}"
    obj = meshes[0]
    vertices = np.array([list(v.Coordinates) for v in obj.GetVertices()], np.float64)
    triangles = np.array([list(t.Indices) for t in obj.GetTriangleIndices()], np.int64)
    properties = obj.GetAllTriangleProperties()
    colours = set()
    for resource_id, pid in {(p.ResourceID, p.PropertyIDs[0]) for p in properties}:
        group = model.GetColorGroupByID(resource_id)
        c = group.GetColor(pid)
        colours.add((c.Red, c.Green, c.Blue))
    return vertices, triangles, colours, model.GetUnit()


def directed_edges_all_twinned(faces: np.ndarray) -> bool:
    """Every directed edge occurs once and its reverse occurs exactly once."""
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    forward = {}
    for a, b in map(tuple, edges):
        forward[(a, b)] = forward.get((a, b), 0) + 1
    return all(count == 1 and forward.get((b, a), 0) == 1 for (a, b), count in forward.items())


def assert_printable_3mf(path, printer_id: str, min_colours: int = 2):
    import lib3mf
    import manifold3d

    from fabricate.printing import get_printer

    vertices, faces, colours, unit = read_3mf_with_lib3mf(path)
    assert unit == lib3mf.ModelUnit.MilliMeter
    solid = manifold3d.Manifold(manifold3d.Mesh(np.array(vertices, np.float32), np.array(faces, np.uint32)))
    assert solid.status() == manifold3d.Error.NoError
    assert solid.volume() > 0
    assert directed_edges_all_twinned(faces)
    assert len(colours) >= min_colours
    printer = get_printer(printer_id)
    x0, y0 = printer.bed_origin_mm
    sx, sy, sz = printer.build_volume_mm
    assert vertices[:, 0].min() >= x0 and vertices[:, 0].max() <= x0 + sx
    assert vertices[:, 1].min() >= y0 and vertices[:, 1].max() <= y0 + sy
    assert vertices[:, 2].min() >= -1e-4 and vertices[:, 2].max() <= sz
    return vertices, faces, colours


def run_cli(*args, cwd=None, timeout=600):
    """Run the installed console script as a user would."""
    return subprocess.run([sys.executable, "-m", "fabricate.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@contextlib.contextmanager
def live_server(data_dir, workers: int = 1, **options):
    """The real web app served by uvicorn on a free loopback port, in a thread."""
    from web.app import create_app, serve_in_thread

    with serve_in_thread(create_app(data_dir=data_dir, workers=workers, **options)) as base:
        yield base


def wait_for_job(client, url, timeout=240):
    import time

    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(url).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.3)
    raise TimeoutError(f"job at {url} did not finish in {timeout} s")


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """Base of the tests' stand-in servers (hubs, an LLM endpoint, another web site): no log, one way to answer."""

    def send_body(self, status: int, data: bytes, content_type: str = "application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve_in_background(handler) -> tuple:
    """Serve ``handler`` on a free loopback port in a daemon thread; returns (base URL, server)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", server


# The real headless browser, shared by every browser test file (one Playwright per test process: a
# second sync_playwright() in the same process fails with "Sync API inside the asyncio loop").
CHROMIUM = "/usr/bin/chromium"
BUILD_TIMEOUT_MS = 180_000


def require_browser():
    """Skip locally, fail on CI, when the browser or Playwright is missing."""
    message = None
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)):
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            message = "Playwright is not installed (pip install playwright==1.65.2; never `playwright install`)"
    if message is None:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The real backend on a free local port, in a thread, for the whole session."""
    require_browser()
    with live_server(tmp_path_factory.mktemp("web-data"), workers=1) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    outside = []

    # The page must load nothing from outside this machine.
    def guard(route):
        url = route.request.url
        if url.startswith(server) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", guard)
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    context.close()
    assert not outside, f"the page tried to load outside resources: {outside}"
