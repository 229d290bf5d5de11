"""Fixtures of the studio tests: the app in-process (TestClient), a real uvicorn on a free
loopback port, and a headless Chromium driven by Playwright (skipped when missing)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from peronamalik.studio.server import create_app  # noqa: E402

CHROMIUM = os.environ.get("PERONAMALIK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture
def make_client():
    """``make_client(**limits)``: a TestClient of a studio app with those limits."""
    import warnings
    from contextlib import ExitStack

    def make(stack: ExitStack, **limits):
        app = create_app(allowed_hosts=frozenset({"testserver"}), device="cpu", **limits)
        with warnings.catch_warnings():  # Starlette 1.x: "use httpx2" (httpx still works)
            warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
            from starlette.testclient import TestClient

            return stack.enter_context(TestClient(app))

    with ExitStack() as stack:
        yield lambda **limits: make(stack, **limits)


@pytest.fixture
def client(make_client):
    return make_client()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving() -> Iterator[tuple[str, Callable[[], None]]]:
    """A studio on uvicorn in a thread, on a free loopback port; yields its base URL and a
    function that stops it (called on leaving, if not before)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(device="cpu"), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the studio did not start")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=30)

    try:
        yield f"http://127.0.0.1:{port}", stop
    finally:
        stop()


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """The studio on uvicorn in a thread; yields its base URL."""
    with serving() as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path):
    """Where screenshots go: $PERONAMALIK_SCREENSHOTS if set (to look at them), else tmp."""
    folder = os.environ.get("PERONAMALIK_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)
    return folder
