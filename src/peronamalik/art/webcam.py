"""The "on drugs" mode live over a webcam: an OpenCV camera as the source of
:func:`~peronamalik.art.video.stylized` and a window as an extra sink, optionally recorded."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from peronamalik._validate import InputError
from peronamalik.art.animate import RunSpec, check_render_output, write_stream
from peronamalik.art.video import resolve_video_run, stylized
from peronamalik.art.video_file import input_record, with_fps

WINDOW_TITLE = "peronamalik video (q or Esc to stop)"


def _opencv() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise InputError("--webcam needs OpenCV: pip install opencv-python") from exc
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:  # no "[ WARN ] can't open camera" lines on stderr
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    return cv2


def open_window(title: str = WINDOW_TITLE) -> str:
    """Open the OpenCV window the live result is shown in; returns its name.

    Raises
    ------
    ValueError
        "no display/GUI available": OpenCV without highgui (the ``-headless`` wheels), no
        ``DISPLAY``/``WAYLAND_DISPLAY`` on Linux, or a window that cannot be opened.
    """
    cv2 = _opencv()
    gui = [line.split(":", 1)[1].strip() for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:")]
    if gui and gui[0].upper() == "NONE":
        raise InputError("no display/GUI available: this OpenCV is a headless build; pip install opencv-python")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise InputError("no display/GUI available: neither DISPLAY nor WAYLAND_DISPLAY is set")
    try:
        cv2.namedWindow(title, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise InputError(f"no display/GUI available: {str(exc).strip().splitlines()[-1]}") from exc
    return title


def open_camera(index: int = 0) -> Any:
    """``cv2.VideoCapture(index)``, opened.

    Raises
    ------
    ValueError
        ``index`` is not a non-negative integer, or no camera answers at it.
    """
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InputError(f"webcam must be a camera index >= 0, got {index!r}")
    cv2 = _opencv()
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise InputError(f"no camera available at index {index}")
    return capture


def camera_frames(capture: Any) -> Iterator[np.ndarray]:
    """RGB frames from an opened capture until it stops delivering."""
    cv2 = _opencv()
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def shown(frames: Iterable[np.ndarray], window: str) -> Iterator[np.ndarray]:
    """Show each frame in ``window`` and pass it on; stop at q, Esc or a closed window."""
    cv2 = _opencv()
    for frame in frames:
        cv2.imshow(window, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(window, cv2.WND_PROP_VISIBLE) < 1:
            return
        yield frame


def run_webcam(
    index: int = 0,
    output: str | os.PathLike[str] | None = None,
    *,
    fps: float | None = None,
    overwrite: bool = False,
    **options: Any,
) -> Path | None:
    """Show :func:`stylize_frames` of camera ``index`` live, optionally recording ``output``.

    The same stream as :func:`render_video`, with an OpenCV camera as the source and a
    window as an extra sink; q, Esc or Ctrl-C stops (Ctrl-C while recording raises
    :class:`~peronamalik.art.animate.RenderInterrupted` with a valid partial file).  Every
    result is shown (the seed showed every second one).  ``fps`` defaults to the camera's (25 when
    it does not say).  Returns ``output`` (None when nothing is recorded).

    Raises
    ------
    ValueError
        No display/GUI, no camera, bad settings or output (checked before the camera opens).
    """
    if output is not None:
        check_render_output(output, overwrite=overwrite)
    spec = resolve_video_run(**options)
    window, capture, cv2 = open_window(), None, _opencv()
    try:
        capture = open_camera(index)
        spec = with_fps(spec, fps or capture.get(cv2.CAP_PROP_FPS) or 25.0)
        frames = shown(stylized(camera_frames(capture), spec), window)
        return record_live(frames, output, spec, f"webcam:{index}", overwrite=overwrite)
    finally:
        if capture is not None:
            capture.release()
        cv2.destroyAllWindows()


def record_live(
    frames: Iterable[np.ndarray], output: str | os.PathLike[str] | None, spec: RunSpec, reference: str,
    *, overwrite: bool = False,
) -> Path | None:
    """Drain the live stream ``frames``: into ``output`` with its sidecar (``reference``
    names the source there), or nowhere (then Ctrl-C just stops).  Returns ``output``."""
    if output is not None:
        return write_stream(iter(frames), output, spec, input_record(reference, None), overwrite=overwrite)
    try:
        for _ in frames:
            pass
    except KeyboardInterrupt:  # nothing to save: Ctrl-C is just another way to stop
        pass
    return None
