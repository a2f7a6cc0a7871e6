"""Issue 17, the page a maker keeps open, in a real headless Chromium: errors beside the photo, a 48-megapixel
JPEG scaled, progress and result in view on a phone, the maker's own spools used, grams and hours shown, the
view buttons, a reload during a build that finds its job again, the list of earlier models, the model choice.

Builds run at resolution 128 (the quickest). One phone-sized build is shared by several checks. The browser,
server and page fixtures are tests/conftest.py's; every figure is checked against the API's own answer.
"""
from __future__ import annotations

import re

import httpx
import numpy as np
import pytest

from conftest import BUILD_TIMEOUT_MS
from fabricate.export.slice import find_prusaslicer
from test_web_browser import ARTIFACTS, SAMPLE

pytestmark = pytest.mark.slow  # a browser and whole builds

PHONE = {"width": 390, "height": 844}
#: Two spools a maker might own for the hamburger: a bun colour and a dark brown.
SPOOLS = [("Bun beige", "#D8A050"), ("Patty brown", "#3A2A20")]
DONE = "document.getElementById('progress-percent').textContent === '100 %'"
#: Records every text the polite live region is given (what a screen reader would announce).
WATCH_ANNOUNCEMENTS = """() => {
    window.__announced = [];
    const region = document.getElementById('progress-announce');
    new MutationObserver(() => window.__announced.push(region.textContent))
        .observe(region, {childList: true, characterData: true, subtree: true});
}"""


def _open(page, server):
    page.goto(server + "/")
    page.wait_for_function("window.__preview !== undefined")


def _add_photo(page, path):
    page.set_input_files("#photo-input", str(path))


def _add_sample(page):
    """The bundled sample, once its outline has been found good."""
    _add_photo(page, SAMPLE)
    page.wait_for_selector(".photo-card .outline-status.good", state="attached")


def _click_build(page, server) -> str:
    """Click Build; the id of the job the page posted."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url == f"{server}/api/jobs") as posted:
        page.click("#build-button")
    return posted.value.json()["id"]


def _in_viewport(page, selector: str) -> dict:
    """The element's box and whether it lies wholly inside the viewport."""
    return page.evaluate("""(sel) => {
        const r = document.querySelector(sel).getBoundingClientRect();
        return {top: r.top, bottom: r.bottom, height: r.height, viewport: window.innerHeight,
                inside: r.height > 0 && r.top >= -1 && r.bottom <= window.innerHeight + 1};  // 1 px: sub-pixel layout
    }""", selector)


# ---------------------------------------------------------------- 1. errors where the maker looks


def test_refused_photo_reason_beside_its_card_and_a_48_megapixel_jpeg_scaled(page, server, tmp_path):
    from PIL import Image, ImageDraw

    # A phone-sized photo: 8000 x 6000 = 48 megapixels, a red box on a light ground (smooth, so the file is small).
    big = Image.new("RGB", (8000, 6000), (235, 236, 238))
    ImageDraw.Draw(big).rectangle((2500, 1500, 5500, 4500), fill=(200, 40, 40))
    big_path = tmp_path / "phone_photo.jpg"
    big.save(big_path, quality=85)
    del big
    fake = tmp_path / "holiday.png"
    fake.write_text("this is a text file renamed to .png\n" * 20)

    _open(page, server)
    page.set_input_files("#photo-input", [str(fake), str(big_path)])
    cards = page.locator(".photo-card")
    assert cards.count() == 2
    refused = cards.nth(0)
    bad = refused.locator(".outline-status.bad")
    bad.wait_for(state="visible")
    # The reason itself, on the photo's own card, in plain words; the error box only points to it.
    reason = bad.inner_text()
    assert "holiday.png" in reason and "not an image" in reason, reason
    assert "{" not in reason and "detail" not in reason
    assert "beside" in page.locator("#error").inner_text()
    # No broken image: words where the picture would be.
    refused.locator(".thumb-missing").wait_for(state="visible")
    assert refused.locator(".thumb-img").is_hidden()
    # The reason is shown next to the thumbnail: inside the card, below its picture, on screen.
    card_box, reason_box = refused.bounding_box(), bad.bounding_box()
    assert card_box["y"] <= reason_box["y"] and reason_box["y"] + reason_box["height"] <= card_box["y"] + card_box["height"]
    assert _in_viewport(page, ".photo-card .outline-status.bad")["inside"]

    # The 48-megapixel JPEG: accepted, outlined and said to be scaled.
    scaled = cards.nth(1).locator(".outline-status.good")
    scaled.wait_for(state="visible", timeout=120_000)
    words = scaled.inner_text()
    assert "Scaled" in words, words
    assert "8000x6000" in scaled.get_attribute("title") and "megapixels" in scaled.get_attribute("title")
    assert page.locator("#build-button").is_disabled()  # the refused photo is still there

    refused.locator(".remove-photo").click()
    assert page.locator("#error").is_hidden()
    assert page.locator("#build-button").is_enabled()
    # The browser logs the refused upload's 415 itself; nothing else may go wrong.
    others = [e for e in page.console_errors if "status of 415" not in e]
    assert not others, others


