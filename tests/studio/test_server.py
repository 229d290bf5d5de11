"""The studio's server through Starlette's TestClient and its WebSocket client: real
sessions, real engine, real files (no mocks)."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest
from PIL import Image
from skimage import data
from starlette.websockets import WebSocketDisconnect

from peronamalik.art.animate import animate
from peronamalik.art.presets import DEFAULT_PRESET, preset_config
from peronamalik.core import diffuse
from peronamalik.cli import main as cli_main
from peronamalik.studio.guard import MAX_UPLOAD_BYTES
from peronamalik.studio.session import Session, encode_jpeg
from tests.studio.messages import decode, frames, hello, next_error, png_bytes

SHORT = {"iterations": 90, "every": 30, "size": 64}


def test_frames_arrive_as_binary_jpeg_at_the_configured_size(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 96}, "seed": 3})
        got = frames(ws, 3, from_start=True)
    assert [index for index, _ in got] == [0, 1, 2]
    for _, jpeg in got:
        assert jpeg[:3] == b"\xff\xd8\xff"
        assert max(decode(jpeg).shape[:2]) == 96


def test_the_page_is_one_document_with_its_schema(client):
    """Style, script and the controls' schema come inlined in the page: no request before the socket."""
    page = client.get("/").text
    assert "/static/" not in page and "<style>" in page and "new WebSocket(" in page
    start = page.index('<script type="application/json" id="studio-schema">')
    embedded = page[page.index(">", start) + 1:page.index("</script>", start)]
    assert json.loads(embedded) == client.get("/api/schema").json()


def test_a_shared_link_starts_its_own_run(client):
    """The page opens its socket with its own query: the session starts with that run (no restart)."""
    with client.websocket_connect("/ws?preset=ink&seed=7&size=64&iterations=90&every=30&kappa=0.3") as ws:
        greeting = hello(ws)
        got = frames(ws, 3)
    assert (greeting["preset"], greeting["seed"], greeting["run"], greeting["config"]["kappa"]) == ("ink", 7, 0, 0.3)
    config = preset_config("ink").replace(size=64, iterations=90, every=30, kappa=0.3)
    expected = [encode_jpeg(frame) for frame in animate(None, config=config, seed=7, device="cpu")]
    assert [jpeg for _, jpeg in got] == expected
    with client.websocket_connect("/ws?preset=ink&kappa=banana") as ws:
        assert hello(ws)["preset"] == DEFAULT_PRESET
        assert next_error(ws).startswith("the link's settings were not used: kappa")


def test_a_parameter_change_changes_the_frames(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 64}, "seed": 5})
        before = frames(ws, 3, from_start=True)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 64, "kappa": 1.5}, "seed": 5})
        frames(ws, 1)  # kappa is live: the run goes on with it
        ws.send_json({"type": "restart"})
        after = frames(ws, 3, from_start=True)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 64}, "seed": 5})
        frames(ws, 1)
        ws.send_json({"type": "restart"})
        again = frames(ws, 3, from_start=True)
    assert np.abs(decode(before[2][1]).astype(int) - decode(after[2][1])).mean() > 1
    assert [jpeg for _, jpeg in again] == [jpeg for _, jpeg in before]  # same config and seed: same frames


def test_the_session_streams_exactly_the_frames_of_animate():
    """File frames are animate's, previews (offered between them) change nothing."""
    config = preset_config("ink").replace(**SHORT)
    ready = threading.Event()
    session = Session(ready.set, seed=11, preset="ink", config=config, device="cpu", preview_fps=1000.0)
    made, previews = [], []
    try:
        while len(made) < 3:
            ready.wait(60)
            ready.clear()
            frame = session.take()
            if frame is not None:
                (previews if frame.preview else made).append(frame)
    finally:
        session.close()
    expected = list(animate(None, config=config, seed=11, device="cpu"))
    assert len(expected) == 3
    for ours, theirs in zip(made, expected):
        np.testing.assert_array_equal(ours.pixels, theirs)
    for preview in previews:  # between the file frames, never on one
        assert preview.iteration % config.every and preview.index == preview.iteration // config.every


def test_the_engine_waits_while_nobody_takes_frames():
    ready = threading.Event()
    session = Session(ready.set, seed=1, preset="glow", config=preset_config("glow").replace(size=32), device="cpu", preview_fps=None)
    try:
        assert ready.wait(60)
        threading.Event().wait(0.5)  # time enough for dozens of frames, were it not waiting
        assert session.frames_made == 1
        ready.clear()
        assert session.take() is not None
        assert ready.wait(60) and session.frames_made == 2
    finally:
        session.close()


def next_frame(session: Session, ready: threading.Event):
    while True:
        assert ready.wait(60), "no frame within 60 s"
        ready.clear()
        frame = session.take()
        if frame is not None and not frame.preview:
            return frame


