"""The edit chat beside the preview, in a real headless Chromium (issue 18): two edits, one undo, a download.

The page builds the hamburger for real (lowest resolution), then the chat edits it; every check
reads the files the server serves, independently of the page.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT, assert_printable_3mf, live_server
from test_web_browser import _build_fast

pytestmark = pytest.mark.slow  # a browser, a whole build and three edits
PRINTER = "bambu-a1"


def test_chat_two_edits_one_undo_and_a_download(browser, tmp_path):
    import httpx

    from fabricate.export.threemf import read_3mf

    # Its own server: the test reads the job list, which must hold only this build.
    with live_server(tmp_path / "data") as server, httpx.Client(timeout=120) as client:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(120_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/")
        page.wait_for_function("window.__preview !== undefined")
        page.set_input_files("#photo-input", str(ROOT / "samples" / "hamburger.png"))
        page.wait_for_selector(".photo-card .outline-status.good", state="attached")
        page.fill("#height-mm", "60")
        _build_fast(page)
        page.wait_for_selector("#chat:not([hidden])")
        page.wait_for_selector("#chat-log li")  # the made version, listed
        job_id = client.get(f"{server}/api/jobs").json()[0]["id"]
        made = read_3mf(_fetch(client, f"{server}/api/jobs/{job_id}/model.3mf", tmp_path / "made.3mf"))

        _say(page, "make it 20% taller", replies=2)
        reply = page.locator("#chat-log li.chat-reply").last.inner_text()
        assert "height x1.2" in reply and "->" in reply and "mm" in reply, reply
        page.wait_for_function("window.__preview.frames >= 1 || window.__preview.error", timeout=60_000)
        assert page.evaluate("window.__preview.error") is None
        assert "Watertight ✓" in page.locator("#report").inner_text()

        _say(page, "flatten the base by 2 mm", replies=3)
        assert "flat base" in page.locator("#chat-log li.chat-reply").last.inner_text()

        _say(page, "make it sparkle", replies=4)
        refused = page.locator("#chat-log li.chat-reply").last.inner_text()
        assert "Edits that work" in refused and "Nothing was changed" in refused, refused

        page.click("#chat-undo")
        page.wait_for_function("document.querySelectorAll('#chat-log li.chat-reply').length === 5")
        assert "Undone" in page.locator("#chat-log li.chat-reply").last.inner_text()
        assert not page.locator("#chat-redo").is_disabled()

        with page.expect_download() as info:
            page.click("#chat-download")
        downloaded = tmp_path / "undone.3mf"
        info.value.save_as(downloaded)
        context.close()

        versions = client.get(f"{server}/api/jobs/{job_id}/versions").json()
        assert [v["version"] for v in versions] == [0, 1, 2, 1]
        served = [read_3mf(_fetch(client, server + v["download"], tmp_path / f"v{v['step']}.3mf")) for v in versions]
    assert_printable_3mf(downloaded, PRINTER)
    got = read_3mf(downloaded)
    # The download is the undo's file, whose geometry is version 1's exactly.
    assert np.array_equal(got.vertices, served[3].vertices) and np.array_equal(got.vertices, served[1].vertices)
    assert served[1].extents[2] == pytest.approx(made.extents[2] * 1.2, rel=0.005)
    assert served[2].extents[2] == pytest.approx(served[1].extents[2] - 2.0, abs=0.01)
    assert not errors, errors


def _fetch(client, url, path):
    answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    path.write_bytes(answer.content)
    return path


def _say(page, text, replies):
    page.fill("#chat-input", text)
    page.click("#chat-send")
    page.wait_for_function(f"document.querySelectorAll('#chat-log li.chat-reply').length === {replies}")