def test_drop_zone_focus_ring_and_the_printers_filament_slots_offered(page, server):
    _open(page, server)
    # Tab to the (hidden) file input: the drop zone shows the focus with an outline.
    before = page.evaluate("getComputedStyle(document.getElementById('drop-zone')).outlineStyle")
    page.focus("#photo-input")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "photo-input"
    ring = page.evaluate("""() => { const s = getComputedStyle(document.getElementById('drop-zone'));
                                    return [s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    assert before == "none" and ring[0] == "solid" and ring[1] >= 2, (before, ring)
    # The colours field offers what the chosen printer really loads.
    offered = lambda: page.eval_on_selector_all("#colors-choices option", "(os) => os.map((o) => o.value)")  # noqa: E731
    page.select_option("#printer", "bambu-a1")
    assert offered() == ["auto", "1", "2", "3", "4"]
    assert "loads 4 filaments" in page.locator("#colors-note").inner_text()
    page.select_option("#printer", "prusa-mk4s-mmu3")
    assert offered() == ["auto", "1", "2", "3", "4", "5"]
    page.select_option("#printer", "creality-k1")
    assert offered() == ["auto", "1"] and "one filament" in page.locator("#colors-note").inner_text()
    assert not page.console_errors, page.console_errors


# ---------------------------------------------------------------- 2, 4, 6, 7: one build on a phone


@pytest.fixture(scope="module")
def phone_build(browser, server):  # noqa: F811 (fixtures)
    """A phone-width page that entered two spools and built the hamburger with 2 colours."""
    context = browser.new_context(viewport=PHONE, accept_downloads=True, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _open(page, server)
    for name, colour in SPOOLS:
        page.fill("#spool-name", name)
        page.fill("#spool-colour", colour)
        page.click("#spool-add")
    assert page.locator("#spool-list li").count() == 2
    assert page.locator("#spools-use").is_checked()
    assert page.input_value("#palette") == ",".join(c for _, c in SPOOLS)
    _add_sample(page)
    page.select_option("#printer", "bambu-a1")
    page.select_option("#resolution", "128")
    page.fill("#colors", "2")
    page.fill("#title", "Phone burger")
    page.select_option("#slice", "true")  # grams and hours from the real PrusaSlicer (CI installs it)
    page.evaluate(WATCH_ANNOUNCEMENTS)
    job_id = _click_build(page, server)
    # While it builds, the progress is on screen (the phone stacks it far below the Build button).
    page.wait_for_selector("#progress-box:not([hidden])")
    during = _in_viewport(page, "#progress-box")
    page.wait_for_function(DONE, timeout=BUILD_TIMEOUT_MS)
    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
    page.wait_for_selector("#report #filaments li")
    with httpx.Client(timeout=30) as client:
        job = client.get(f"{server}/api/jobs/{job_id}").json()
    yield {"page": page, "job": job, "progress_during_build": during, "errors": errors, "server": server}
    context.close()


def test_phone_shows_progress_and_result_without_scrolling(phone_build):
    page = phone_build["page"]
    assert phone_build["progress_during_build"]["inside"], phone_build["progress_during_build"]
    assert page.evaluate("window.__preview.error") is None
    # After the build, without any scrolling by the test: the 3D preview (the result) is wholly on screen.
    preview = _in_viewport(page, "#preview")
    assert preview["inside"], preview
    assert page.evaluate("window.scrollY") > 1000  # the page really did move: the form is long on a phone
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web_page_phone.png"))
    assert page.locator("#progress-announce").inner_text() == "Done: the model is ready."
    assert not phone_build["errors"], phone_build["errors"]


def test_screen_readers_hear_each_stage_once_and_the_check_does_not_contradict_itself(phone_build):
    page, job = phone_build["page"], phone_build["job"]
    announced = page.evaluate("window.__announced")
    # Each stage once (the elapsed seconds and percentages tick silently), ending with the result.
    assert announced[-1] == "Done: the model is ready.", announced
    assert len(announced) == len(set(announced)), announced
    assert not [t for t in announced if "%" in t or re.search(r"\d+ (s|min)\b", t)], announced  # no ticking figures
    assert "Building the 3D shape" in announced
    assert page.locator("#progress-box").get_attribute("aria-live") is None
    assert page.locator("#progress-bar").get_attribute("aria-label") == "Build progress"
    report = page.locator("#report").inner_text()
    analysis, fit = job["result"]["analysis"], job["result"]["fit"]
    assert "try the least-support orientation" not in report
    if fit["orientation"] == "photo" and analysis["recommended_pose"] == "photo":
        assert "This pose already needs the least support" in report, report
    else:
        assert f'pose "{analysis["recommended_pose"]}"' in report, report


def test_two_spools_are_the_filaments_used_with_their_names(phone_build):
    page, job = phone_build["page"], phone_build["job"]
    assert job["status"] == "succeeded"
    assert job["options"]["palette"] == ",".join(c for _, c in SPOOLS) and job["options"]["colors"] == 2
    used = {f["colour"].upper() for f in job["result"]["filaments"]}
    assert used == {c for _, c in SPOOLS}, used
    shown = page.locator("#report #filaments li").all_inner_texts()
    assert len(shown) == 2
    for name, colour in SPOOLS:
        assert any(name in text and colour in text for text in shown), shown
    # The colour named in words, not only a hex code.
    assert any("brown" in text for text in shown) and not any("Filament 1 #" in text for text in shown), shown


def test_grams_time_and_cost_shown_and_the_price_remembered(phone_build):
    page, job = phone_build["page"], phone_build["job"]
    estimate = job["result"]["print_estimate"]
    assert estimate["grams"] > 0 and estimate["hours"] > 0
    if find_prusaslicer():  # the figures are the slicer's own, as its G-code says
        slicing = job["result"]["slicing"]
        assert estimate["method"] == "PrusaSlicer's estimate" and estimate["grams"] == round(sum(slicing["filament_g"]), 2)
        with httpx.Client(timeout=30) as client:
            assert client.get(phone_build["server"] + job["links"]["model.gcode"]).status_code == 200
    figures = page.locator("#estimate-figures").inner_text()
    assert f"about {round(estimate['grams'])} g" in figures, figures
    minutes = round(estimate["hours"] * 60)
    assert (f"about {minutes} min" if minutes < 60 else f"about {minutes // 60} h") in figures, figures
    assert estimate["method"] in page.locator("#estimate-method").inner_text()
    page.fill("#price-per-kg", "25")
    cost = page.locator("#estimate-cost").inner_text()
    assert f"{estimate['grams'] / 1000 * 25:.2f}" in cost, (cost, estimate["grams"])
    # Remembered: a reload shows the same job again (this tab's job) with the price filled in.
    page.reload()
    page.wait_for_function(DONE, timeout=60_000)
    page.wait_for_selector("#estimate-figures")
    assert page.input_value("#price-per-kg") == "25"
    assert f"{estimate['grams'] / 1000 * 25:.2f}" in page.locator("#estimate-cost").inner_text()
    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)


def _camera(page, view: str):
    page.click(f"[data-view={view}]")
    page.wait_for_function(f"window.__camera.view === '{view}'")
    page.wait_for_timeout(300)  # the damped controls settle
    cam = page.evaluate("window.__camera")
    return np.array(cam["position"]) - np.array(cam["target"])


def test_view_buttons_move_the_camera_and_it_stays_above_the_bed(phone_build):
    page = phone_build["page"]
    page.wait_for_selector("#preview-toolbar:not([hidden])")
    front, side, top, iso = (_camera(page, v) for v in ("front", "side", "top", "iso"))
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    # three's world: the printer's front (-Y) is +Z, up is +Y.
    assert unit(front)[2] > 0.95 and abs(unit(front)[0]) < 0.05
    assert unit(side)[0] > 0.95 and abs(unit(side)[2]) < 0.05
    assert unit(top)[1] > 0.95
    assert min(unit(iso)) > 0.4  # from the front right, above
    # Keyboard orbit: arrow keys on the focused preview turn it, and never below the bed.
    page.focus("#preview canvas")
    for _ in range(12):
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(800)
    cam = page.evaluate("window.__camera")
    offset = np.array(cam["position"]) - np.array(cam["target"])
    assert cam["view"] is None and not np.allclose(unit(offset), unit(iso), atol=1e-3)
    assert offset[1] > 0, offset  # still above the target, which stands on the bed
    assert "front edge of the bed" in page.locator(".bed-legend").inner_text()


def test_a_new_photo_clears_the_old_result(phone_build, tmp_path):
    page = phone_build["page"]
    assert page.locator("#result").is_visible()  # the job shown again after the reload above
    _add_photo(page, SAMPLE)
    page.wait_for_selector("#result", state="hidden")
    assert page.locator("#preview-placeholder").is_visible()
    assert page.evaluate("window.__preview.meshes") == 0
    assert page.evaluate("sessionStorage.getItem('fabricate.job')") is None


# ---------------------------------------------------------------- 6. reload during a build; history


def test_reload_during_a_build_reconnects_and_finishes(page, server):
    posts = []
    page.on("request", lambda r: r.method == "POST" and r.url == f"{server}/api/jobs" and posts.append(r.url))
    _open(page, server)
    _add_sample(page)
    # 512, not 128: a 128 build now ends in about a second, which a reload can outlast (the check
    # below needs the build still running when the page comes back).
    page.select_option("#resolution", "512")
    page.fill("#title", "Reload burger")
    job_id = _click_build(page, server)
    with httpx.Client(timeout=30) as client:
        assert client.get(f"{server}/api/jobs/{job_id}").json()["status"] in ("queued", "running")
        page.reload()  # mid-build
        page.wait_for_selector("#progress-box:not([hidden])")
        assert page.locator("#cancel-button").is_visible()  # it is following a running build
        page.wait_for_function(DONE, timeout=BUILD_TIMEOUT_MS)
        assert client.get(f"{server}/api/jobs/{job_id}").json()["status"] == "succeeded"
    assert len(posts) == 1  # reconnected to the same job, never a second one
    assert page.evaluate("sessionStorage.getItem('fabricate.job')") == job_id
    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
    assert page.evaluate("window.__preview.error") is None
    assert "Watertight ✓" in page.locator("#report").inner_text()
    assert not page.console_errors, page.console_errors


def test_history_lists_earlier_jobs_shows_and_deletes_them(page, server):
    with httpx.Client(timeout=30) as client:
        jobs = client.get(f"{server}/api/jobs").json()
    done = [j for j in jobs if j["status"] == "succeeded"]
    if len(done) < 2:
        pytest.skip("needs the builds of the tests above (run the whole file)")
    _open(page, server)
    page.wait_for_function(f"document.querySelectorAll('#history-list li').length === {len(jobs)}")
    items = page.locator("#history-list li")
    # Newest first, each with its title, state, preview picture and downloads.
    newest = sorted(jobs, key=lambda j: -j["created_at"])
    assert [items.nth(i).get_attribute("data-job") for i in range(len(jobs))] == [j["id"] for j in newest]
    titles = page.locator("#history-list .history-title").all_inner_texts()
    assert "Phone burger" in titles and "Reload burger" in titles, titles
    phone = page.locator("#history-list li", has_text="Phone burger")
    assert "ready" in phone.inner_text()
    assert phone.locator("img.history-thumb").evaluate("(img) => img.complete && img.naturalWidth > 0")
    assert phone.locator("a", has_text="3MF").get_attribute("href").endswith("/model.3mf")

    # Show it again on the page.
    phone.locator(".history-open").click()
    page.wait_for_function(DONE, timeout=60_000)
    page.wait_for_selector("#report #estimate-figures")
    page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
    assert page.evaluate("window.__preview.error") is None

    # Delete the other: gone from the list and from the server.
    reload_job = next(j for j in done if j["options"].get("title") == "Reload burger")
    page.locator("#history-list li", has_text="Reload burger").locator(".history-delete").click()
    page.wait_for_function(f"!document.querySelector('#history-list li[data-job=\"{reload_job['id']}\"]')")
    with httpx.Client(timeout=30) as client:
        assert client.get(f"{server}/api/jobs/{reload_job['id']}").status_code == 404
    assert not page.console_errors, page.console_errors


# ---------------------------------------------------------------- 5. the model choice and its warning


def test_choosing_the_model_sends_it_and_the_page_says_what_one_photo_gives(page, server):
    _open(page, server)
    note = page.locator("#model-note").inner_text()
    assert "one photo" in note.lower() and "guessed" in note and "photos from the sides and the back" in note
    options = page.locator("#model option").all_inner_texts()
    assert "classical" in options and "neural" in options  # from the options schema
    _add_sample(page)
    page.select_option("#model", "neural")
    page.select_option("#resolution", "128")
    job_id = _click_build(page, server)
    with httpx.Client(timeout=30) as client:
        assert client.get(f"{server}/api/jobs/{job_id}").json()["options"]["model"] == "neural"
        # This test is about what the page sends; the neural build itself is tested elsewhere.
        page.click("#cancel-button")
        page.wait_for_function("document.getElementById('stage').textContent === 'Cancelled'")
        page.wait_for_timeout(300)
        assert client.get(f"{server}/api/jobs/{job_id}").status_code == 404


def test_photo_colours_and_delit_colours_side_by_side(page, server):
    """Issue 16: a build with delighting shows its surface in the photo's colours beside the delit ones."""
    _open(page, server)
    _add_sample(page)
    page.select_option("#resolution", "128")
    page.select_option("#delight", "auto")
    job_id = _click_build(page, server)
    page.wait_for_function(DONE, timeout=BUILD_TIMEOUT_MS)
    page.wait_for_selector("#colour-compare img")
    # Both images loaded in the page (a broken image has no natural size) ...
    page.wait_for_function("[...document.querySelectorAll('#colour-compare img')].every("
                           "(i) => i.complete && i.naturalWidth > 0)", timeout=30_000)
    sources = page.eval_on_selector_all("#colour-compare img", "(imgs) => imgs.map((i) => i.src)")
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["preview-photo.png", "preview-delit.png"]
    # ... and they differ: the delit surface has lost the photo's shading.
    from io import BytesIO

    from PIL import Image
    with httpx.Client(timeout=30) as client:
        photo, delit = (np.asarray(Image.open(BytesIO(client.get(f"{server}/api/jobs/{job_id}/{name}").content))
                                   .convert("RGB"), np.float64) for name in ("preview-photo.png", "preview-delit.png"))
    assert photo.shape == delit.shape
    assert np.abs(photo - delit).mean() > 1.0
    assert not page.console_errors, page.console_errors