def test_pause_step_and_restart_while_paused():
    ready = threading.Event()
    session = Session(ready.set, seed=2, preset="glow", config=preset_config("glow").replace(size=32, every=5), device="cpu",
                      preview_fps=None)
    try:
        last = next_frame(session, ready)
        session.pause(True)
        threading.Event().wait(0.5)
        last = session.take() or last  # the frame under way when it paused, if one was
        threading.Event().wait(0.5)
        assert session.take() is None
        session.step()
        stepped = next_frame(session, ready)
        assert (stepped.run, stepped.index) == (last.run, last.index + 1)
        session.restart()
        first = next_frame(session, ready)
        assert (first.run, first.index) == (last.run + 1, 0)
    finally:
        session.close()


def test_a_foreign_origin_or_host_is_refused(client):
    for headers in ({"origin": "http://evil.example"}, {"origin": "null"}, {"host": "evil.example"}):
        with pytest.raises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/ws", headers=headers) as ws:
                ws.receive_json()
        assert refused.value.code == 1008
    assert client.get("/api/schema", headers={"host": "rebound.example"}).status_code == 403
    with client.websocket_connect("/ws", headers={"origin": "http://testserver"}) as ws:
        assert hello(ws)["session"]


def test_uploads_are_capped_typed_and_guarded(client, monkeypatch):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        url = f"/api/upload?session={session}"
        wrong = client.post(url, content=b"%PDF-1.4" + bytes(100))
        assert wrong.status_code == 415 and "PNG, JPEG, WebP or TIFF" in wrong.json()["error"]
        huge = client.post(url, content=b"\x89PNG\r\n\x1a\n" + bytes(MAX_UPLOAD_BYTES))
        assert huge.status_code == 413 and "limit" in huge.json()["error"]
        corrupt = client.post(url, content=b"\x89PNG\r\n\x1a\n" + bytes(100))
        assert corrupt.status_code == 400 and "the upload" in corrupt.json()["error"]
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the CLI's guard, at a test-sized limit
        bomb = client.post(url, content=png_bytes(np.zeros((100, 100), np.uint8)))
        assert bomb.status_code == 400 and "decompression bomb" in bomb.json()["error"]
        assert "peronamalik-studio" not in bomb.json()["error"]  # no server path leaks
        monkeypatch.undo()
        photo = np.zeros((40, 80, 3), np.uint8)
        photo[:, 40:] = 255
        frames(ws, 1)  # the sample's first frame: later ones of its run are not frame 0
        good = client.post(url, content=png_bytes(photo))
        assert good.json() == {"ok": True, "width": 80, "height": 40, "video": False}
        jpeg = next(jpeg for index, jpeg in frames(ws, 8) if index == 0)
        assert decode(jpeg).shape[:2] == (160, 320)  # the upload, at the preset's size
        assert client.post("/api/upload?session=nope", content=b"x").status_code == 404


def test_download_equals_the_cli_render_of_the_recipe(client, tmp_path):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        ws.send_json({"type": "config", "preset": "ink", "overrides": SHORT, "seed": 42})
        frames(ws, 1, from_start=True)
        recipe = client.get(f"/api/download?session={session}&format=json")
        gif = client.get(f"/api/download?session={session}&format=gif")
    assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
    assert 'filename="peronamalik-ink-42.gif"' in gif.headers["content-disposition"]
    with Image.open(io.BytesIO(gif.content)) as decoded:
        assert decoded.n_frames == 3  # iterations 90, a frame every 30
    (tmp_path / "run.json").write_bytes(recipe.content)
    assert cli_main(["art", "--config", str(tmp_path / "run.json"), "-o", str(tmp_path / "cli.gif")]) == 0
    assert (tmp_path / "cli.gif").read_bytes() == gif.content


def test_renders_beyond_the_limit_are_refused_as_busy(make_client):
    busy_client = make_client(max_renders=0)
    with busy_client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        response = busy_client.get(f"/api/download?session={session}&format=gif")
    assert response.status_code == 503 and response.json()["error"].startswith("busy")


def test_sessions_beyond_the_limit_are_refused(make_client):
    small = make_client(max_sessions=1)
    with small.websocket_connect("/ws") as first:
        hello(first)
        with small.websocket_connect("/ws") as second:
            assert second.receive_json()["message"].startswith("busy")


def test_bad_messages_get_one_clear_error(client):
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_text("not json")
        assert "JSON objects" in next_error(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"dt": -1}})
        assert next_error(ws).startswith("dt must be")
        ws.send_json({"type": "config", "preset": "nope"})
        assert "preset must be one of" in next_error(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 4096}})  # gigabytes of engine state
        assert next_error(ws).startswith("size must be at most 2048 in the studio")


