"""The web page in a real headless Chromium: photo → build → live progress → WebGL preview → 3MF download.

Uses Debian's /usr/bin/chromium through Playwright (never `playwright install`). Without that
browser the tests are skipped locally and fail on CI (env var CI set).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import assert_printable_3mf, live_server

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "hamburger.png"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
BUILD_TIMEOUT_MS = 180_000


def _require_browser():
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
    _require_browser()
    with live_server(tmp_path_factory.mktemp("web-data"), workers=1) as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    _require_browser()
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


def _pixels_off_background(png: bytes, background: str):
    """Share of pixels that differ from the background, and how many distinct colours they hold."""
    import io

    from PIL import Image

    import numpy as np

    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = np.asarray(image, dtype=np.int16).reshape(-1, 3)
    bg = np.array([int(background[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    off = pixels[np.abs(pixels - bg).max(axis=1) > 12]
    # Coarse buckets (32 levels per channel) so anti-aliasing doesn't inflate the count.
    buckets = np.unique(off >> 3, axis=0)
    return len(off) / len(pixels), len(buckets), image.size


def test_build_preview_and_download(page, server, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))

    page.goto(server + "/")
    assert page.title().startswith("fabricate")
    page.wait_for_function("window.__preview !== undefined")

    page.set_input_files("#photo-input", str(SAMPLE))
    # The thumbnail appears with the detected outline drawn over it.
    page.wait_for_selector("#thumb-img[src^='blob:']", state="attached")
    page.wait_for_function("document.getElementById('outline-status').classList.contains('good')")
    drawn = page.evaluate("""() => {
        const c = document.getElementById('outline-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return {w: c.width, h: c.height, painted: n};
    }""")
    assert drawn["w"] > 0 and drawn["painted"] > 0.01 * drawn["w"] * drawn["h"], drawn

    page.select_option("#printer", "bambu-a1")
    page.select_option("#resolution", "128")
    page.fill("#title", "Browser burger")
    assert page.locator("#error").is_hidden()
    page.click("#build-button")

    page.wait_for_function("document.getElementById('progress-percent').textContent === '100 %'",
                           timeout=BUILD_TIMEOUT_MS)
    assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
    assert page.locator("#stage").text_content().strip() == "Done"
    assert page.locator("#elapsed").text_content().strip().endswith("s")

    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
    preview = page.evaluate("window.__preview")
    assert preview["error"] is None, preview["error"]
    assert preview["meshes"] >= 1

    # The form kept its values.
    assert page.input_value("#printer") == "bambu-a1"
    assert page.input_value("#resolution") == "128"
    assert page.input_value("#title") == "Browser burger"

    # The report in plain words.
    report = page.locator("#report").inner_text()
    assert "Watertight ✓" in report
    assert "Fits the Bambu Lab A1 ✓" in report
    assert " mm" in report and "Filament 1" in report
    assert page.locator("#report .swatch").count() >= 2

    canvas = page.locator("#preview canvas")
    assert canvas.count() == 1
    png = canvas.screenshot()
    (ARTIFACTS / "web_preview.png").write_bytes(png)
    page.screenshot(path=str(ARTIFACTS / "web_page.png"), full_page=True)
    share, colours, size = _pixels_off_background(png, preview["background"])
    assert share > 0.03, f"only {share:.1%} of the {size} canvas shows anything"
    assert colours >= 8, f"only {colours} distinct colours on the canvas"

    # Download through the page's own link and check it independently.
    for link in ("#download-3mf", "#download-stl", "#download-glb"):
        assert page.get_attribute(link, "download") is not None
    with page.expect_download() as info:
        page.click("#download-3mf")
    download = info.value
    assert download.failure() is None
    path = tmp_path / "downloaded.3mf"
    download.save_as(path)
    assert_printable_3mf(path, "bambu-a1")

    assert sum("/api/jobs" in url and not url.endswith("/share") for url in posts) == 1
    assert not page.console_errors, page.console_errors


def test_non_image_is_refused_in_plain_words(page, server, tmp_path):
    fake = tmp_path / "not_a_photo.png"
    fake.write_text("this is a text file pretending to be a PNG\n" * 20)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))

    page.goto(server + "/")
    page.wait_for_function("window.__preview !== undefined")
    page.set_input_files("#photo-input", str(fake))

    error = page.locator("#error")
    error.wait_for(state="visible")
    text = error.inner_text().strip()
    assert text, "the error box is empty"
    assert "image" in text.lower() or "photo" in text.lower(), text
    assert "{" not in text and "Traceback" not in text and "detail" not in text, text

    # Nothing can be built from it: the button stays off and no job was posted.
    assert page.locator("#build-button").is_disabled()
    page.wait_for_timeout(500)
    assert not [url for url in posts if url.rstrip("/").endswith("/api/jobs")], posts
    assert page.locator("#progress-box").is_hidden()
