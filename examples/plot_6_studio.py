"""
The studio without a browser
============================

``peronamalik studio`` (or :func:`peronamalik.studio.server.serve`) serves a web page where
the animation plays while ``K`` learns. The page is an ASGI app made by
:func:`~peronamalik.studio.server.create_app`, so it can be driven in-process with
Starlette's ``TestClient``: no server, no browser. Opening the WebSocket starts a session
whose first message names it; the classic mode's before/after pictures are plain HTTP
requests, and the animation's frames arrive on the socket as binary JPEG.

To run the real thing::

    peronamalik studio photo.jpg --port 8080 --no-browser
"""

import io
import warnings

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from peronamalik.studio.server import create_app

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
from starlette.testclient import TestClient  # noqa: E402


def decode(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)))


app = create_app(allowed_hosts=frozenset({"testserver"}), device="cpu")
with TestClient(app) as client, client.websocket_connect("/ws") as ws:
    hello = ws.receive_json()
    print("session", hello["preset"], "preset, seed", hello["seed"])
    ws.send_json({"type": "config", "preset": "glow", "overrides": {"size": 96}, "seed": 3})
    while "bytes" not in (message := ws.receive()) or not message["bytes"]:
        pass
    frame = decode(message["bytes"])
    before = decode(client.get("/api/input", params={"session": hello["session"]}).content)
    query = {"session": hello["session"], "kappa": 0.1, "iterations": 30}
    after = decode(client.get("/api/smooth", params=query).content)

fig, axes = plt.subplots(1, 3, figsize=(10, 3))
for ax, image, title in zip(axes, [frame, before, after], ["a frame of the animation", "classic: input", "classic: 30 iterations"]):
    ax.imshow(image)
    ax.set_title(title)
    ax.axis("off")
fig.tight_layout()
plt.show()
