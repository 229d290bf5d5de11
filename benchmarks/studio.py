"""The studio's numbers (issue 10), measured against a real server on loopback.

Starts ``peronamalik studio`` in a subprocess (uvicorn, 127.0.0.1, a free port) and
measures, with WebSocket clients that acknowledge every frame as the page does:

* first frame: socket connect → first binary JPEG; and, with Playwright and Chromium, page
  open (``performance.timeOrigin``, the navigation's start) → first frame drawn on the canvas,
  over several page loads (see :func:`browser_first_frame` for exactly what is counted);
* preview rate at 320 px (the default preset) and the engine's iterations per second while
  streaming (the worker waits for each frame's acknowledgement, so this is the rate the page
  sees, not the bare engine's; see :func:`iteration_rate`);
* slider latency: a live change (kappa) sent → the first frame made after it;
* webcam: 320×240 JPEGs sent one in flight as the page does → stylised frames back
  (round-trip fps and latency; ``--webcam`` measures only this), from a Python client and
  from the page itself in headless Chromium with its synthetic camera;
* server RSS with ``--sessions`` (20) clients streaming at once.

``--load N --seconds T`` instead runs the bounded load test: N clients for T seconds (loopback
only); it reports errors, frames per client (min/median) and the server's peak RSS, and exits 1
if any client got an error or no frame.

    python benchmarks/studio.py [--sessions 20] [--seconds 10]
    python benchmarks/studio.py --load 100 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import psutil
from websockets.asyncio.client import connect

SERVER = "from peronamalik.studio.server import serve; import sys; serve(host='127.0.0.1', port=int(sys.argv[1]), open_browser=False)"


def start_server() -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the studio did not start within 120 s")


class Client:
    """One page's socket: counts frames, acknowledges each, remembers when they came."""

    def __init__(self, port: int) -> None:
        self.url, self.origin = f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}"
        self.frames: list[float] = []
        self.errors: list[str] = []
        self.iterations: list[tuple[float, int, int]] = []
        self.hello: dict = {}

    async def run(self, seconds: float, on_open=None) -> None:
        self.opened = time.perf_counter()
        try:
            async with connect(self.url, origin=self.origin, max_size=None) as ws:
                self.ws = ws
                if on_open is not None:
                    asyncio.ensure_future(on_open(self))
                end = self.opened + seconds
                while (left := end - time.perf_counter()) > 0:
                    try:
                        message = await asyncio.wait_for(ws.recv(), timeout=left)
                    except asyncio.TimeoutError:
                        break
                    if isinstance(message, bytes):
                        self.frames.append(time.perf_counter())
                        await ws.send('{"type": "ack"}')
                        continue
                    data = json.loads(message)
                    if data["type"] == "hello":
                        self.hello = data
                    elif data["type"] == "error":
                        self.errors.append(data["message"])
                    elif data["type"] == "frame":
                        self.iterations.append((time.perf_counter(), data["run"], data["iteration"]))
        except Exception as error:  # noqa: BLE001 - counted, the benchmark goes on
            self.errors.append(f"{type(error).__name__}: {error}")


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


