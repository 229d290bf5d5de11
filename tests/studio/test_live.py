"""Preset thumbnails and the page's webcam, through the real app (TestClient)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from peronamalik.art.animate import frames_from, resolve_run
from peronamalik.art.presets import PHOTO_PRESETS, preset_config
from peronamalik.art.source import SAMPLE_REF, load_source
from peronamalik.art.video import stylize_frames, stylized
from peronamalik.backends.native import learned
from peronamalik.io.video import read_frames
from peronamalik.studio import thumbs
from peronamalik.studio.live import decode_frame
from peronamalik.studio.session import encode_jpeg

from tests.studio.messages import decode, hello, png_bytes
from tests.studio.messages import frames as file_frames


def jpeg_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def clip(count: int) -> list[np.ndarray]:
    """A moving bright square on a gradient, 48×64."""
    ramp = np.linspace(0, 200, 64, dtype=np.uint8)[None, :, None].repeat(48, 0).repeat(3, 2)
    frames = []
    for i in range(count):
        frame = ramp.copy()
        frame[10:30, 4 + 5 * i:24 + 5 * i] = 255
        frames.append(frame)
    return frames


def webcam_replies(ws, count: int) -> list[tuple[bytes | None, dict]]:
    """The next ``count`` webcam replies (JPEG or None, meta); photo frames are acknowledged and skipped."""
    got, pending = [], None
    while len(got) < count:
        message = ws.receive()
        if message.get("bytes") is not None:
            pending = message["bytes"]
            continue
        data = json.loads(message["text"])
        if data["type"] == "frame":
            ws.send_json({"type": "ack"})
        elif data["type"] == "webcam":
            got.append((pending, data))
        pending = None
    return got


def test_a_thumbnail_is_the_preset_run_small():
    spec = resolve_run(preset="ink", config=preset_config("ink").replace(size=thumbs.SIZE, iterations=thumbs.ITERATIONS, every=thumbs.ITERATIONS - 1), seed=thumbs.SEED, device="cpu")
    expected = list(frames_from(load_source(SAMPLE_REF, size=thumbs.SIZE, device=spec.device), spec))[-1]
    got = thumbs.thumbnail(SAMPLE_REF, "ink", "cpu")
    assert got == encode_jpeg(expected) and max(decode(got).shape[:2]) == thumbs.SIZE


def test_thumbnails_are_served_cached_and_follow_the_upload(client):
    assert client.get("/api/schema").json()["photo_presets"] == list(PHOTO_PRESETS)
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        sample = {name: client.get(f"/api/thumb?session={session}&preset={name}") for name in PHOTO_PRESETS}
        assert all(r.status_code == 200 and r.headers["content-type"] == "image/jpeg" for r in sample.values())
        assert len({r.content for r in sample.values()}) == len(PHOTO_PRESETS)  # every look differs
        studio = client.app.state.studio
        assert studio.thumbs.request(SAMPLE_REF, "glow").result() == sample["glow"].content  # cached, same bytes
        bad = client.get(f"/api/thumb?session={session}&preset=video")
        assert bad.status_code == 400 and "preset must be one of" in bad.json()["error"]
        flat = np.zeros((40, 60, 3), np.uint8)
        flat[:, 30:] = 180
        assert client.post(f"/api/upload?session={session}", content=png_bytes(flat)).status_code == 200
        uploaded = client.get(f"/api/thumb?session={session}&preset=glow")
        assert uploaded.status_code == 200 and decode(uploaded.content).shape[:2] == (64, 96)
    assert client.get(f"/api/thumb?session={session}&preset=glow").status_code == 404


def test_webcam_frames_come_back_as_the_video_recurrence(client):
    """Byte for byte the JPEGs of ``stylize_frames`` (preset "video", the session's seed)
    over the frames as the server decodes them."""
    frames = clip(4)
    with client.websocket_connect("/ws") as ws:
        seed = hello(ws)["seed"]
        ws.send_json({"type": "pause"})
        sent, served = [], []
        for frame in frames:
            data = jpeg_bytes(frame)
            sent.append(np.array(Image.open(io.BytesIO(data)).convert("RGB")))
            ws.send_bytes(data)
            (jpeg, meta), = webcam_replies(ws, 1)  # one in flight, as the page does: nothing dropped
            assert meta["index"] == len(sent) - 1 and meta["dropped"] == 0
            served.append(jpeg)
        ws.send_bytes(b"not a jpeg")
        (jpeg, meta), = webcam_replies(ws, 1)
        assert jpeg is None and "not a readable JPEG" in meta["error"]
        ws.send_json({"type": "webcam-stop"})  # the camera off and on: the recurrence starts again
        ws.send_bytes(jpeg_bytes(frames[0]))
        (again, meta), = webcam_replies(ws, 1)
        assert meta["index"] == 0 and again == served[0]
    expected = [encode_jpeg(out) for out in stylize_frames(sent, seed=seed, device="cpu")]
    assert served == expected
    assert decode(served[0]).shape == frames[0].shape


def test_webcam_frames_sent_faster_than_served_are_dropped_not_queued(client):
    data = jpeg_bytes(clip(1)[0])
    with client.websocket_connect("/ws") as ws:
        hello(ws)
        ws.send_json({"type": "pause"})
        for _ in range(30):
            ws.send_bytes(data)
        replies = []
        while not replies or replies[-1]["index"] + 1 + replies[-1]["dropped"] < 30:
            replies.append(webcam_replies(ws, 1)[0][1])
    # every frame was served once or dropped: the served ones are numbered 0, 1, 2, ...
    assert [r["index"] for r in replies] == list(range(len(replies)))
    assert replies[-1]["index"] + 1 + replies[-1]["dropped"] == 30


def test_a_webcam_frame_too_large_is_refused():
    with pytest.raises(ValueError, match="at most 640 px"):
        decode_frame(jpeg_bytes(np.zeros((480, 700, 3), np.uint8)))


def test_warm_up_loads_the_native_step_and_the_sample_and_never_imports_dynamo(native_kernel):
    """In a fresh process: one frame of the default preset loads the native step's library
    (built into the cache here first; skipped without a compiler) and caches the sample, and
    no optimizer imported ``torch._dynamo`` (2-3 s, :func:`peronamalik.art.engine.new_optimizer`)."""
    native_kernel(learned.KERNEL)
    code = ("import sys; from peronamalik.studio.session import warm_up, _sample; "
            "from peronamalik.backends.native import build, learned; warm_up('cpu'); "
            "print(learned.KERNEL.source in build.build_info, _sample.cache_info().currsize, "
            "'torch._dynamo' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1", "False"]


def gif_bytes(frames: list[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def test_an_uploaded_clip_runs_the_video_recurrence_looping(client, tmp_path):
    """Byte for byte the JPEGs of ``stylized`` over the clip's frames played twice (one
    recurrence across the loop); the download is ``render_video`` of one pass."""
    clip_path = tmp_path / "clip.gif"
    clip_path.write_bytes(gif_bytes(clip(3)))
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        ws.send_json({"type": "config", "preset": "video", "seed": 9})
        reply = client.post(f"/api/upload?session={session}", content=clip_path.read_bytes())
        assert reply.status_code == 200 and reply.json()["video"] is True
        ws.send_json({"type": "restart"})
        got = file_frames(ws, 6, from_start=True)
        spec = client.app.state.studio.sessions[session].session.spec()
        assert spec.config.size == 320
        assert client.get(f"/api/download?session={session}&format=gif").status_code == 200
    decoded = list(read_frames(clip_path))
    assert len(decoded) == 3
    expected = [encode_jpeg(f) for f in stylized(decoded + decoded, spec)]
    assert [index for index, _ in got] == list(range(6))
    assert [jpeg for _, jpeg in got] == expected


def test_a_file_neither_image_nor_clip_is_refused(client):
    with client.websocket_connect("/ws") as ws:
        session = hello(ws)["session"]
        reply = client.post(f"/api/upload?session={session}", content=b"\x00\x00\x00\x00ftypisom" + b"\x00" * 64)
        assert reply.status_code == 400
        reply = client.post(f"/api/upload?session={session}", content=b"just text, no magic")
        assert reply.status_code == 415 and "MP4, MOV, WebM or GIF" in reply.json()["error"]
