"""Issue 14: help and argument errors answer without loading torch (the bench times them)."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
from peronamalik.cli import main
code = main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "PIL", "imageio", "av", "cv2") if m in sys.modules)
print(code, heavy)
"""


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["art", "--help"], ["smooth", "--help"], ["video", "--help"], ["bench", "--help"],
     ["art", "--iterations", "many"], ["smooth"],
     ["smooth", "/nonexistent/scan.tif"], ["art", "/nonexistent/photo.jpg"], ["video", "/nonexistent/clip.mp4"]],
)
def test_help_and_usage_errors_do_not_import_torch(argv: list[str]) -> None:
    """Also an INPUT that is not there: refused at once, before torch loads."""
    run = subprocess.run([sys.executable, "-c", CHECK, *argv], capture_output=True, text=True, timeout=120)
    code, heavy = run.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == ("0" if "--help" in argv else "2"), run.stderr
    assert heavy == "[]"
    if "/nonexistent/" in argv[-1]:
        assert run.stderr.strip() == f"peronamalik: error: input {argv[-1]} does not exist"


def test_import_peronamalik_is_lazy() -> None:
    """``import peronamalik`` does not load torch; the first public name does."""
    code = "import sys, peronamalik; a = 'torch' in sys.modules; peronamalik.diffuse; print(a, 'torch' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.stdout.split() == ["False", "True"], run.stderr
