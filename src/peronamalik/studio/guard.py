"""Treating every request as hostile: Host/Origin checks and upload sniffing.

* Host: the request's ``Host`` header must name one of the allowed host names (loopback by
  default), so a DNS-rebinding page (evil.example resolving to 127.0.0.1) is refused.
* Origin: when a browser sends one (it always does for WebSockets and cross-site POSTs), it
  must be this same host and port: no cross-site WebSocket hijacking.
* Queries: an endpoint takes only its own keys, each once (:func:`query_problem`): a key
  it does not know, or a second value, would otherwise be ignored without a word.
* Uploads: at most :data:`MAX_UPLOAD_BYTES`, and the first bytes must be PNG, JPEG, WebP
  or TIFF; the pixels are then read by :func:`peronamalik.io.images.read_image`, with the
  CLI's decompression-bomb guard.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import urlsplit

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse

MAX_UPLOAD_BYTES = 25 << 20
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

_MAGICS = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"II*\x00", "tif"),
    (b"MM\x00*", "tif"),
    (b"II+\x00", "tif"),
    (b"MM\x00+", "tif"),
)


_VIDEO_MAGICS = ((b"\x1aE\xdf\xa3", "webm"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))


def sniff_video(data: bytes) -> str | None:
    """The upload's kind when it is a clip (``mp4`` for MP4/MOV, ``webm`` for WebM/MKV,
    ``gif``) from its first bytes, or None."""
    if data[4:8] == b"ftyp":
        return "mp4"
    return next((kind for magic, kind in _VIDEO_MAGICS if data.startswith(magic)), None)


def host_name(authority: str) -> str:
    """``"127.0.0.1:8000"`` → ``"127.0.0.1"``; ``"[::1]:8000"`` → ``"::1"``."""
    return (urlsplit(f"//{authority}").hostname or "").lower()


def refusal(headers: Headers, allowed_hosts: frozenset[str]) -> str | None:
    """Why this request must be refused, or None.  ``headers`` are the request's."""
    host = headers.get("host", "")
    if host_name(host) not in allowed_hosts:
        return f"Host {host!r} is not served here"
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
            return f"Origin {origin!r} is not this page"
    return None


def sniff(data: bytes) -> str | None:
    """The upload's kind (``png``, ``jpg``, ``webp``, ``tif``) from its first bytes, or None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _MAGICS if data.startswith(magic)), None)


def hide_path(problem: Exception, path: object) -> str:
    """``problem``'s message with the upload's server path (a temp folder) said as "the upload"."""
    return str(problem).replace(str(path), "the upload")


def error(message: str, status: int) -> JSONResponse:
    """A refusal the page shows as it is: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


def query_problem(query: QueryParams, path: str, known: tuple[str, ...]) -> str | None:
    """Why the query of a request to ``path`` is refused (a key not in ``known``, or one
    given more than once), or None."""
    counts = Counter(key for key, _ in query.multi_items())
    unknown = sorted(set(counts) - set(known))
    if unknown:
        names = ", ".join(repr(key[:40]) for key in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        return f"unknown parameter(s) {names}; {path} takes {', '.join(known) if known else 'none'}"
    repeated = next((key for key, count in counts.items() if count > 1), None)
    if repeated is not None:
        return f"{repeated} is given {counts[repeated]} times; {path} takes it once"
    return None
