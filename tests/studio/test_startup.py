"""``peronamalik studio`` refuses bad startup input the way every command does: one
``peronamalik: error:`` line, exit code 2, no traceback, before the address is printed or
any thread starts (a busy port, an unknown host, a bad or missing device, a volume)."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import torch

from peronamalik._validate import InputError
from peronamalik.core.arrays import resolve_device
from peronamalik.studio.server import listen, serve
from tests.cli.runs import run_peronamalik


def free_port() -> int:
    """A loopback port nobody listens on (for the runs meant to fail before binding)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_studio(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real CLI; a studio that starts anyway would run until the timeout (a failure)."""
    return run_peronamalik("studio", "--no-browser", *args, cwd=cwd, timeout=120)


def assert_refused(run: subprocess.CompletedProcess[str], *named: str) -> str:
    """Exit 2, one error line naming the problem, no traceback, no URL; the line."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert run.stdout == ""  # the address is printed only once the studio listens
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("peronamalik: error: "), lines[0]
    for text in named:
        assert text in lines[0], lines[0]
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr
    return lines[0]


def test_a_port_in_use_is_one_line_before_the_address(live_server, tmp_path):
    port = urlsplit(live_server).port  # a running studio holds it
    line = assert_refused(run_studio("--port", port, cwd=tmp_path))
    assert line == f"peronamalik: error: cannot serve on 127.0.0.1:{port}: address already in use (try another --port)"
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_host_is_one_line_without_the_network_warning(tmp_path):
    line = assert_refused(run_studio("--host", "bad.invalid", "--port", free_port(), cwd=tmp_path),
                          "cannot serve on bad.invalid:", "bad.invalid is not a known host name or address")
    assert "warning" not in line
    assert list(tmp_path.iterdir()) == []


BAD_DEVICES = ["foo", "cuda:99", pytest.param("cuda", marks=pytest.mark.skipif(
    torch.cuda.is_available(), reason="CUDA is available here"))]


@pytest.mark.parametrize("device", BAD_DEVICES)
def test_a_bad_or_missing_device_is_one_line_before_the_server_starts(device, tmp_path):
    line = assert_refused(run_studio("--device", device, "--port", free_port(), cwd=tmp_path), "device")
    with pytest.raises(InputError) as expected:  # the message `smooth` and `art` give
        resolve_device(device, None)
    assert line == f"peronamalik: error: {expected.value}"
    assert list(tmp_path.iterdir()) == []


def test_a_volume_is_one_line(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "vol.tif", np.random.default_rng(0).integers(0, 256, (5, 40, 50), dtype=np.uint8))
    assert_refused(run_studio("vol.tif", "--port", free_port(), cwd=tmp_path),
                   "vol.tif is a volume, not a 2-D image")
    assert [path.name for path in tmp_path.iterdir()] == ["vol.tif"]


def studio_threads() -> set[str]:
    return {thread.name for thread in threading.enumerate() if thread.name.startswith("peronamalik-studio")}


def test_serve_checks_the_device_and_binds_before_any_thread_starts():
    before = studio_threads()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(InputError, match="address already in use"):
            serve(host="127.0.0.1", port=port, open_browser=False, device="cpu")
    with pytest.raises(InputError, match="device"):
        serve(host="127.0.0.1", port=free_port(), open_browser=False, device="foo")
    assert studio_threads() == before


def test_listen_refuses_a_held_port_until_it_is_closed():
    port = free_port()
    sockets = listen("127.0.0.1", port)
    try:
        assert [sock.getsockname()[:2] for sock in sockets] == [("127.0.0.1", port)]
        with pytest.raises(InputError, match=f"cannot serve on 127.0.0.1:{port}: address already in use"):
            listen("127.0.0.1", port)
    finally:
        for sock in sockets:
            sock.close()
    listen("127.0.0.1", port)[0].close()  # free again once closed
