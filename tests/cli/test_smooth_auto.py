"""``peronamalik smooth --kappa auto --iterations auto``: the chosen values on one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from peronamalik import diffuse, estimate_parameters
from peronamalik.cli import main
from peronamalik.io.images import read_image


@pytest.fixture
def noisy_png(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    clean = np.kron(rng.random((6, 6)), np.ones((12, 12)))
    noisy = np.clip(clean + rng.normal(0.0, 0.06, clean.shape), 0, 1)
    path = tmp_path / "noisy.png"
    Image.fromarray((noisy * 255).round().astype(np.uint8)).save(path)
    return path


def test_auto_values_are_printed_on_one_line(
    tmp_path: Path, noisy_png: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.png"
    assert main(["smooth", str(noisy_png), "-o", str(out), "--kappa", "auto", "--iterations", "auto"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    image = read_image(noisy_png).array
    chosen = estimate_parameters(image)
    assert printed == [chosen.describe()]
    assert f"kappa={chosen.kappa:.6g}" in printed[0] and f"iterations={chosen.iterations}" in printed[0]
    expected = np.clip(np.asarray(diffuse(image, **chosen.as_options()), np.float64), 0, 1) * 255
    assert np.abs(read_image(out).array - expected).max() <= 0.5 + 1e-3


def test_quiet_hides_the_line_and_fixed_values_print_nothing(
    tmp_path: Path, noisy_png: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["smooth", str(noisy_png), "--kappa", "auto", "--iterations", "auto", "--sigma", "auto"]
    assert main([*args, "-o", str(tmp_path / "a.png"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["smooth", str(noisy_png), "-o", str(tmp_path / "b.png"), "--iterations", "3"]) == 0
    assert capsys.readouterr().out == ""


def test_bad_auto_keyword_is_one_line_and_exit_2(
    tmp_path: Path, noisy_png: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["smooth", str(noisy_png), "-o", str(tmp_path / "c.png"), "--iterations", "automatic"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--iterations" in err[0] and "'auto'" in err[0]
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(("given", "noise"), [("0.03", 0.03), ("0.0018,0.0001", (0.0018, 0.0001))])
def test_a_given_noise_is_what_auto_chooses_for(
    tmp_path: Path, noisy_png: Path, capsys: pytest.CaptureFixture[str], given: str, noise: float | tuple[float, float]
) -> None:
    """--noise SIGMA, or A,B: the variance line A·intensity + B (Poisson-Gaussian)."""
    out = tmp_path / "out.png"
    args = ["smooth", str(noisy_png), "-o", str(out), "--kappa", "auto", "--iterations", "auto", "--noise", given]
    assert main(args) == 0
    image = read_image(noisy_png).array
    chosen = estimate_parameters(image, noise=noise)
    assert capsys.readouterr().out.strip().splitlines() == [chosen.describe()]
    level = noise if isinstance(noise, float) else np.sqrt(np.mean(noise[0] * image / 255 + noise[1]))
    assert f"noise level {level:.3g}" in chosen.describe() and chosen.kappa != estimate_parameters(image).kappa
    expected = np.clip(np.asarray(diffuse(image, **chosen.as_options()), np.float64), 0, 1) * 255
    assert np.abs(read_image(out).array - expected).max() <= 0.5 + 1e-3


def test_a_poisson_line_is_printed_as_noise_takes_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Poisson-like noise: the line prints its variance line as ``--noise A,B``; pasted back
    (4 significant digits), the same stopping time and kappa within 0.1 %."""
    rng = np.random.default_rng(3)
    clean = np.kron(rng.random((6, 6)), np.ones((16, 16))) * 0.8 + 0.1
    path = tmp_path / "counts.png"
    Image.fromarray((rng.poisson(clean * 200) / 200 * 65535).round().astype(np.uint16)).save(path)
    args = ["smooth", str(path), "--kappa", "auto", "--iterations", "auto"]
    assert main([*args, "-o", str(tmp_path / "a.png")]) == 0
    printed = capsys.readouterr().out.strip()
    line = re.search(r"as --noise ([^\s,]+,[^\s,)]+)", printed)
    assert line is not None, printed
    assert main([*args, "-o", str(tmp_path / "b.png"), "--noise", line.group(1)]) == 0
    again = capsys.readouterr().out.strip()
    (kappa, iterations), (kappa_again, iterations_again) = (
        re.search(r"kappa=(\S+) iterations=(\d+)", text).groups() for text in (printed, again)
    )
    assert iterations_again == iterations and float(kappa_again) == pytest.approx(float(kappa), rel=1e-3)


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--noise", "0.03"], "--noise"),  # nothing is 'auto': it would do nothing
    (["--noise", "-1", "--kappa", "auto"], "noise must be"),
    (["--noise", "lots", "--kappa", "auto"], "--noise"),
    (["--noise", "0.001,0,1", "--kappa", "auto"], "--noise"),
    (["--noise", "0,-0.001", "--kappa", "auto"], "noise's b (with a = 0) must be"),
])
def test_a_noise_level_that_cannot_be_used_is_one_line_and_exit_2(
    tmp_path: Path, noisy_png: Path, capsys: pytest.CaptureFixture[str], extra: list[str], fragment: str
) -> None:
    assert main(["smooth", str(noisy_png), "-o", str(tmp_path / "d.png"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "d.png").exists()
