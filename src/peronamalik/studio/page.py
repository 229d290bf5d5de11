"""The studio page as one HTML document: the stylesheet, the script and the controls'
schema inlined, so the page starts with no request but its own and its WebSocket.

``static/index.html`` links ``/static/studio.css``, ``/static/studio.js`` and its icon
``/favicon.svg`` (so it reads as a normal page while editing); :func:`assemble` replaces
those tags by the files' contents (the icon as a ``data:`` URL, so the browser asks for no
``/favicon.ico``) and adds the schema as ``<script type="application/json" id="studio-schema">``.  A small
script in the page's head opens the WebSocket before anything else is parsed: the server
starts the session's engine on connect, so the first frame is computed while the page
builds itself.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from urllib.parse import quote

CSS_TAG = '<link rel="stylesheet" href="/static/studio.css">'
SCRIPT_TAG = '<script src="/static/studio.js"></script>'
ICON_TAG = '<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
_STATIC = resources.files("peronamalik.studio").joinpath("static")
#: The page's icon (SVG), also served at ``/favicon.ico`` for anything that asks there.
ICON = _STATIC.joinpath("favicon.svg").read_bytes()


def assemble(boot: dict[str, Any]) -> str:
    """``index.html`` with ``studio.css``, ``studio.js``, the icon and ``boot`` (JSON, read
    by the script) inlined.

    Raises
    ------
    RuntimeError
        ``index.html`` lost one of the tags this replaces (a packaging error).
    """
    html = _STATIC.joinpath("index.html").read_text(encoding="utf-8")
    for tag in (CSS_TAG, SCRIPT_TAG, ICON_TAG):
        if html.count(tag) != 1:
            raise RuntimeError(f"index.html must hold {tag} exactly once")
    # "<" escaped: no "</script>" inside the JSON can end its element
    data = json.dumps(boot, separators=(",", ":")).replace("<", "\\u003c")
    css = _STATIC.joinpath("studio.css").read_text(encoding="utf-8")
    script = _STATIC.joinpath("studio.js").read_text(encoding="utf-8")
    icon = f'<link rel="icon" href="data:image/svg+xml,{quote(ICON.decode().strip())}" type="image/svg+xml">'
    return html.replace(ICON_TAG, icon).replace(CSS_TAG, f"<style>\n{css}</style>").replace(
        SCRIPT_TAG, f'<script type="application/json" id="studio-schema">{data}</script>\n<script>\n{script}</script>'
    )
