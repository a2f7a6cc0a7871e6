"""The page's Share dialog in a real headless Chromium, sharing to a local stand-in for Thingiverse.

The stand-in (tests/hub_servers.py ``FakeThingiverse``) follows Thingiverse's upload guide; no real hub is
reachable. It answers each request a quarter of a second late, so the dialog's progress can be seen
between the first step and the last. The browser, server and page fixtures are tests/conftest.py's.
"""
from __future__ import annotations

import json
import zipfile

import pytest

from hub_servers import TOKEN, FakeThingiverse
from test_web_browser import ARTIFACTS, SAMPLE, _build_fast

pytestmark = pytest.mark.slow  # a browser and a whole build

#: Records every text the progress line shows, so the test can tell it moved through the steps.
WATCH_PROGRESS = """() => {
    window.__shareProgress = [];
    const line = document.getElementById('share-progress-text');
    new MutationObserver(() => window.__shareProgress.push(line.textContent))
        .observe(line, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def thingiverse(monkeypatch, tmp_path):
    hub = FakeThingiverse(delay_s=0.25)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no hub.toml: only what is set here
    for name in ("HUB", "SKETCHFAB"):
        monkeypatch.delenv(f"FABRICATE_{name}_URL", raising=False)
        monkeypatch.delenv(f"FABRICATE_{name}_TOKEN", raising=False)
    monkeypatch.setenv("FABRICATE_THINGIVERSE_URL", hub.url)
    monkeypatch.setenv("FABRICATE_THINGIVERSE_TOKEN", TOKEN)
    yield hub
    hub.close()


def test_share_dialog_refuses_a_licence_then_shares_to_thingiverse_with_progress_and_link(page, server,
                                                                                            thingiverse):
    share_posts = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/share") and share_posts.append(r.url))
    page.goto(server + "/")
    page.wait_for_function("window.__preview !== undefined")
    page.set_input_files("#photo-input", str(SAMPLE))
    page.wait_for_selector(".photo-card .outline-status.good", state="attached")
    page.fill("#title", "Dialog burger")
    _build_fast(page)

    page.click("#share-button")
    dialog = page.locator("#share-dialog")
    dialog.wait_for(state="visible")
    page.wait_for_function("document.querySelectorAll('#share-hub-list li').length === 5")
    # Before the form: what each hub needs, in words, and which this server is set up for.
    needs = dialog.locator(".share-needs").inner_text()
    assert "hub.toml" in needs and "keyring" in needs and "environment variable" in needs
    hub_list = {item.get_attribute("data-hub"): item.inner_text() for item in page.locator("#share-hub-list li").all()}
    assert "set up on this server" in hub_list["thingiverse"]
    assert "not set up yet" in hub_list["sketchfab"] and "hub.toml" in hub_list["sketchfab"]
    assert "Nothing to set up: Printables has no public upload API" in hub_list["printables"]
    assert page.input_value("#share-title") == "Dialog burger"

    # A licence Thingiverse does not offer: refused at once, naming those it does; nothing is sent anywhere.
    page.select_option("#share-hub", "thingiverse")
    page.select_option("#share-licence", "MIT")
    refusal = page.locator("#share-refusal")
    refusal.wait_for(state="visible")
    assert refusal.inner_text().startswith("Thingiverse does not offer the licence MIT; it offers CC-BY-4.0, ")
    assert "GPL-3.0" in refusal.inner_text() and page.locator("#share-submit").is_disabled()
    assert "not offered by Thingiverse" in page.locator("#share-licence option[value='MIT']").inner_text()
    page.evaluate("document.getElementById('share-form').requestSubmit()")  # even when submitted anyway
    page.wait_for_timeout(600)
    assert thingiverse.requests == [] and share_posts == []
    assert page.locator("#share-progress").is_hidden()

    # An offered licence, two tags, a draft: shared, with its steps shown as they happen, then the link.
    page.select_option("#share-licence", "CC-BY-SA-4.0")
    assert refusal.is_hidden() and page.locator("#share-submit").is_enabled()
    page.fill("#share-tags", "food, Burger Bun")
    assert page.locator("#share-publish").is_visible() and not page.locator("#share-publish").is_checked()
    page.evaluate(WATCH_PROGRESS)
    page.click("#share-submit")
    page.locator("#share-result").wait_for(state="visible", timeout=60_000)
    assert page.locator("#share-error").is_hidden(), page.locator("#share-error").inner_text()

    (thing,) = thingiverse.things.values()
    assert page.locator("#share-url").inner_text() == thing["public_url"]
    assert page.get_attribute("#share-url", "href") == thing["public_url"]
    assert thing["license"] == "cc-sa" and thing["tags"] == ["food", "Burger Bun"] and thing["name"] == "Dialog burger"
    assert thing["is_wip"] is True and thing["is_published"] is False
    assert [f["name"] for f in thing["files"]] == ["model.3mf"] and [i["name"] for i in thing["images"]] == ["preview.png"]
    total = 1 + 3 * 2
    seen = page.evaluate("window.__shareProgress")
    assert seen[-1] == f"Shared: {total} of {total} steps done", seen
    between = [text for text in seen if text.startswith("Sharing: ") and f" of {total} steps" in text
               and not text.startswith(f"Sharing: {total} of")]
    assert between, f"no progress between the first step and the last was shown: {seen}"
    steps = page.locator("#share-steps li")
    assert steps.count() == total and all(t.endswith(": done") for t in steps.all_inner_texts())
    assert steps.first.inner_text() == "Create the thing: done"
    assert share_posts and len(share_posts) == 1
    history = page.locator("#share-history-list").inner_text()
    assert "Thingiverse: Shared" in history and thing["public_url"] in history
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialog.evaluate("(d) => { d.scrollTop = d.scrollHeight; }")  # the progress, the link and the history
    dialog.screenshot(path=str(ARTIFACTS / "web_share_dialog.png"))

    # Printables has no upload API: its upload page, and the prepared package to download from here.
    page.select_option("#share-hub", "printables")
    assert page.locator("#share-publish").is_hidden() and refusal.is_hidden()
    page.click("#share-submit")
    page.locator("#share-package").wait_for(state="visible", timeout=60_000)
    assert page.locator("#share-url").inner_text().startswith("https://www.printables.com/model/upload#package=")
    assert page.locator("#share-progress").is_hidden()
    with page.expect_download() as info:
        page.click("#share-package-link")
    bundle = zipfile.ZipFile(info.value.path())
    assert {"model.3mf", "preview.png", "metadata.json", "README.txt"} <= set(bundle.namelist())
    assert json.loads(bundle.read("metadata.json"))["licence"] == "CC-BY-SA-4.0"
    assert len(thingiverse.things) == 1  # nothing more went to Thingiverse
    assert not page.console_errors, page.console_errors
