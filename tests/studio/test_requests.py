"""Hostile or odd requests to the studio, through the real app (TestClient, its WebSocket
client) and the real CLI: each gets a 4xx naming the problem, never a 500; an upload
replaces the previous one on disk; a stopped studio says so in one line."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import CancelledError

import numpy as np
import pytest
from PIL import Image

from peronamalik.art.presets import PHOTO_PRESETS
from peronamalik.core.params import KAPPA_RANGE
from peronamalik.studio.classic import SMOOTH_KEYS
from peronamalik.studio.thumbs import Thumbnails

from tests.studio.conftest import free_port
from tests.studio.messages import hello, next_error, photo, webm_clip


def refused(response, status: int = 400) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"] == "application/json"
    return response.json()["error"]


# ---- 1. kappa: the library's own range, and the smoothing's InputError as a 400 ----------------

@pytest.mark.parametrize("kappa", ["1e-40", "1e-31", "0", "-1", "1e+31", "nan", "inf"])
def test_a_kappa_outside_the_library_range_is_a_400(client, kappa):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        message = refused(client.get("/api/smooth", params={"session": session, "kappa": kappa}))
    assert message.startswith("kappa must be") and "1e-30" in message, message


def test_a_value_that_is_no_number_is_named(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        assert refused(client.get(f"/api/smooth?session={session}&kappa=big")) == "kappa must be a number, got 'big'"
        assert refused(client.get(f"/api/smooth?session={session}&iterations=2.5")) == "iterations must be an integer, got '2.5'"


def test_kappa_takes_the_library_range_to_its_ends(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        for kappa in (KAPPA_RANGE[0], 20.0, KAPPA_RANGE[1]):  # 20: above the old (0, 10]
            response = client.get("/api/smooth", params={"session": session, "kappa": repr(kappa), "iterations": 3})
            assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff", (kappa, response.text[:200])


def test_thumbnails_and_the_classic_mode_of_a_clip_are_its_first_frames(client, tmp_path):
    """A clip's stills come from its first frame as the live run reads it; no 500, no server path."""
    from peronamalik.io.video import read_frames
    from peronamalik.studio.thumbs import thumbnail

    clip = tmp_path / "clip.webm"
    clip.write_bytes(webm_clip())
    first = next(iter(read_frames(clip)))
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        assert client.post(f"/api/upload?session={session}", content=clip.read_bytes()).json()["video"] is True
        for preset in ("glow", "ink"):
            response = client.get(f"/api/thumb?session={session}&preset={preset}")
            assert response.status_code == 200, response.text
            assert response.content == thumbnail(first, preset, "cpu")
        for path in ("/api/input", "/api/smooth"):
            response = client.get(f"{path}?session={session}")
            assert response.status_code == 200 and response.content[:3] == b"\xff\xd8\xff", response.text
        assert np.asarray(Image.open(io.BytesIO(client.get(f"/api/input?session={session}").content))).shape == (48, 64, 3)


