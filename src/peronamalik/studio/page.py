"""The studio page as one HTML document: the stylesheet, the script and the controls'
schema inlined, so the page starts with no request but its own and its WebSocket.

``static/index.html`` links ``/static/studio.css`` and ``/static/studio.js`` (so it reads as a
normal page while editing); :func:`assemble` replaces those two tags by the files' contents
and adds the schema as ``<script type="application/json" id="studio-schema">``.  A small
script in the page's head opens the WebSocket before anything else is parsed: the server
starts the session's engine on connect, so the first frame is computed while the page
builds itself.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

CSS_TAG = '<link rel="stylesheet" href="/static/studio.css">'
SCRIPT_TAG = '<script src="/static/studio.js"></script>'


def assemble(boot: dict[str, Any]) -> str:
    """``index.html`` with ``studio.css``, ``studio.js`` and ``boot`` (JSON, read by the
    script) inlined.

    Raises
    ------
    RuntimeError
        ``index.html`` lost one of the tags this replaces (a packaging error).
    """
    static = resources.files("peronamalik.studio").joinpath("static")
    html = static.joinpath("index.html").read_text(encoding="utf-8")
    for tag in (CSS_TAG, SCRIPT_TAG):
        if html.count(tag) != 1:
            raise RuntimeError(f"index.html must hold {tag} exactly once")
    # "<" escaped: no "</script>" inside the JSON can end its element
    data = json.dumps(boot, separators=(",", ":")).replace("<", "\\u003c")
    css = static.joinpath("studio.css").read_text(encoding="utf-8")
    script = static.joinpath("studio.js").read_text(encoding="utf-8")
    return html.replace(CSS_TAG, f"<style>\n{css}</style>").replace(
        SCRIPT_TAG, f'<script type="application/json" id="studio-schema">{data}</script>\n<script>\n{script}</script>'
    )
