"""The page in a real headless Chromium: frames arrive, sliders change the preview, bad
uploads show an error.  Skipped (with the reason) where Chromium or Playwright is missing."""

from __future__ import annotations

import os

import pytest

CANVAS_PIXELS = "() => { const c = document.getElementById('view'); return c.toDataURL('image/png'); }"


def open_studio(browser, url: str, width: int, height: int, query: str = ""):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/{query}")
    page.wait_for_function("() => /frame \\d+/.test(document.getElementById('status').textContent)", timeout=60_000)
    return page, errors


def frame_index(page) -> int:
    return int(page.text_content("#status").split()[1])


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_frames_arrive_and_the_canvas_changes(browser, live_server, shots, viewport):
    page, errors = open_studio(browser, live_server, *viewport)
    first = page.evaluate(CANVAS_PIXELS)
    start = frame_index(page)
    page.wait_for_function(f"() => +document.getElementById('status').textContent.split(' ')[1] > {start + 3}", timeout=60_000)
    assert page.evaluate(CANVAS_PIXELS) != first
    page.screenshot(path=os.path.join(shots, f"studio-{viewport[0]}x{viewport[1]}.png"))
    assert errors == []
    page.close()


def test_a_slider_changes_the_preview_and_the_url(browser, live_server, shots):
    page, errors = open_studio(browser, live_server, 1366, 768, "?preset=glow&seed=7")
    page.click("#pause")
    page.wait_for_function("() => document.getElementById('pause').textContent === 'Resume'")
    paused = page.evaluate(CANVAS_PIXELS)
    # kappa to its far end: a live change, the next frame shows it
    slider = page.locator("input[data-name='kappa']")
    slider.evaluate("(el) => { el.value = el.max; el.dispatchEvent(new Event('input')); }")
    page.click("#step")
    page.wait_for_function("(old) => document.getElementById('view').toDataURL('image/png') !== old", arg=paused, timeout=60_000)
    assert "seed=7" in page.url and "kappa=" in page.url
    page.click("[data-preset=ink]")
    page.wait_for_function("() => location.search.includes('preset=ink')")
    # another preset restarts the run; while paused it still shows the new run's first frame
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('frame 0 ')", timeout=60_000)
    page.screenshot(path=os.path.join(shots, "studio-slider.png"))
    assert errors == []
    page.close()


def test_a_bad_upload_shows_an_error(browser, live_server, tmp_path):
    page, _ = open_studio(browser, live_server, 1366, 768)
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    page.set_input_files("#upload", str(bad))
    page.wait_for_selector("#message:not([hidden])")
    page.wait_for_function("() => document.getElementById('message').textContent.includes('not a supported file')")
    page.close()


def test_classic_mode_updates_as_the_slider_moves(browser, live_server, shots):
    page, errors = open_studio(browser, live_server, 1366, 768)
    page.click("#tab-classic")
    assert page.is_visible("#compare") and not page.is_visible("#view")
    page.wait_for_function("() => document.getElementById('after').src.startsWith('blob:')")
    before = page.get_attribute("#after", "src")
    page.locator("#c-iterations").evaluate("(el) => { el.value = 150; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("(old) => document.getElementById('after').src !== old", arg=before, timeout=60_000)
    page.screenshot(path=os.path.join(shots, "studio-classic.png"))
    assert errors == []
    page.close()


def test_preset_thumbnails_load_and_switch_the_look(browser, live_server, shots):
    page, errors = open_studio(browser, live_server, 1366, 768)
    page.wait_for_function("() => [...document.querySelectorAll('#presets img')].every((i) => i.complete && i.naturalWidth > 0)",
                           timeout=120_000)
    assert page.locator("#presets img").count() == 6
    page.click("[data-preset=kitty]")
    page.wait_for_function("() => location.search.includes('preset=kitty')")
    assert page.get_attribute("[data-preset=kitty]", "aria-checked") == "true"
    page.screenshot(path=os.path.join(shots, "studio-thumbs-1366x768.png"))
    assert errors == []
    page.close()


@pytest.mark.parametrize("viewport", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_the_webcam_comes_back_stylised(browser, live_server, shots, viewport):
    """Chromium's fake camera (--use-fake-device-for-media-stream) feeds the page."""
    page, errors = open_studio(browser, live_server, *viewport)
    page.click("#webcam")
    page.wait_for_function("() => /webcam frame ([3-9]|\\d\\d+)/.test(document.getElementById('status').textContent)",
                           timeout=120_000)
    size = page.evaluate("() => [document.getElementById('view').width, document.getElementById('view').height]")
    assert size == [320, 240]
    page.screenshot(path=os.path.join(shots, f"studio-webcam-{viewport[0]}x{viewport[1]}.png"))
    page.click("#webcam")
    page.wait_for_function("() => /frame \\d+ · iteration/.test(document.getElementById('status').textContent)", timeout=120_000)
    assert errors == []
    page.close()


def test_the_page_loads_with_no_console_error_and_no_failed_request(browser, live_server):
    """Nothing the browser asks for on its own (an icon: inline, /favicon.ico served) fails."""
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    console: list[str] = []
    failed: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(str(exc)))
    page.on("response", lambda response: failed.append(f"{response.status} {response.url}") if response.status >= 400 else None)
    page.on("requestfailed", lambda request: failed.append(f"{request.failure} {request.url}"))
    page.goto(f"{live_server}/")
    page.wait_for_function("() => /frame \\d+/.test(document.getElementById('status').textContent)", timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("() => document.querySelector('link[rel=icon]').href.startsWith('data:image/svg+xml,')")
    page.close()
    assert console == [] and failed == []
