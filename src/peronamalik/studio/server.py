"""The studio's web app: one static page, a WebSocket per session, uploads, downloads.

Protocol on ``/ws`` (same origin only, see :mod:`peronamalik.studio.guard`); the page opens
it with its own query (``/ws?preset=ink&seed=7&kappa=0.3``, see
:func:`peronamalik.studio.controls.from_link`) and the session's engine starts on connect with
that run, so a shared link's first frame is already its own:

* server → page: a JSON ``hello`` with the session id, then each frame as one **binary**
  message holding a JPEG, followed by a JSON ``frame`` (run, index, iteration, preview;
  ``run`` counts restarts; preview frames come between the file's, see
  :mod:`peronamalik.studio.session`); JSON ``config``,
  ``seed`` and ``error`` replies.
* page → server: a **binary** message is a webcam frame (JPEG, see
  :mod:`peronamalik.studio.live`), answered by its stylised JPEG and a JSON ``webcam``
  (``webcam-stop`` when the camera is turned off); JSON ``ack`` after drawing each frame (at most :data:`IN_FLIGHT` frames
  are unacknowledged; the worker waits meanwhile: back-pressure), ``config`` (preset,
  overrides, seed, id; refused: an ``error`` with the run still in force, see
  :func:`configure`), ``pause``, ``resume``, ``step``, ``restart``, ``new-seed``, ``ping``.

A session ends when its socket closes or stays silent for ``idle_seconds``; its worker
thread stops and its temp folder (uploads, renders) is deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from peronamalik._validate import InputError
from peronamalik.art.animate import render
from peronamalik.art.video_file import render_video
from peronamalik.io.video import probe
from peronamalik.art.presets import DEFAULT_PRESET, PHOTO_PRESETS
from peronamalik.art.source import SAMPLE_REF, reference_sha256
from peronamalik.core.arrays import resolve_device
from peronamalik.studio import classic
from peronamalik.studio.controls import from_link, json_config, requested, schema
from peronamalik.studio.guard import LOOPBACK_NAMES, MAX_UPLOAD_BYTES, error, hide_path, query_problem, refusal, sniff, sniff_video
from peronamalik.studio.live import Webcam
from peronamalik.studio.page import ICON, assemble
from peronamalik.studio.session import Session, warm_up
from peronamalik.studio.thumbs import Thumbnails

IN_FLIGHT = 2
#: Seconds a stopping studio waits for its warm-up (:func:`warm_up`, about a second) to end.
WARM_UP_WAIT = 30.0
ANIMATION_FORMATS = ("gif", "webp", "mp4", "webm")
MEDIA_TYPES = {"gif": "image/gif", "webp": "image/webp", "mp4": "video/mp4", "webm": "video/webm"}


@dataclass
class Entry:
    """A live session and its private temp folder.

    The folder holds at most the session's current upload, plus one being received and
    checked, plus the inputs and outputs of requests still running: a new upload replaces
    the old file once it is the session's input and no render, thumbnail or classic preview
    that started on it (:meth:`hold`) is still running (:meth:`sweep`).
    """

    session: Session
    folder: Path
    uploads: int = 0
    uploading: bool = False  # one upload at a time per session (memory and disk bounded)
    closed: bool = False
    files: set[Path] = field(default_factory=set)  # the uploads on disk
    held: Counter[str | Path] = field(default_factory=Counter)  # inputs in use, and by how many requests
    preview: Any = None  # the classic mode's input, loaded once: (source, array) (classic.py)

    @contextlib.contextmanager
    def hold(self, source: str | Path | None = None) -> Iterator[str | Path]:
        """Keep ``source`` (default: the session's input now) on disk while the block runs;
        yields it.  Used on the event loop only (no lock needed)."""
        source = self.session.source if source is None else source
        self.held[source] += 1
        try:
            yield source
        finally:
            self.held[source] -= 1
            if self.held[source] <= 0:
                del self.held[source]
            self.sweep()

    def sweep(self) -> None:
        """Delete the uploads that are neither the session's input nor held."""
        for path in list(self.files):
            if path != self.session.source and path not in self.held:
                path.unlink(missing_ok=True)
                self.files.discard(path)


@dataclass
class Studio:
    """Server-wide state: the sessions, the render slots and the limits."""

    source: str | Path = SAMPLE_REF
    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    max_sessions: int = 128
    max_renders: int = 2
    idle_seconds: float = 300.0
    device: str | None = None
    sessions: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.render_slots = threading.BoundedSemaphore(self.max_renders)
        self.thumbs = Thumbnails(self.device)

    def entry(self, request: Request) -> Entry | None:
        return self.sessions.get(request.query_params.get("session", ""))


class GuardMiddleware:
    """Refuse any HTTP request or WebSocket whose Host or Origin is not this page."""

    def __init__(self, app: ASGIApp, studio: Studio) -> None:
        self.app, self.studio = app, studio

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = refusal(Headers(scope=scope), self.studio.allowed_hosts)
            if reason is not None:
                if scope["type"] == "websocket":
                    await receive()  # websocket.connect
                    await send({"type": "websocket.close", "code": 1008, "reason": reason[:120]})
                else:
                    await error(reason, 403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(source: str | Path | None = None, **limits: Any) -> Starlette:
    """The studio app.  ``source``: the image every new session starts from (None: the
    bundled sample); ``limits``: :class:`Studio`'s fields (``allowed_hosts``,
    ``max_sessions``, ``max_renders``, ``idle_seconds``, ``device``)."""
    studio = Studio(source=SAMPLE_REF if source is None else source, **limits)
    boot = {**schema(), "default_preset": DEFAULT_PRESET, "photo_presets": list(PHOTO_PRESETS), "formats": list(ANIMATION_FORMATS),
            "max_upload_bytes": MAX_UPLOAD_BYTES}
    html = assemble(boot)  # once: the page, its style, script and schema in one response

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def get_schema(request: Request) -> JSONResponse:
        return JSONResponse(boot)

    async def favicon(request: Request) -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})

    routes = [
        Route("/", index),  # any query: the page opens its socket with it, which checks it
        endpoint("/api/schema", (), get_schema),
        endpoint("/favicon.ico", (), favicon),  # the page links its icon inline; this for anything asking here
        endpoint("/api/upload", ("session",), partial(upload, studio), methods=["POST"]),
        endpoint("/api/download", ("session", "format"), partial(download, studio)),
        endpoint("/api/thumb", ("session", "preset", "v"), partial(thumb, studio)),  # v, t: the page's cache keys
        endpoint("/api/input", ("session", "t"), partial(classic.input_preview, studio)),
        endpoint("/api/smooth", classic.SMOOTH_KEYS, partial(classic.smooth_preview, studio)),
        endpoint("/api/auto", classic.AUTO_KEYS, partial(classic.auto_choice, studio)),
        WebSocketRoute("/ws", partial(run_session, studio)),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(GuardMiddleware, studio=studio)
    app.state.studio = studio
    return app


def endpoint(path: str, keys: tuple[str, ...], handler: Any, methods: list[str] | None = None) -> Route:
    """The route of ``handler``, refusing a query key other than ``keys`` or one given twice
    (400, see :func:`peronamalik.studio.guard.query_problem`) before it runs."""

    async def checked(request: Request) -> Response:
        problem = query_problem(request.query_params, path, keys)
        if problem is not None:
            return error(problem, 400)
        return await handler(request)

    return Route(path, checked, methods=methods)


async def run_session(studio: Studio, websocket: WebSocket) -> None:
    """One page's session: stream frames with back-pressure, obey its messages."""
    await websocket.accept()
    if len(studio.sessions) >= studio.max_sessions:
        await websocket.send_json({"type": "error", "message": f"busy: {studio.max_sessions} sessions are open; try again later"})
        await websocket.close(code=1013)
        return
    loop = asyncio.get_running_loop()
    ready, credit = asyncio.Event(), asyncio.Event()

    def wake() -> None:  # from the worker thread; the loop may be gone once the page closed
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(ready.set)

    try:  # the page's address: a shared link's run from its first frame, no restart
        preset, config, seed = from_link(websocket.query_params)
        problem = None
    except ValueError as exc:
        preset, config, seed, problem = DEFAULT_PRESET, None, None, f"the link's settings were not used: {exc}"
    session = Session(wake, studio.source, preset=preset, config=config, seed=secrets.randbits(31) if seed is None else seed,
                      device=studio.device)
    token = secrets.token_urlsafe(18)
    entry = Entry(session, Path(tempfile.mkdtemp(prefix="peronamalik-studio-")))
    studio.sessions[token] = entry
    credits = [IN_FLIGHT]

    lock = asyncio.Lock()  # a JPEG and the JSON describing it go out together

    async def send_pair(jpeg: bytes | None, meta: dict[str, Any]) -> None:
        async with lock:
            if jpeg is not None:
                await websocket.send_bytes(jpeg)
            await websocket.send_json(meta)

    webcam = Webcam(lambda: session.seed, send_pair, studio.device)

    async def pump() -> None:
        while True:
            await ready.wait()
            ready.clear()
            if session.error:
                await send_pair(None, {"type": "error", "message": session.error})
                return
            while credits[0] <= 0:
                await credit.wait()
                credit.clear()
            frame = session.take()
            if frame is not None:
                credits[0] -= 1
                await send_pair(frame.jpeg, {"type": "frame", "run": frame.run, "index": frame.index,
                                                   "iteration": frame.iteration, "preview": frame.preview})

    sender = asyncio.create_task(pump())
    try:
        await websocket.send_json({"type": "hello", "session": token, **describe(session)})
        if problem is not None:
            await send_pair(None, {"type": "error", "message": problem})
        while True:
            message = await asyncio.wait_for(websocket.receive(), timeout=studio.idle_seconds)
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:  # a webcam frame
                webcam.push(message["bytes"])
                continue
            reply = handle(session, message.get("text"), credits, webcam)
            credit.set()
            if reply is not None:
                await send_pair(None, reply)
    except (WebSocketDisconnect, asyncio.TimeoutError, RuntimeError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
        await webcam.close()
        studio.sessions.pop(token, None)
        entry.closed = True
        await asyncio.to_thread(session.close)
        shutil.rmtree(entry.folder, ignore_errors=True)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close()


def describe(session: Session) -> dict[str, Any]:
    return {"run": session.run, "preset": session.preset, "seed": session.seed, "config": json_config(session.config), "paused": session.paused}


def handle(session: Session, text: str | None, credits: list[int], webcam: Webcam) -> dict[str, Any] | None:
    """Obey one JSON message from the page; the reply to send, if any."""
    try:
        message = json.loads(text) if text else None
    except json.JSONDecodeError:
        message = None
    if not isinstance(message, dict):
        return {"type": "error", "message": "messages must be JSON objects with a 'type'"}
    kind = message.get("type")
    if kind == "ack":
        credits[0] = min(IN_FLIGHT, credits[0] + 1)
        return None
    if kind == "ping":
        return {"type": "pong"}
    if kind in ("pause", "resume"):
        session.pause(kind == "pause")
        return {"type": "state", "paused": session.paused}
    if kind == "step":
        session.step()
        return None
    if kind == "webcam-stop":
        webcam.stop()
        return None
    if kind in ("restart", "new-seed"):
        session.restart(secrets.randbits(31) if kind == "new-seed" else None)
        return {"type": "config", "restart": True, **describe(session)}
    if kind == "config":
        return configure(session, message)
    return {"type": "error", "message": f"unknown message type {kind!r}"}


def configure(session: Session, message: dict[str, Any]) -> dict[str, Any]:
    """Apply a ``config`` message: the reply is a ``config`` with the run now in force, or
    an ``error`` naming what was refused, with the run still in force (``config``,
    ``preset``, ``seed``: the page puts its controls back to them).  Both carry the
    message's ``id``, if any, so the page knows which change they answer."""
    echo = {"id": message["id"]} if "id" in message else {}
    try:
        preset, config, seed = requested(message.get("preset", session.preset), message.get("overrides"), message.get("seed"))
    except ValueError as exc:
        return {"type": "error", "message": str(exc), **echo, **describe(session)}
    switched = preset != session.preset
    restart = session.configure(preset, config, seed)
    if switched and not restart:  # another look: start it from the beginning
        session.restart()
        restart = True
    return {"type": "config", "restart": restart, **echo, **describe(session)}


async def upload(studio: Studio, request: Request) -> Response:
    """``POST /api/upload?session=ID``, the image or clip as the raw body.  It replaces the
    session's input, and its file the previous upload's once nothing uses that one
    (:meth:`Entry.sweep`); one upload at a time per session."""
    entry = studio.entry(request)
    if entry is None:
        return error("unknown or closed session: reload the page", 404)
    if entry.uploading:
        return error("another upload to this session is still running: wait for it to finish", 409)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BYTES:
        return error(too_large(), 413)
    entry.uploading = True
    try:
        return await receive_upload(entry, request)
    finally:
        entry.uploading = False


async def receive_upload(entry: Entry, request: Request) -> Response:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UPLOAD_BYTES:
            return error(too_large(), 413)
    head = bytes(data[:16])
    kind, video = sniff(head), False
    if kind is None:
        kind, video = sniff_video(head), True
    if kind is None:
        return error("not a supported file: the studio takes PNG, JPEG, WebP or TIFF images and MP4, MOV, WebM or GIF clips", 415)
    if entry.closed:
        return error("unknown or closed session: reload the page", 404)
    entry.uploads += 1
    path = entry.folder / f"upload-{entry.uploads}.{kind}"
    entry.files.add(path)
    with entry.hold(path):  # a failed upload is deleted on leaving, as is the previous one once replaced
        try:
            path.write_bytes(bytes(data))
        except OSError as exc:  # a full disk: the server's problem, said in one line
            return error(f"the upload could not be stored: {(exc.strerror or str(exc)).lower()}", 507)
        del data
        try:
            if video:
                info = await asyncio.to_thread(probe, path)
                shape: tuple[int, ...] = (info.height, info.width)
            else:
                shape = await asyncio.to_thread(classic.check_input, path)
        except ValueError as exc:
            return error(hide_path(exc, path), 400)
        if entry.closed:
            return error("unknown or closed session: reload the page", 404)
        entry.session.set_source(path, video=video)
    return JSONResponse({"ok": True, "width": shape[1], "height": shape[0], "video": video})


async def thumb(studio: Studio, request: Request) -> Response:
    """``GET /api/thumb?session=ID&preset=NAME``: the preset's thumbnail of the session's
    input (a clip: its first frame; :mod:`peronamalik.studio.thumbs`), rendered once per
    input in the background."""
    entry = studio.entry(request)
    if entry is None:
        return error("unknown or closed session: reload the page", 404)
    with entry.hold() as source:  # an upload meanwhile leaves this input on disk until its thumbnail is made
        try:
            future = studio.thumbs.request(source, request.query_params.get("preset", ""), video=entry.session.video)
        except ValueError as exc:
            return error(str(exc), 400)
        try:
            jpeg = await asyncio.wrap_future(future)
        except (ValueError, OSError) as exc:
            return error(f"no thumbnail: {hide_path(exc, source)}", 500)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


def too_large() -> str:
    return f"the file is larger than the studio's limit of {MAX_UPLOAD_BYTES >> 20} MiB"


async def download(studio: Studio, request: Request) -> Response:
    """``GET /api/download?session=ID&format=gif|webp|mp4|webm|json``: the current run,
    rendered by :func:`peronamalik.art.animate.render` from its exact config and seed."""
    entry = studio.entry(request)
    if entry is None:
        return error("unknown or closed session: reload the page", 404)
    kind = request.query_params.get("format", "gif")
    session = entry.session
    spec = session.spec()
    name = f"peronamalik-{spec.preset}-{spec.seed}"
    if kind == "json":
        return JSONResponse(recipe(session), headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
    if kind not in ANIMATION_FORMATS:
        return error(f"format must be one of {list(ANIMATION_FORMATS) + ['json']}, got {kind!r}", 400)
    if not studio.render_slots.acquire(blocking=False):
        return error(f"busy: {studio.max_renders} renders are running; try again in a moment", 503)
    target = entry.folder / f"render-{secrets.token_hex(8)}.{kind}"
    try:  # a clip: its frames once through, as `peronamalik video` renders it
        with entry.hold() as source:  # an upload meanwhile leaves this input on disk until the render ends
            written = await asyncio.to_thread(
                render_video if session.video else render, source, target,
                config=spec.config, preset=spec.preset, seed=spec.seed, device=spec.device
            )
    except (OSError, ValueError):
        if entry.closed:  # its folder was deleted under the render
            return closed_during_render(entry)
        raise
    finally:
        studio.render_slots.release()
    if entry.closed:  # the render wrote its file into a folder it made again
        return closed_during_render(entry)
    sidecar = written.with_name(written.name + ".json")
    return FileResponse(written, media_type=MEDIA_TYPES[kind], filename=f"{name}.{kind}",
                        background=BackgroundTask(remove, written, sidecar))


def closed_during_render(entry: Entry) -> Response:
    """The page closed while its download rendered: the folder goes (again), a 404 says so."""
    shutil.rmtree(entry.folder, ignore_errors=True)
    return error("the session closed during the render: reload the page", 404)


def remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def recipe(session: Session) -> dict[str, Any]:
    """The run as ``peronamalik art --config FILE`` reads it (a sidecar's fields); the
    input is recorded only for the bundled sample (an upload lives in a temp folder)."""
    spec = session.spec()
    record: dict[str, Any] = {"preset": spec.preset, "seed": spec.seed, "config": spec.config.to_dict()}
    if session.source == SAMPLE_REF:
        record["input"] = {"path": SAMPLE_REF, "sha256": reference_sha256(SAMPLE_REF)}
    return record


def address(host: str, port: int) -> str:
    """``host:port`` as a URL writes it (an IPv6 address in brackets)."""
    return f"{f'[{host}]' if ':' in host else host}:{port}"


def listen(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on ``host:port``, one per address the name resolves to (as asyncio's
    ``create_server`` binds them), before any thread or page starts; a name that does not
    resolve or a port that cannot be bound raises :class:`InputError` naming the problem."""
    where = f"cannot serve on {address(host, port)}"
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InputError(f"{where}: {host} is not a known host name or address ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    problem: OSError | None = None
    try:
        for family, kind, proto, sockaddr in dict.fromkeys((info[0], info[1], info[2], info[4]) for info in found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(sockaddr)
                sock.listen(2048)
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:  # else: that family is not enabled here (as asyncio)
                    raise
                problem = exc
                sockets.pop().close()
        if not sockets:
            raise problem or OSError(errno.EADDRNOTAVAIL, os.strerror(errno.EADDRNOTAVAIL))
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise InputError(f"{where}: {bind_failure(exc, host, port)}") from None
    return sockets


def bind_failure(exc: OSError, host: str, port: int) -> str:
    """Why a port could not be bound, with what to try instead."""
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (try another --port)"
    if exc.errno == errno.EACCES:
        return "permission denied" + (" (ports below 1024 need privileges; try another --port)" if port < 1024 else "")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine (try --host 127.0.0.1)"
    return (exc.strerror or str(exc)).lower()


def serve(source: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = True,
          device: str | None = None, sockets: list[socket.socket] | None = None) -> None:
    """Run the studio on uvicorn until Ctrl-C (then raises :class:`KeyboardInterrupt`, once
    the server stopped); ``open_browser`` opens the page once it listens.

    ``sockets``: already listening on ``host:port`` (:func:`listen`; bound here otherwise).
    The device is checked and the port bound before the address is printed or any thread
    starts: a bad device, an unknown host or a busy port raise :class:`InputError`.

    Host names other than loopback are allowed (Host header) only when ``host`` is not
    loopback: the given address, plus this machine's name and addresses for ``0.0.0.0``/``::``.
    """
    import webbrowser

    import uvicorn

    try:
        resolve_device(device, None)  # as `smooth` and `art` check it
        if sockets is None:
            sockets = listen(host, port)
        allowed = set(LOOPBACK_NAMES) | {host.lower()}
        if host in ("0.0.0.0", "::"):
            allowed |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            with contextlib.suppress(OSError):
                allowed |= set(socket.gethostbyname_ex(socket.gethostname())[2])
        app = create_app(source, allowed_hosts=frozenset(allowed), device=device)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", ws_max_size=MAX_UPLOAD_BYTES)
        server = uvicorn.Server(config)
    except BaseException:
        for sock in sockets or []:
            sock.close()
        raise
    url = f"http://{address('127.0.0.1' if host in ('0.0.0.0', '::') else host, port)}/"
    stopped = threading.Event()
    warming = threading.Thread(target=quiet_warm_up, args=(device, stopped), name="peronamalik-studio-warm-up", daemon=True)
    opener = threading.Timer(1.0, webbrowser.open, args=(url,))
    try:
        warming.start()
        if open_browser:
            opener.start()
        print(f"peronamalik studio: {url}  (Ctrl-C to stop)", flush=True)
        server.run(sockets=sockets)
    finally:  # Ctrl-C: uvicorn stops, then raises it here (KeyboardInterrupt)
        stopped.set()
        opener.cancel()  # stopped within a second: no page opens on a closed port
        for sock in sockets:  # a signal before uvicorn took them over leaves them open
            sock.close()
        if warming.is_alive():  # torch cut off mid-call by the interpreter's exit aborts the process
            warming.join(timeout=WARM_UP_WAIT)


def quiet_warm_up(device: str | None, stopped: threading.Event) -> None:
    """:func:`warm_up`, whose failure once the server stopped (the interpreter exiting under it,
    after :data:`WARM_UP_WAIT`) is no news: a stopped studio prints no traceback."""
    try:
        warm_up(device)
    except BaseException:
        if not stopped.is_set() and not sys.is_finalizing():
            raise