def test_an_image_too_small_is_named_so(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        for shape in ((1, 1), (1, 40)):
            message = refused(client.post(f"/api/upload?session={session}", content=photo(0, shape)))
            assert message == f"the upload is too small: {shape[1]}×{shape[0]} pixels; the studio needs at least 2 on each side"


def test_a_refused_change_answers_with_its_id_and_the_run_in_force(client):
    """The page puts its controls back to the reply's config: the one the server still runs."""
    with client.websocket_connect("/ws?preset=ember&seed=3") as ws:
        hello(ws)
        ws.send_json({"type": "config", "preset": "ember", "overrides": {"kappa": 0.5}, "id": 1})
        ws.send_json({"type": "config", "preset": "ember", "overrides": {"kappa": 0.7, "kappa_relative": True}, "id": 2})
        replies = []
        while len(replies) < 2:
            message = ws.receive()
            if message.get("bytes") is not None:
                ws.send_json({"type": "ack"})
            elif json.loads(message["text"])["type"] in ("config", "error"):
                replies.append(json.loads(message["text"]))
    assert [(r["type"], r["id"], r["config"]["kappa"], r["seed"]) for r in replies] == [("config", 1, 0.5, 3), ("error", 2, 0.5, 3)]
    assert replies[1]["message"] == "kappa_relative and kappa_texture both scale kappa: set one of them"
    assert replies[1]["preset"] == "ember" and replies[1]["config"]["kappa_relative"] is False


# ---- 2. an upload replaces the previous one on disk --------------------------------------------

def folder_of(client, session: str):
    return client.app.state.studio.sessions[session].folder


def test_uploads_replace_each_other_on_disk(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        folder = folder_of(client, session)
        for seed in range(6):
            response = client.post(f"/api/upload?session={session}", content=photo(seed))
            assert response.status_code == 200, response.text
            assert [path.name for path in folder.iterdir()] == [f"upload-{seed + 1}.png"]
        assert (folder / "upload-6.png").read_bytes() == photo(5)
        refused(client.post(f"/api/upload?session={session}", content=b"\x89PNG\r\n\x1a\n" + bytes(100)))
        assert [path.name for path in folder.iterdir()] == ["upload-6.png"]  # a refused one leaves nothing
        frames = 0
        while frames < 2:  # the session lives on: its worker ran on uploads deleted under it
            message = ws.receive()
            if message.get("bytes") is not None:
                ws.send_json({"type": "ack"})
                continue
            data = json.loads(message["text"])
            assert data["type"] != "error", data
            frames += data["type"] == "frame"


def test_an_upload_during_a_render_keeps_the_rendered_input_until_it_ends(client):
    """The render started on upload-1 and still reads it: upload-2 replaces it on disk only
    once the render is done, and the download is that of upload-1."""
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        entry = client.app.state.studio.sessions[session]
        assert client.post(f"/api/upload?session={session}", content=photo(1)).status_code == 200
        first = entry.folder / "upload-1.png"
        overrides = {"iterations": 1500, "every": 500, "size": 160}
        ws.send_json({"type": "config", "preset": "ink", "overrides": overrides, "seed": 3})
        result = {}
        download = threading.Thread(target=lambda: result.update(gif=client.get(f"/api/download?session={session}&format=gif")))
        download.start()
        deadline = time.monotonic() + 60
        while first not in entry.held:
            assert time.monotonic() < deadline and download.is_alive(), "the render did not start"
            time.sleep(0.01)
        assert client.post(f"/api/upload?session={session}", content=photo(2)).status_code == 200
        rendering = first in entry.held
        kept = first.exists()
        download.join(120)
        after = sorted(path.name for path in entry.folder.iterdir())
    assert rendering, "the render ended before the second upload: make it longer"
    assert kept
    gif = result["gif"]
    assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
    assert after == ["upload-2.png"]  # the render's input and output are gone once it is sent


def test_one_upload_at_a_time_per_session(live_server):
    """A second upload while one is still arriving is refused (409): memory and disk hold one
    upload per session.  Real uvicorn, the first body sent in two parts."""
    from websockets.sync.client import connect

    host, port = live_server.removeprefix("http://").split(":")
    first_body, second_body = photo(1), photo(2)
    with connect(f"ws://{host}:{port}/ws", max_size=None) as ws:
        session = json.loads(ws.recv(timeout=60))["session"]
        slow = http.client.HTTPConnection(host, int(port), timeout=60)
        slow.putrequest("POST", f"/api/upload?session={session}")
        slow.putheader("Content-Length", str(len(first_body)))
        slow.endheaders(first_body[:8])
        deadline = time.monotonic() + 30
        while True:  # the second one, until it meets the first under way
            second = http.client.HTTPConnection(host, int(port), timeout=60)
            second.request("POST", f"/api/upload?session={session}", body=second_body)
            response = second.getresponse()
            status, reply = response.status, json.loads(response.read())
            second.close()
            if status == 409 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        slow.send(first_body[8:])
        finished = slow.getresponse()
        done = finished.status, json.loads(finished.read())
        slow.close()
    assert status == 409, reply
    assert reply["error"] == "another upload to this session is still running: wait for it to finish"
    assert done == (200, {"ok": True, "width": 64, "height": 48, "video": False})


# ---- 3. query keys: each endpoint takes its own, once -------------------------------------------

def test_an_unknown_or_repeated_query_key_is_a_400_naming_it(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        message = refused(client.get(f"/api/smooth?session={session}&kapa=3"))
        assert message == f"unknown parameter(s) 'kapa'; /api/smooth takes {', '.join(SMOOTH_KEYS)}"
        message = refused(client.get(f"/api/smooth?session={session}&kappa=0.1&kappa=0.5"))
        assert message == "kappa is given 2 times; /api/smooth takes it once"
        assert "'fmt'" in refused(client.get(f"/api/download?session={session}&format=json&fmt=gif"))
        assert "'size'" in refused(client.get(f"/api/thumb?session={session}&preset=ink&size=9"))
        assert "'x'" in refused(client.get(f"/api/input?session={session}&x=1"))
        assert "'x'" in refused(client.post(f"/api/upload?session={session}&x=1", content=photo(0)))
        assert "takes none" in refused(client.get("/api/schema?x=1"))
        # what the page sends (static/studio.js) still works
        query = f"session={session}&kappa=0.1&iterations=5&diffusivity=rational"
        assert client.get(f"/api/smooth?{query}").status_code == 200
        assert client.get(f"/api/input?session={session}&t=123").status_code == 200
        assert client.get(f"/api/download?session={session}&format=json").status_code == 200
        assert client.get("/?preset=ink&seed=7").status_code == 200  # the page's own address: any link


def test_the_page_sends_only_known_keys():
    """The keys studio.js puts in /api/smooth's query are the ones it takes."""
    from importlib import resources

    script = resources.files("peronamalik.studio").joinpath("static", "studio.js").read_text(encoding="utf-8")
    sent = script[script.index("return new URLSearchParams({") + len("return new URLSearchParams({"):]
    sent = sent[:sent.index("})")]
    keys = [part.split(":")[0].strip() for part in sent.split(",")]
    assert sorted(keys) == sorted(SMOOTH_KEYS)


# ---- 4. a setting the page does not know, in the page's words -----------------------------------

def test_an_unknown_setting_is_named_without_cli_wording(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"kapa": 1}})
        assert next_error(ws) == "unknown setting(s) 'kapa'; did you mean kappa?"
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"zzzz": 1, "kappa": 0.3}})
        message = next_error(ws)
        assert message.startswith("unknown setting(s) 'zzzz'") and "--set" not in message
    with client.websocket_connect("/ws?preset=ink&kapa=0.3") as ws:
        hello(ws)
        assert next_error(ws) == "the link's settings were not used: unknown setting(s) 'kapa'; did you mean kappa?"