def test_classic_preview_smooths_the_input(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        before = decode(client.get(f"/api/input?session={session}").content).astype(float)
        light = decode(client.get(f"/api/smooth?session={session}&kappa=0.1&iterations=2").content).astype(float)
        heavy = decode(client.get(f"/api/smooth?session={session}&kappa=0.1&iterations=100").content).astype(float)
        bad = client.get(f"/api/smooth?session={session}&kappa=-1")
    roughness = [np.abs(np.diff(image, axis=1)).mean() for image in (before, light, heavy)]
    assert roughness[0] > roughness[1] > roughness[2]
    assert bad.status_code == 400 and "kappa" in bad.json()["error"]


def as_shown(clean: np.ndarray, upload: np.ndarray) -> np.ndarray:
    """``clean`` as the classic view shows the noisy ``upload`` (uint8): min-max normalised
    to [0, 1] by the upload's range, as the studio's inputs are (the seed's way)."""
    low, high = upload.min() / 255, upload.max() / 255
    return (clean - low) / (high - low)


def test_auto_chooses_what_denoises_the_classic_preview(client):
    """``/api/auto``: the kappa and iterations that denoise the input as shown (a real photo
    uploaded under noise of 0.05); smoothed with them it is several dB nearer the clean one."""
    clean = data.camera()[128:384, 128:384].astype(float) / 255
    upload = (np.clip(clean + np.random.default_rng(0).normal(0, 0.05, clean.shape), 0, 1) * 255).round().astype(np.uint8)
    clean, noisy = as_shown(clean, upload), as_shown(upload / 255, upload)
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        assert client.post(f"/api/upload?session={session}", content=png_bytes(upload)).json()["ok"]
        chosen = client.get(f"/api/auto?session={session}&diffusivity=exp").json()
        query = f"session={session}&kappa={chosen['kappa']}&iterations={chosen['iterations']}&diffusivity=exp"
        smoothed = decode(client.get(f"/api/smooth?{query}").content).astype(float)[..., 0] / 255
        refusals = [client.get(f"/api/auto?session={session}&diffusivity=inv"), client.get("/api/auto?session=nope"),
                    client.get(f"/api/auto?session={session}&kappa=1")]
    assert 0 < chosen["iterations"] <= 200 and 0.001 <= chosen["kappa"] <= 1  # the slider's range
    assert chosen["description"].startswith(f"kappa={chosen['kappa']:.6g} iterations={chosen['iterations']} ")
    psnr = [-10 * np.log10(np.mean((image - clean) ** 2)) for image in (noisy, smoothed)]
    assert psnr[1] > psnr[0] + 3, psnr
    assert [r.status_code for r in refusals] == [400, 404, 400]
    assert "diffusivity must be one of" in refusals[0].json()["error"]


def test_auto_reads_the_noise_in_the_part_picked(client):
    """``/api/auto?part=``: the noise read in a smooth part (camera's sky, beside its grainy
    corner, which reads its grain as noise) spares the grain: over 1 dB nearer the clean
    picture than reading the whole; a part that does not fit is a 400 naming it."""
    camera = data.camera().astype(float) / 255
    clean = np.hstack([camera[20:148, 300:428], camera[320:448, 320:448]])
    upload = (np.clip(clean + np.random.default_rng(0).normal(0, 0.02, clean.shape), 0, 1) * 255).round().astype(np.uint8)
    clean, noisy = as_shown(clean, upload), as_shown(upload / 255, upload)
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        assert client.post(f"/api/upload?session={session}", content=png_bytes(upload)).json()["ok"]
        psnr, lines = {}, {}
        for name, part in (("whole", ""), ("sky", "&part=0,0,128,128")):
            chosen = client.get(f"/api/auto?session={session}&diffusivity=exp{part}").json()
            smoothed = diffuse(noisy, kappa=chosen["kappa"], iterations=chosen["iterations"])  # the view's, before its JPEG
            psnr[name], lines[name] = -10 * np.log10(np.mean((smoothed - clean) ** 2)), chosen["description"]
        refusals = [client.get(f"/api/auto?session={session}&part={part}").json()["error"]
                    for part in ("0,0,128", "0,0,10,128", "0,200,128,300")]
    assert psnr["sky"] > psnr["whole"] + 1.0, (psnr, lines)
    assert lines["sky"].endswith(", noise read in the part picked") and "part" not in lines["whole"]
    assert refusals[0].startswith("part must be top,left,bottom,right")
    assert "is 128×10 pixels; the noise is read on 18 or more" in refusals[1]
    assert "lies outside the picture (256×128 pixels)" in refusals[2]


def test_preview_frames_fill_the_gaps_between_file_frames(client):
    """With a file frame every 6000 iterations (far longer than a preview's 1/30 s at 64 px,
    on any machine) the page still sees the run move."""
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 64, "every": 6000, "iterations": 12000},
                      "seed": 4})
        seen, run = [], None
        while sum(1 for s in seen if not s["preview"]) < 2:
            message = ws.receive()
            if message.get("bytes") is not None:
                ws.send_json({"type": "ack"})
                continue
            data = json.loads(message["text"])
            if data["type"] == "config":
                run = data["run"]
            elif data["type"] == "frame" and run is not None and data["run"] == run:
                seen.append(data)
    file_frames = [s for s in seen if not s["preview"]]
    assert [s["iteration"] for s in file_frames] == [0, 6000]
    between = [s for s in seen if s["preview"]]
    assert between and all(0 < s["iteration"] < 6000 and s["index"] == 0 for s in between)
    assert [s["iteration"] for s in between] == sorted({s["iteration"] for s in between})