async def single(port: int, seconds: float) -> dict:
    client = Client(port)
    await client.run(seconds)
    if not client.frames:
        raise SystemExit(f"no frame in {seconds} s: {client.errors}")
    first = client.frames[0] - client.opened
    steady = [t for t in client.frames if t - client.frames[0] > 1.0]
    fps = (len(steady) - 1) / (steady[-1] - steady[0]) if len(steady) > 1 else float("nan")
    return {"first_frame_ms": 1000 * first, "preview_fps": fps, "engine_it_per_s": iteration_rate(client.iterations[len(client.iterations) // 4:])}


def iteration_rate(frames: list[tuple[float, int, int]]) -> float:
    """Engine iterations per second from ``(time, run, iteration)`` of the frames received:
    iterations advanced over time elapsed, summed over consecutive frames of the same run
    (a run ends after ``iterations`` and starts again at 0, so iterations are not monotonic
    across runs; the gap between runs is left out)."""
    pairs = [(b[2] - a[2], b[0] - a[0]) for a, b in zip(frames, frames[1:]) if a[1] == b[1]]
    return sum(d for d, _ in pairs) / sum(t for _, t in pairs) if pairs else float("nan")


async def slider_latency(port: int, changes: int) -> list[float]:
    client, latencies = Client(port), []

    async def wiggle(c: Client) -> None:
        await asyncio.sleep(1.5)
        for n in range(changes):
            count, sent = len(c.frames), time.perf_counter()
            await c.ws.send(json.dumps({"type": "config", "preset": c.hello["preset"], "overrides": {"kappa": 0.2 + 0.05 * (n % 2)}}))
            while len(c.frames) <= count + 1 and time.perf_counter() - sent < 5:  # the frame after one in flight
                await asyncio.sleep(0.001)
            latencies.append(1000 * (c.frames[-1] - sent))
            await asyncio.sleep(0.2)

    await client.run(1.5 + changes * 0.6 + 3, on_open=wiggle)
    return latencies


async def many(port: int, count: int, seconds: float, server: psutil.Process) -> dict:
    clients = [Client(port) for _ in range(count)]
    peak = [rss_mb(server)]

    async def watch() -> None:
        while True:
            peak.append(rss_mb(server))
            await asyncio.sleep(0.5)

    watcher = asyncio.ensure_future(watch())
    await asyncio.gather(*(c.run(seconds) for c in clients))
    watcher.cancel()
    frames = sorted(len(c.frames) for c in clients)
    return {"clients": count, "seconds": seconds, "errors": sum(len(c.errors) for c in clients),
            "first_errors": [e for c in clients for e in c.errors][:3], "frames_min": frames[0],
            "frames_median": statistics.median(frames), "peak_rss_mb": max(peak)}


def webcam_clip(count: int = 30) -> list[bytes]:
    """320×240 JPEG frames of a moving gradient (what the page's camera would send)."""
    import io

    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:240, 0:320]
    clip = []
    for n in range(count):
        frame = np.stack([(x + 8 * n) % 256, (y + 4 * n) % 256, (x + y) // 3 % 256], -1).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(frame).save(buffer, format="JPEG", quality=80)
        clip.append(buffer.getvalue())
    return clip


async def webcam(port: int, seconds: float) -> dict:
    """The page's webcam loop: send a frame, wait for the stylised one, send the next (one
    in flight); round-trip latency and frames per second after a 1 s warm-up."""
    clip, latencies, done = webcam_clip(), [], []
    async with connect(f"ws://127.0.0.1:{port}/ws", origin=f"http://127.0.0.1:{port}", max_size=None) as ws:
        await ws.send('{"type": "pause"}')
        start = time.perf_counter()
        while time.perf_counter() - start < seconds + 1:
            sent = time.perf_counter()
            await ws.send(clip[len(done) % len(clip)])
            while True:
                message = await ws.recv()
                if isinstance(message, str) and json.loads(message)["type"] == "webcam":
                    break
            now = time.perf_counter()
            if now - start > 1:
                latencies.append(1000 * (now - sent))
                done.append(now)
            else:
                done.append(None)
    done = [t for t in done if t is not None]
    return {"webcam_fps": (len(done) - 1) / (done[-1] - done[0]), "webcam_latency_ms_median": statistics.median(latencies),
            "webcam_latency_ms_p90": sorted(latencies)[int(0.9 * len(latencies))]}


#: Headless Chromium (Debian's 156) loads its omnibox WebUI ("top chrome") for every new window
#: a page opens in: ~370 ms of CPU in another renderer, competing with the page on two cores.
#: A user's browser pays that once per window, not per page; it is switched off here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-features=PreloadTopChromeWebUI,WebUIOmniboxPopup,WebUIOmniboxFullPopup"]
MARKS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  return Object.fromEntries([['html', nav.responseEnd], ...performance.getEntriesByType('mark').map((m) => [m.name.slice(7), m.startTime])]
    .map(([name, t]) => [name, Math.round(t)]));
}"""


async def browser_first_frame(port: int, pages: int = 7) -> dict | None:
    """Page open → first frame drawn on the canvas, in headless Chromium (None without it).

    Each of ``pages`` loads is a new page (its own context: no cache, no cookies) in one
    browser; the time is the page's ``studio:first-frame`` mark, set right after
    ``drawImage`` of the first frame (its pixels are in the canvas; the screen shows them at
    the next paint), measured from ``performance.timeOrigin``, the navigation's start (the
    browser's own start-up is not counted; the request for the page is).  Reported: every
    load's time, their median and the marks of the median load (ms after navigation start:
    ``html`` the page received, ``script`` the page's script started, ``ws-open`` the socket
    (opened by the page's head) open, ``hello`` the session's first message, ``first-frame``,
    ``controls`` the controls built, after the first frame's paint)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    if not os.path.exists("/usr/bin/chromium"):
        return None
    loads = []
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for _ in range(pages):
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_function("() => performance.getEntriesByName('studio:first-frame').length")
            loads.append(await page.evaluate(MARKS))
            await page.close()
            await asyncio.sleep(1.0)  # the page's thumbnails and the closed session settle
        await browser.close()
    loads.sort(key=lambda marks: marks["first-frame"])
    return {"first_frame_ms": [marks["first-frame"] for marks in loads], "median_ms": loads[len(loads) // 2]["first-frame"],
            "median_load_marks": dict(sorted(loads[len(loads) // 2].items(), key=lambda item: item[1]))}


async def browser_webcam(port: int, seconds: float) -> dict | None:
    """The page's webcam in headless Chromium with its synthetic camera
    (``--use-fake-device-for-media-stream``; None without Chromium): the page sends 320×240
    JPEGs of the camera, one in flight, and draws each stylised frame that comes back.
    Measured in the page (``cam.frames``, ``cam.latencies``: send → stylised frame received)
    over ``seconds`` after a 1 s warm-up."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        return None
    if not os.path.exists("/usr/bin/chromium"):
        return None
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{port}/")
        await page.wait_for_function("() => performance.getEntriesByName('studio:first-frame').length")
        await page.click("#webcam")
        await page.wait_for_function("() => cam.frames >= 3", timeout=60_000)
        await asyncio.sleep(1.0)
        first, start = await page.evaluate("() => cam.frames"), time.perf_counter()
        await asyncio.sleep(seconds)
        last, latencies = await page.evaluate("() => [cam.frames, cam.latencies]")
        elapsed = time.perf_counter() - start
        await browser.close()
    latencies = sorted(latencies[-max(1, min(len(latencies), last - first)):])
    return {"browser_webcam_fps": (last - first) / elapsed, "browser_webcam_latency_ms_median": statistics.median(latencies),
            "browser_webcam_latency_ms_p90": latencies[int(0.9 * (len(latencies) - 1))]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--load", type=int, default=0, help="run the load test with this many clients")
    parser.add_argument("--webcam", action="store_true", help="measure only the webcam round trip")
    args = parser.parse_args()
    if args.load > 200 or args.seconds > 300:
        parser.error("bounded: at most 200 clients and 300 s")
    process, port = start_server()
    server = psutil.Process(process.pid)
    try:
        if args.load:
            result = asyncio.run(many(port, args.load, args.seconds, server))
            print(json.dumps({"load_test": result}, indent=2))
            return 1 if result["errors"] or result["frames_min"] == 0 else 0
        report = {"cpus": os.cpu_count(), "load_average": os.getloadavg()}
        if args.webcam:
            report.update(asyncio.run(webcam(port, args.seconds)))
            report["browser_webcam"] = asyncio.run(browser_webcam(port, args.seconds))
            print(json.dumps(report, indent=2))
            return 0
        asyncio.run(single(port, 10.0))  # warm-up: imports, the fused kernel
        report["idle_rss_mb"] = rss_mb(server)
        report.update(asyncio.run(single(port, args.seconds)))
        report["browser_first_frame"] = asyncio.run(browser_first_frame(port))
        latencies = asyncio.run(slider_latency(port, 10))
        report["slider_latency_ms_median"] = statistics.median(latencies)
        report["slider_latency_ms_max"] = max(latencies)
        report.update(asyncio.run(webcam(port, args.seconds)))
        report["browser_webcam"] = asyncio.run(browser_webcam(port, args.seconds))
        report["sessions"] = asyncio.run(many(port, args.sessions, args.seconds, server))
        print(json.dumps(report, indent=2))
    finally:
        process.terminate()
        process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
