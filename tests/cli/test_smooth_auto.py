"""``peronamalik smooth --kappa auto --iterations auto``: the chosen values on one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.util import img_as_float

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


@pytest.fixture
def sky_and_grass(tmp_path: Path) -> tuple[Path, np.ndarray]:
    """camera's sky beside its grainy corner (grain as strong as noise of 0.02, which reads
    as noise), under Gaussian noise of 0.02: the noisy picture as .npy, and the clean one."""
    camera = img_as_float(data.camera())
    clean = np.hstack([camera[20:148, 300:428], camera[320:448, 320:448]])
    path = tmp_path / "sky-and-grass.npy"
    np.save(path, clean + np.random.default_rng(0).normal(0.0, 0.02, clean.shape))
    return path, clean


def test_the_noise_read_in_a_region_is_what_auto_chooses_for(
    tmp_path: Path, sky_and_grass: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    """--noise-region: the noise line read in that part (the sky), given for the whole; it
    spares the grass's grain that the whole picture's reading smooths away."""
    path, clean = sky_and_grass
    args = ["smooth", str(path), "--kappa", "auto", "--iterations", "auto"]
    assert main([*args, "-o", str(tmp_path / "region.npy"), "--noise-region", ":,:128"]) == 0
    noisy = np.load(path)
    line = estimate_parameters(noisy[:, :128], iterations=0).noise_line
    chosen = estimate_parameters(noisy, noise=line)
    assert capsys.readouterr().out.strip().splitlines() == [chosen.describe() + ", noise read in :,:128"]
    region = np.load(tmp_path / "region.npy")
    np.testing.assert_allclose(region, diffuse(noisy, **chosen.as_options()), rtol=0, atol=1e-6)
    assert main([*args, "-o", str(tmp_path / "whole.npy")]) == 0
    psnr = {name: -10 * np.log10(np.mean((np.load(tmp_path / f"{name}.npy") - clean) ** 2)) for name in ("region", "whole")}
    assert psnr["region"] > psnr["whole"] + 1.0, psnr


@pytest.mark.parametrize(("extra", "fragment"), [
    (["--noise-region", "0:128", "--kappa", "auto"], "has 1 START:STOP for a picture of 2 axes (128×256)"),
    (["--noise-region", ":,:,:", "--kappa", "auto"], "has 3 START:STOP"),
    (["--noise-region", "0:10,:", "--kappa", "auto"], "keeps 10 of the 128 pixels along axis 0"),
    (["--noise-region", "5:3,:", "--kappa", "auto"], "keeps 0 of the 128 pixels"),
    (["--noise-region", "a:b", "--kappa", "auto"], "is not START:STOP per axis"),
    (["--noise-region", "0:5:1,:", "--kappa", "auto"], "is not START:STOP per axis"),
    (["--noise-region", ":,:128"], "--noise-region is what the 'auto' parameters are chosen for"),
    (["--noise-region", ":,:128", "--kappa", "auto", "--noise", "0.02"], "give one of them"),
])
def test_a_noise_region_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, sky_and_grass: tuple[Path, np.ndarray], capsys: pytest.CaptureFixture[str], extra: list[str],
    fragment: str,
) -> None:
    path, _ = sky_and_grass
    assert main(["smooth", str(path), "-o", str(tmp_path / "e.npy"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0] and "Traceback" not in err[0], err
    assert not (tmp_path / "e.npy").exists()


def test_a_noise_region_without_noise_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A part that is constant reads no noise: refused, not smoothed for no noise at all."""
    path = tmp_path / "half-flat.npy"
    np.save(path, np.pad(np.random.default_rng(0).normal(0.5, 0.02, (64, 64)), ((0, 0), (0, 64)), constant_values=0.5))
    args = ["smooth", str(path), "-o", str(tmp_path / "f.npy"), "--kappa", "auto", "--noise-region", ":,64:"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "reads no noise" in err[0]
    assert not (tmp_path / "f.npy").exists()
