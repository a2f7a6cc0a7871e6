"""The web page in a real headless Chromium: photo → build → live progress → WebGL preview → 3MF download.

Uses Debian's /usr/bin/chromium through Playwright (never `playwright install`). Without that
browser the tests are skipped locally and fail on CI (env var CI set).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import BUILD_TIMEOUT_MS, CHROMIUM, assert_printable_3mf

# Slow: a real browser drives builds through the whole pipeline.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "hamburger.png"
ARTIFACTS = ROOT / "tests" / "artifacts"
pytestmark = pytest.mark.slow  # a browser, and whole builds


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


def _outlines_drawn(page) -> list:
    """Each photo card's outline canvas: its size and how many pixels are painted."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.photo-card .outline-canvas'), (c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return {w: c.width, h: c.height, painted: n};
    })""")


def _painted(canvas: dict) -> bool:
    return canvas["w"] > 0 and canvas["painted"] > 0.01 * canvas["w"] * canvas["h"]


def _build_fast(page) -> None:
    """Build for the Bambu Lab A1 at the lowest resolution and wait for 100 % without an error."""
    page.select_option("#printer", "bambu-a1")
    page.select_option("#resolution", "128")
    page.click("#build-button")
    page.wait_for_function("document.getElementById('progress-percent').textContent === '100 %'",
                           timeout=BUILD_TIMEOUT_MS)
    assert page.locator("#error").is_hidden(), page.locator("#error").text_content()


def test_build_preview_and_download(page, server, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))

    page.goto(server + "/")
    assert page.title().startswith("fabricate")
    page.wait_for_function("window.__preview !== undefined")

    page.set_input_files("#photo-input", str(SAMPLE))
    # The thumbnail appears with the detected outline drawn over it.
    page.wait_for_selector(".photo-card .thumb-img[src^='blob:']", state="attached")
    page.wait_for_selector(".photo-card .outline-status.good", state="attached")
    drawn = _outlines_drawn(page)
    assert len(drawn) == 1 and _painted(drawn[0]), drawn

    page.fill("#title", "Browser burger")
    assert page.locator("#error").is_hidden()
    _build_fast(page)
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


MULTIVIEW = ROOT.parent / "shared" / "photos" / "multiview"
# The tiger set, labelled by looking: _2 faces the camera, _1 shows its own left side (its face
# points to the image's left), _3 is its back.
TIGER_FRONT, TIGER_LEFT, TIGER_BACK = (MULTIVIEW / f"tiger_{n}.png" for n in (2, 1, 3))


def _drop_files(page, selector: str, paths) -> None:
    """Drop files on an element the way a file manager does (a drop event carrying a DataTransfer)."""
    import base64

    files = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode()} for p in paths]
    transfer = page.evaluate_handle("""(files) => {
        const dt = new DataTransfer();
        for (const f of files) {
            const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
            dt.items.add(new File([bytes], f.name, {type: 'image/png'}));
        }
        return dt;
    }""", files)
    page.dispatch_event(selector, "drop", {"dataTransfer": transfer})


def test_several_photos_build_one_model(page, server, tmp_path):
    """Choose two photos, drop a third, say where each was taken from, build, download the 3MF."""
    if not all(p.is_file() for p in (TIGER_FRONT, TIGER_LEFT, TIGER_BACK)):
        pytest.skip(f"the multi-view photos are not in {MULTIVIEW}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    bodies = []
    page.on("request", lambda r: r.method == "POST" and r.url.rstrip("/").endswith("/api/jobs")
            and bodies.append(r.post_data_buffer))

    page.goto(server + "/")
    page.wait_for_function("window.__preview !== undefined")
    page.set_input_files("#photo-input", [str(TIGER_FRONT), str(TIGER_BACK)])
    _drop_files(page, "#drop-zone", [TIGER_LEFT])  # adding more keeps the photos already there
    cards = page.locator(".photo-card")
    assert cards.count() == 3
    page.wait_for_function("document.querySelectorAll('.photo-card .outline-status.good').length === 3")
    drawn = _outlines_drawn(page)
    assert len(drawn) == 3 and all(_painted(c) for c in drawn), drawn

    # Each photo's view picker: a label, or an angle in degrees (its left side is 90).
    assert page.input_value("#views") == "front,left,back"  # suggested in shooting order
    cards.nth(1).locator(".view-select").select_option("back")
    cards.nth(2).locator(".view-select").select_option("angle")
    cards.nth(2).locator(".view-angle").fill("90")
    assert page.input_value("#views") == "front,back,90"

    page.fill("#height-mm", "60")
    _build_fast(page)

    # One job, with the three photos as repeated `photo` fields and the views as one comma list.
    assert len(bodies) == 1
    assert bodies[0].count(b'name="photo"') == 3
    assert b'name="views"\r\n\r\nfront,back,90\r\n' in bodies[0]

    report = page.locator("#report").inner_text()
    assert "Watertight ✓" in report and "Fits the Bambu Lab A1 ✓" in report
    assert page.locator("#view-fits li").count() == 3
    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
    assert page.evaluate("window.__preview.error") is None
    page.screenshot(path=str(ARTIFACTS / "web_page_multiview.png"), full_page=True)

    with page.expect_download() as info:
        page.click("#download-3mf")
    path = tmp_path / "tiger.3mf"
    info.value.save_as(path)
    vertices, _, _ = assert_printable_3mf(path, "bambu-a1")
    assert abs(float(vertices[:, 2].max() - vertices[:, 2].min()) - 60) < 1.0
    assert not page.console_errors, page.console_errors


OTHER_SITE_PAGE = """<!doctype html><title>another site</title>
<form id="form" method="POST" action="{server}/api/jobs" enctype="multipart/form-data">
  <input name="printer" value="bambu-a1"><input type="file" name="photo" id="photo">
