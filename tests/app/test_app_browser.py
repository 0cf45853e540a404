"""``emozoo app`` in a real browser: headless Chromium (Debian's ``chromium``, driven by Playwright) opens the page
served on a free local port, uploads a photograph and checks that the page shows each face found and its top
emotion exactly as ``emozoo predict`` writes them for the same file; then uploads a broken file and a huge image
and checks for their messages, and that the server still answers.

Screenshots and the response times go to ``$EMOZOO_ARTIFACTS`` (default ``tests/app/artifacts/``, ignored by git).
Without the browser the test is skipped locally and FAILS in CI (``CI`` set): install it with
``.ci/install-browser`` and ``pip install 'emozoo[app]' playwright``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
from pathlib import Path

import pytest

from tests.app.conftest import faces_mode

CHROMIUM = os.environ.get("EMOZOO_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("EMOZOO_ARTIFACTS") or Path(__file__).parent / "artifacts")
WAIT_MS = 120_000  # a loaded CI machine: the first request also warms the model
FACE_LABELS = {"all": "all faces", "largest": "largest face", "none": "whole image"}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _missing(what: str) -> None:
    msg = f"the app browser test needs {what}; run .ci/install-browser and pip install 'emozoo[app]' playwright"
    if os.environ.get("CI"):
        pytest.fail(msg)  # CI must really run it
    pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    try:
        import gradio  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError as err:
        _missing(f"the Python package {err.name}")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _missing(f"Chromium at {CHROMIUM}")
    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir):
    from emozoo.app import launch

    app = launch(model_dir, port=_free_port(), device="cpu", block=False)
    yield app.local_url
    app.close()


def _log(name: str, **fields) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "app_timing.jsonl", "a") as f:
        f.write(json.dumps({"event": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields}) + "\n")
    print(name, fields)


def _upload(page, paths: list[str]) -> float:
    """Upload ``paths`` and wait until the page answers (the summary line changes); returns the seconds."""
    before = page.inner_text("#emozoo-message")
    start = time.perf_counter()
    page.locator("#photos input[type=file]").set_input_files(paths)
    page.wait_for_function(
        "before => { const el = document.querySelector('#emozoo-summary');"
        " return el && el.parentElement.innerText !== before; }",
        arg=before,
        timeout=WAIT_MS,
    )
    return time.perf_counter() - start


def _reference(model_dir: str, photo_path: str, tmp_path) -> list[dict]:
    """What ``emozoo predict`` writes for the photo: one record per face."""
    from emozoo.cli import main

    out = tmp_path / "predict.jsonl"
    args = ["predict", photo_path, "--model", model_dir, "--out", str(out), "--faces", faces_mode()]
    assert main([*args, "--workers", "0", "--no-progress", "--device", "cpu"]) == 0
    return [r for r in map(json.loads, out.read_text().splitlines()) if r.get("faces") != 0]


def _open(browser, url: str, outside: list[str]):
    """A fresh page (its own Gradio session, so an upload does not add to an earlier one's files)."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.on("request", lambda r: None if r.url.startswith(url) else outside.append(r.url))
    page.goto(url)
    page.wait_for_selector("#score", timeout=WAIT_MS)
    page.get_by_label(FACE_LABELS[faces_mode()], exact=True).check()
    return page


def test_the_page_shows_each_face_and_its_top_emotion_as_emozoo_predict(
    browser, server, model_dir, photo_path, broken_path, huge_path, tmp_path
):
    ref = _reference(model_dir, photo_path, tmp_path)
    outside: list[str] = []

    # A photograph: each face in the table, with the top emotion emozoo predict gives.
    page = _open(browser, server, outside)
    seconds = _upload(page, [photo_path])
    page.wait_for_selector("#plot img", timeout=WAIT_MS)  # the charts follow the table
    rows = page.locator("tr.emozoo-face")
    assert rows.count() == len(ref) >= 1
    for i, rec in enumerate(ref):
        row = rows.nth(i)
        assert row.get_attribute("data-photo") == "astronaut.png"
        assert row.get_attribute("data-face") == str(rec["face"] + 1)
        top = rec["top_k"][0]
        assert row.locator(".emozoo-top").inner_text() == top["emotion"]
        assert f"{top['intensity']:.2f}" in row.inner_text()
    assert page.locator("#emozoo-gallery img").count() >= 1
    summary = page.inner_text("#emozoo-summary")
    assert f"1 of 1 photos read, {len(ref)} faces" in summary
    server_s = float(re.search(r"in ([0-9.]+) s", summary).group(1))
    _log("photo", model="cnn-tiny", faces=faces_mode(), browser_s=round(seconds, 3), server_s=server_s)
    page.screenshot(path=str(ARTIFACTS / "app_result.png"), full_page=True)
    page.close()

    # A broken file and a 48 MP image: one message each.
    page = _open(browser, server, outside)
    seconds = _upload(page, [broken_path, huge_path])
    errors = page.locator("li.emozoo-error").all_inner_texts()
    assert any(e.startswith("broken.jpg: not an image format PIL can read") for e in errors), errors
    assert any(e.startswith("huge.png: 8000x6000 = 48.0 MP is over the 40.0 MP cap") for e in errors), errors
    assert "0 of 2 photos read" in page.inner_text("#emozoo-summary")
    _log("bad uploads", browser_s=round(seconds, 3))
    page.screenshot(path=str(ARTIFACTS / "app_errors.png"), full_page=True)

    # The same page goes on: the photo added to the bad files is scored as before, the messages stay.
    seconds = _upload(page, [photo_path])
    summary = page.inner_text("#emozoo-summary")
    _log("photo after bad uploads", model="cnn-tiny", browser_s=round(seconds, 3), summary=summary)
    assert f"1 of 3 photos read, {len(ref)} faces" in summary
    assert page.locator("li.emozoo-error").count() == 2
    assert page.locator("tr.emozoo-face").first.get_attribute("data-top") == ref[0]["top_k"][0]["emotion"]
    page.close()
    assert outside == [], f"the page reached outside the local server: {outside[:3]}"
