"""The studio's messages as the tests read and send them: file frames and errors off the
WebSocket, the greeting, and pictures and clips to upload."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image


def frames(ws, count: int, *, from_start: bool = False) -> list[tuple[int, bytes]]:
    """The next ``count`` file frames as (index, JPEG), acknowledging each (previews too); with ``from_start``,
    only frames of the run the latest ``config`` reply with a restart names (a restart counts runs; frames
    of an earlier run, e.g. one an upload started just before the test's own restart, are dropped)."""
    got: list[tuple[int, bytes]] = []
    pending: bytes | None = None
    run = float("inf") if from_start else 0
    while len(got) < count:
        message = ws.receive()
        if message.get("bytes") is not None:
            pending = message["bytes"]
            ws.send_json({"type": "ack"})
            continue
        data = json.loads(message["text"])
        if data["type"] == "error":
            raise AssertionError(data["message"])
        if data["type"] == "config" and data["restart"]:
            run = data["run"]
            if from_start:
                got = []
        if data["type"] == "frame" and pending is not None:
            if data["run"] >= run and not data["preview"]:
                got.append((data["index"], pending))
            pending = None
    return got


def decode(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def hello(ws) -> dict:
    message = ws.receive_json()
    assert message["type"] == "hello"
    return message


def next_error(ws) -> str:
    """The next error message, acknowledging frames meanwhile."""
    while True:
        message = ws.receive()
        if message.get("bytes") is not None:
            ws.send_json({"type": "ack"})
        elif json.loads(message["text"])["type"] == "error":
            return json.loads(message["text"])["message"]


def photo(seed: int, shape: tuple[int, int] = (48, 64)) -> bytes:
    return png_bytes(np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8))


def webm_clip() -> bytes:
    """Five 64×48 frames: a ramp, lighter each frame."""
    av = pytest.importorskip("av")
    buffer = io.BytesIO()
    ramp = np.linspace(0, 150, 64)[None, :, None]
    with av.open(buffer, "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for shade in range(0, 100, 20):
            pixels = np.broadcast_to(ramp + shade, (48, 64, 3)).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