</form>
<script>
  // What a page on any other site could do while the user has fabricate open: post a job to it.
  window.posted = (async () => {{
    const body = new FormData();
    body.append("printer", "bambu-a1");
    body.append("photo", new Blob([Uint8Array.from(atob("{photo}"), (c) => c.charCodeAt(0))], {{type: "image/png"}}),
                "p.png");
    try {{
      const answer = await fetch("{server}/api/jobs", {{method: "POST", body, mode: "no-cors"}});
      return "sent " + answer.type;
    }} catch (err) {{
      return "failed " + err;
    }}
  }})();
</script>"""


def _serve_page(html: str):
    """A second web site: one page on another loopback port, in a thread. Returns (base URL, server)."""
    from conftest import QuietHandler, serve_in_background

    class Page(QuietHandler):
        def do_GET(self):
            self.send_body(200, html.encode(), "text/html; charset=utf-8")

    return serve_in_background(Page)


def test_another_site_cannot_post_a_job_while_the_page_itself_can(browser, server, tmp_path):
    """Issue 12: a page on another origin posting a job (fetch, then a form) is refused; the app's page is not."""
    import base64
    from urllib.parse import urlsplit

    import httpx

    photo = base64.b64encode(SAMPLE.read_bytes()).decode()
    site, site_server = _serve_page(OTHER_SITE_PAGE.format(server=server, photo=photo))
    context = browser.new_context()
    page = context.new_page()
    answers = []
    page.on("response", lambda r: r.url.startswith(server) and answers.append((r.request.method, r.status)))
    try:
        with httpx.Client(timeout=30) as client:
            before = {job["id"] for job in client.get(f"{server}/api/jobs").json()}
            page.goto(site + "/")
            assert page.evaluate("window.posted").startswith("sent")
            page.wait_for_timeout(300)
            assert ("POST", 403) in answers, answers
            page.set_input_files("#photo", str(SAMPLE))
            with page.expect_navigation():
                page.evaluate("document.getElementById('form').submit()")
            assert "cross-site request refused" in page.content()
            assert {job["id"] for job in client.get(f"{server}/api/jobs").json()} == before

            # The app's own page still builds a job (deleted at once: this test is about who may post).
            page.goto(server + "/")
            page.wait_for_function("window.__preview !== undefined")
            page.set_input_files("#photo-input", str(SAMPLE))
            page.wait_for_selector(".photo-card .outline-status.good", state="attached")
            page.select_option("#resolution", "128")
            with page.expect_response(lambda r: r.request.method == "POST" and r.url == f"{server}/api/jobs") as info:
                page.click("#build-button")
            assert info.value.status == 202, info.value.text()
            assert client.delete(f"{server}/api/jobs/{info.value.json()['id']}").status_code == 204
    finally:
        context.close()
        site_server.shutdown()

    # DNS rebinding: a name the attacker controls, resolving to this machine, is not the server's name.
    rebinding = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        "--headless=new", "--no-sandbox", "--host-resolver-rules=MAP rebound.test 127.0.0.1"])
    try:
        answer = rebinding.new_page().goto(f"http://rebound.test:{urlsplit(server).port}/api/jobs")
        assert answer.status == 421, answer.status
    finally:
        rebinding.close()


@pytest.mark.parametrize("path, rendered", [
    # Swagger UI draws one block per operation; Redoc one menu entry per operation.
    ("/docs", ".opblock-summary-path[data-path='/api/jobs']"),
    ("/redoc", "li[data-item-id] >> text=Create Job"),
])
def test_api_docs_work_with_the_network_blocked(page, server, path, rendered):
    # The page fixture aborts every request that leaves this machine (and fails if one was made).
    page.goto(server + path)
    page.wait_for_selector(rendered, state="attached")
    assert not page.console_errors, page.console_errors


def test_large_static_files_are_sent_compressed(server):
    import httpx

    with httpx.stream("GET", server + "/static/vendor/three/build/three.core.js",
                      headers={"Accept-Encoding": "gzip"}) as response:
        sent = b"".join(response.iter_raw())
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    size = (ROOT / "web/static/vendor/three/build/three.core.js").stat().st_size
    assert len(sent) < size / 3, (len(sent), size)