# ---- 5. the icon -------------------------------------------------------------------------------

def test_the_icon_is_inline_and_served(client):
    page = client.get("/").text
    assert '<link rel="icon" href="data:image/svg+xml,' in page
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.lstrip().startswith(b"<svg")


# ---- thumbnails: a cancelled one is made again --------------------------------------------------

def test_a_cancelled_thumbnail_is_made_again_when_asked():
    thumbs = Thumbnails("cpu")
    first, second = sorted(PHOTO_PRESETS)[:2]
    busy = thumbs.request("sample:chelsea", first)  # the one worker thread is busy with this
    queued = thumbs.request("sample:chelsea", second)
    if queued.cancel():  # it had not started (a page gone before its turn)
        with pytest.raises(CancelledError):
            queued.result()
    again = thumbs.request("sample:chelsea", second)
    assert again.result(120)[:3] == b"\xff\xd8\xff"
    assert busy.result(120)[:3] == b"\xff\xd8\xff"


# ---- 6. Ctrl-C ---------------------------------------------------------------------------------

@pytest.mark.skipif(os.name != "posix", reason="signals as on POSIX")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_a_stopped_studio_says_so_in_one_line(tmp_path, signum, status):
    port = free_port()
    command = [sys.executable, "-m", "peronamalik", "studio", "--no-browser", "--port", str(port)]
    studio = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        assert studio.stdout.readline().startswith(f"peronamalik studio: http://127.0.0.1:{port}/")
        deadline = time.monotonic() + 60
        while True:  # serving
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/schema", timeout=5) as response:
                    assert response.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and studio.poll() is None, "the studio did not start"
                time.sleep(0.1)
        studio.send_signal(signum)
        out, err = studio.communicate(timeout=120)
    finally:
        if studio.poll() is None:
            studio.kill()
            studio.communicate()
    assert (studio.returncode, out, err) == (status, "", "peronamalik: studio stopped\n")


def test_a_download_whose_page_closed_meanwhile_is_a_404(client):
    """The page's session ends during its render (its temp folder deleted): a 404 saying so,
    not a 500, and nothing left on disk."""
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        entry = client.app.state.studio.sessions[session]
        ws.send_json({"type": "config", "preset": "ink", "overrides": {"iterations": 3000, "every": 1000, "size": 200}, "seed": 3})
        result = {}
        download = threading.Thread(target=lambda: result.update(gif=client.get(f"/api/download?session={session}&format=gif")))
        download.start()
        deadline = time.monotonic() + 60
        while not entry.held:
            assert time.monotonic() < deadline and download.is_alive(), "the render did not start"
            time.sleep(0.01)
    download.join(120)
    assert entry.closed and not entry.folder.exists()
    assert refused(result["gif"], 404) == "the session closed during the render: reload the page"
