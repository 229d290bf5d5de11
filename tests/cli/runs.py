"""Running ``peronamalik`` as users do, for the CLI tests: a subprocess with its output
captured, or one whose stderr is a terminal (what a user sees of the progress bar), and what
it left behind."""

from __future__ import annotations

import codecs
import errno
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from peronamalik.cli import main

FAST = ["--iterations", "40", "--every", "10", "--size", "48"]
#: A quick art run for batches (several files at once).
FAST_ART = ["--preset", "ink", "--iterations", "20", "--every", "10", "--size", "32"]


def run_peronamalik(command: str, *args: object, cwd: Path, timeout: int = 300,
                    env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``peronamalik COMMAND ARGS`` in a subprocess in ``cwd`` on one OpenMP thread, its
    output captured; ``env``: added to this one's."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "peronamalik", command, *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env,
    )  # fmt: skip


def run_cli(*args: object, cwd: Path, timeout: int = 180) -> subprocess.CompletedProcess[str]:
    """``peronamalik art ARGS`` (:func:`run_peronamalik`)."""
    return run_peronamalik("art", *args, cwd=cwd, timeout=timeout)


def gif_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a GIF, as RGB arrays."""
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]


class TerminalReader:
    """The leader side of a pseudo-terminal, read as text: what the user of a terminal sees of
    the child's stderr (the tqdm bar's redraws, several a second; a log gets a line only every
    ``LOG_SECONDS``)."""

    def __init__(self, leader: int) -> None:
        self.leader, self.decoder = leader, codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read(self, size: int) -> str:
        """Up to ``size`` bytes as they come, "" once the child's side is closed and read."""
        try:
            return self.decoder.decode(os.read(self.leader, size))
        except OSError as error:  # EIO: every process holding the follower side has exited
            if error.errno != errno.EIO:
                raise
            return ""

    def rest(self, timeout: float) -> str:
        """All that is left, read as it comes (a child blocked on a full terminal would never
        exit), until the child's side is closed; TimeoutError after ``timeout`` seconds."""
        text, deadline = "", time.monotonic() + timeout
        while True:
            if not select.select([self.leader], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise TimeoutError(f"the child's stderr still open after {timeout} s: {text[-300:]}")
            chunk = self.read(65536)
            if not chunk:
                self.close()
                return text
            text += chunk

    def close(self) -> None:
        """Close the leader side (once; ``rest`` does it at the end of the output)."""
        if self.leader >= 0:
            os.close(self.leader)
            self.leader = -1


def start_cli(*args, cwd, ignore_hangup: bool = False) -> subprocess.Popen:
    """``peronamalik ARGS`` in a subprocess on the reference path (the same path as the
    in-process oracle, whatever the kernel cache holds), its stderr a terminal, as when run by
    hand (``process.stderr``: a :class:`TerminalReader`).  It starts with the stop signals'
    default handlers, as from a terminal, whatever this test run inherited (under ``nohup`` a
    child inherits an ignored SIGHUP); with ``ignore_hangup``, as under ``nohup``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PERONAMALIK_FUSED": "0", "PYTHONUNBUFFERED": "1"}

    def as_launched() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN if ignore_hangup else signal.SIG_DFL)

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 24 rows, 100 columns
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "peronamalik", *map(str, args)], cwd=cwd, stderr=follower, env=env,
            preexec_fn=as_launched,
        )
    finally:
        os.close(follower)
    process.stderr = TerminalReader(leader)
    return process


def finish(process: subprocess.Popen, timeout: float = 120) -> str:
    """Wait for a :func:`start_cli` process to exit; the rest of what it wrote on stderr."""
    text = process.stderr.rest(timeout)
    process.wait(timeout=timeout)
    return text


def wait_for_progress(process: subprocess.Popen, count: int) -> str:
    """Read the progress bar on stderr until it shows ``count`` steps done (no fixed sleep)."""
    seen, deadline = "", time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        seen += process.stderr.read(8)
        done = [int(n) for n in re.findall(r"(\d+)/\d+ \[", seen)]
        if done and done[-1] >= count:
            return seen
    pytest.fail(f"no progress to {count}: {seen[-300:]}")


def hidden_leftovers(folder: Path) -> list[str]:
    """The hidden files left in ``folder`` (a temporary output that was never renamed)."""
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``peronamalik smooth ARGS`` in a subprocess, as a user runs it."""
    command = [sys.executable, "-m", "peronamalik", "smooth", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def run_here(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str]:
    """``peronamalik smooth ARGS`` through ``main()`` in this process: exit code and stderr."""
    code = main(["smooth", *map(str, args)])
    return code, capsys.readouterr().err


def assert_one_line(stderr: str, *fragments: str) -> None:
    """``stderr`` is one line holding every fragment, and no traceback."""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for fragment in fragments:
        assert fragment in lines[0]


def lines(stderr: str) -> list[str]:
    """stderr without the progress bar's redraws."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.strip() and "file/s]" not in line]


def photos(folder: Path, count: int, suffix: str = ".png") -> list[Path]:
    """``count`` noisy photos and one corrupt file with the same suffix."""
    folder.mkdir()
    made = []
    for i in range(count):
        pixels = (np.random.default_rng(i).random((24, 32, 3)) * 255).astype(np.uint8)
        made.append(folder / f"photo{i}{suffix}")
        Image.fromarray(pixels).save(made[-1])
    (folder / f"broken{suffix}").write_bytes(b"\x89PNG but not really an image")
    return made
