"""``python -m peronamalik smooth`` end to end against independent oracles.

Each case writes a real file (8/16-bit PNG, float32 TIFF, .npy, a 3-D TIFF volume, RGB),
runs the command in a subprocess, decodes the output with Pillow/tifffile/numpy (not the
project's reader) and compares it with:

* medpy's ``anisotropic_diffusion`` with the same κ, dt, iterations and diffusivity, per
  channel or on the whole array as the channel mode says.  A uniform ``--spacing h``
  enters through the README's identity: our spacing h with (κ, dt) is unit spacing with
  (h·κ, dt/h²), because the flux is g(|ΔI|/h)·ΔI/h².  (medpy's own ``voxelspacing``
  divides the conductance once by h instead, so it is not used.)
* ``coupled_flux`` below (no library code) for ``--coupled``;
* ``diffuse`` itself where no outside code has the option (``--sigma``, ``--scheme flux8``,
  per-axis spacing): then what is checked is that the CLI passes every option through.

Every case also lists what the output would be if the CLI ignored one of its options or
ran one iteration too few or too many, and asserts the output is far from each of those:
so the comparison is shown to catch exactly those mistakes.  The commands run
concurrently (each is one process importing torch).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import tifffile
from medpy.filter.smoothing import anisotropic_diffusion
from PIL import Image

from peronamalik import diffuse, estimate_parameters

OPTION = {"exp": 1, "rational": 2, "tukey": 3}
G_MAX = {"exp": 1.0, "rational": 1.0, "tukey": 0.5}


@dataclass(frozen=True)
class Settings:
    """The options of one ``smooth`` run; None means "not given" (the CLI's default)."""

    iterations: int = 20
    kappa: float | str = 0.1
    dt: float | None = None
    diffusivity: str = "exp"
    spacing: tuple[float, ...] | None = None
    channel_axis: int | str | None = None  # None: as read (RGB last), "none": no channels
    coupled: bool = False
    sigma: float = 0.0
    scheme: str = "flux"

    def arguments(self) -> list[str]:
        args = ["--iterations", str(self.iterations), "--kappa", str(self.kappa), "--diffusivity", self.diffusivity,
                "--scheme", self.scheme, "--sigma", str(self.sigma)]
        if self.dt is not None:
            args += ["--dt", repr(self.dt)]
        if self.spacing is not None:
            args += ["--spacing", ",".join(map(repr, self.spacing))]
        if self.channel_axis is not None:
            args += ["--channel-axis", str(self.channel_axis)]
        return args + (["--coupled"] if self.coupled else [])


def coupled_flux(u: np.ndarray, *, iterations: int, kappa: float, dt: float) -> np.ndarray:
    """Exp Perona-Malik of an H×W×C image whose channels share one conductance per face,
    g(|ΔI|) with |ΔI| the magnitude over the channels; zero flux through the border."""
    u = u.astype(np.float64)
    for _ in range(iterations):
        change = np.zeros_like(u)
        for axis in (0, 1):
            delta = np.diff(u, axis=axis)
            joint = np.sqrt((delta**2).sum(axis=-1, keepdims=True))
            flux = np.exp(-((joint / kappa) ** 2)) * delta
            pad = [(1, 1) if a == axis else (0, 0) for a in range(u.ndim)]
            change += np.diff(np.pad(flux, pad), axis=axis)  # flux in minus flux out
        u = u + dt * change
    return u


def oracle(image: np.ndarray, s: Settings, *, read_axis: int | None) -> np.ndarray:
    """The expected result of ``smooth`` with ``s`` on ``image`` (floats in [0, 1])."""
    axis = read_axis if s.channel_axis is None else (None if s.channel_axis == "none" else s.channel_axis)
    spatial_ndim = image.ndim - (axis is not None)
    uniform = s.spacing is None or len(set(s.spacing)) == 1
    if s.scheme != "flux" or s.sigma or not uniform:  # nothing outside the library has these
        spacing = None if s.spacing is None else (s.spacing[0] if len(s.spacing) == 1 else s.spacing)
        return diffuse(image, iterations=s.iterations, kappa=s.kappa, dt=s.dt, diffusivity=s.diffusivity,
                       scheme=s.scheme, spacing=spacing, channel_axis=axis, coupled=s.coupled, sigma=s.sigma)
    h = 1.0 if s.spacing is None else s.spacing[0]
    kappa = s.kappa
    dt = 1.0 / (G_MAX[s.diffusivity] * 2 * spatial_ndim / h**2) if s.dt is None else s.dt
    kappa, dt = h * kappa, dt / h**2  # the spacing identity (module docstring)
    if s.coupled:
        assert s.diffusivity == "exp" and axis is not None and axis % image.ndim == image.ndim - 1
        return coupled_flux(image, iterations=s.iterations, kappa=kappa, dt=dt)

    def medpy(u: np.ndarray) -> np.ndarray:
        return anisotropic_diffusion(u, niter=s.iterations, kappa=kappa, gamma=dt, option=OPTION[s.diffusivity])

    if axis is None:
        return medpy(image)
    return np.stack([medpy(c) for c in np.moveaxis(image, axis, 0)], axis=axis)


# ---------------------------------------------------------------------------- input files
def grey8() -> np.ndarray:
    return skimage.data.camera()[::4, ::4]  # 128², uint8


def grey16() -> np.ndarray:
    noise = np.random.default_rng(0).integers(0, 2000, (96, 96))
    return (skimage.data.camera()[::5, ::5][:96, :96].astype(np.int64) * 240 + noise).astype(np.uint16)


def grey_float() -> np.ndarray:
    return skimage.data.coins()[::4, ::4].astype(np.float32) / 255


def rgb8() -> np.ndarray:
    return skimage.data.astronaut()[::8, ::8]  # 64×64×3


def volume16() -> np.ndarray:
    v = np.random.default_rng(1).random((6, 20, 24))
    v[:, 5:15, 6:18] += 1.5  # a box: edges along every axis
    return (v / v.max() * 65535).astype(np.uint16)


def volume_float() -> np.ndarray:
    return (volume16() / 65535.0).astype(np.float32)


def write_png(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(path)


def write_tiff(path: Path, array: np.ndarray) -> None:
    tifffile.imwrite(path, array, photometric="rgb" if array.ndim == 3 and array.shape[-1] == 3 else "minisblack")


def decode(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix == ".tif":
        return tifffile.imread(path)
    with Image.open(path) as image:
        return np.asarray(image)


@dataclass(frozen=True)
class Case:
    """One command: the input (array, file kind), the settings, the output kind, and the
    mistakes the comparison must be able to tell from the right answer."""

    make: Callable[[], np.ndarray]
    suffix: str
    settings: Settings
    out_suffix: str
    read_axis: int | None = None  # the channel axis the reader reports
    mistakes: dict[str, Settings] = field(default_factory=dict)


def off_by_one(s: Settings) -> dict[str, Settings]:
    return {"one iteration fewer": replace(s, iterations=s.iterations - 1),
            "one iteration more": replace(s, iterations=s.iterations + 1)}


def ignored(s: Settings, *names: str) -> dict[str, Settings]:
    """The settings with each of ``names`` back at the CLI's default, one at a time."""
    return {f"--{n.replace('_', '-')} ignored": replace(s, **{n: Settings.__dataclass_fields__[n].default}) for n in names}


def case(make, suffix, out_suffix, settings, *names, read_axis=None, **extra: Settings) -> Case:
    mistakes = {**off_by_one(settings), **ignored(settings, *names), **extra}
    return Case(make, suffix, settings, out_suffix, read_axis, mistakes)


S = Settings
CASES = {
    "png8 rational spacing 2": case(
        grey8, ".png", ".png", S(iterations=4, kappa=0.08, dt=0.8, diffusivity="rational", spacing=(2.0,)),
        "kappa", "dt", "diffusivity", "spacing"),
    "png16 tukey kappa auto, default dt": case(
        grey16, ".png", ".png", S(iterations=6, kappa="auto", diffusivity="tukey"), "kappa", "diffusivity",
        **{"exp's default dt": S(iterations=6, kappa="auto", diffusivity="tukey", dt=0.25)}),
    "tiff float32 flux8 sigma": case(
        grey_float, ".tif", ".tif", S(iterations=5, kappa=0.05, scheme="flux8", sigma=1.0), "kappa", "scheme", "sigma"),
    "3-D tiff volume spacing 2": case(
        volume16, ".tif", ".tif", S(iterations=4, kappa=0.15, spacing=(2.0,)), "kappa", "spacing"),
    "3-D tiff volume spacing 2,1,0.5": case(
        volume_float, ".tif", ".npy", S(iterations=4, kappa=0.15, dt=0.09, spacing=(2.0, 1.0, 0.5)), "spacing",
        **{"spacing reversed": S(iterations=4, kappa=0.15, dt=0.09, spacing=(0.5, 1.0, 2.0))}),
    "rgb png per channel": case(
        rgb8, ".png", ".png", S(iterations=5, kappa=0.1, dt=0.2), read_axis=-1,
        **{"channels as an axis": S(iterations=5, kappa=0.1, dt=0.2, channel_axis="none"),
           "coupled": S(iterations=5, kappa=0.1, dt=0.2, coupled=True)}),
    "rgb png coupled": case(rgb8, ".png", ".png", S(iterations=5, kappa=0.1, coupled=True), "coupled", read_axis=-1),
    "rgb png --channel-axis none": case(
        rgb8, ".png", ".png", S(iterations=4, kappa=0.1, channel_axis="none"), "channel_axis", read_axis=-1),
    "channel-first npy --channel-axis 0 spacing 0.5": case(
        lambda: np.moveaxis(rgb8(), -1, 0).astype(np.float32) / 255, ".npy", ".npy",
        S(iterations=5, kappa=0.12, dt=0.05, spacing=(0.5,), channel_axis=0), "kappa", "dt", "spacing", "channel_axis"),
}


def as_unit(array: np.ndarray) -> np.ndarray:
    """The core's rule for the inputs here: unsigned integers by their range, floats as is."""
    if array.dtype.kind == "u":
        return array.astype(np.float64) / np.iinfo(array.dtype).max
    return array.astype(np.float64)


def scale_of(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if dtype.kind == "u" else 1.0


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """Run every case's command (four at a time); name → (process, output path)."""
    folder = tmp_path_factory.mktemp("smooth-oracle")
    jobs = {}
    for n, (name, c) in enumerate(CASES.items()):
        source, target = folder / f"in{n}{c.suffix}", folder / f"out{n}{c.out_suffix}"
        array = c.make()
        {".png": write_png, ".tif": write_tiff, ".npy": np.save}[c.suffix](source, array)
        jobs[name] = ([sys.executable, "-m", "peronamalik", "smooth", str(source), "-o", str(target),
                       *c.settings.arguments()], target)

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    with ThreadPoolExecutor(4) as pool:
        done = dict(zip(jobs, pool.map(run, (command for command, _ in jobs.values()))))
    return {name: (done[name], target) for name, (_, target) in jobs.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_smooth_output_equals_the_oracle(outputs, name: str) -> None:
    c = CASES[name]
    process, target = outputs[name]
    assert process.returncode == 0, process.stderr
    source = c.make()
    out = decode(target)
    assert out.dtype == source.dtype and out.shape == source.shape  # bit depth and layout kept
    scale = scale_of(out.dtype)
    # rounding to the output's integer step (half a step), plus float32 against medpy's float32
    tolerance = (0.5 if out.dtype.kind == "u" else 0.0) + 2e-5 * scale
    image = as_unit(source)
    settings, mistakes = c.settings, c.mistakes
    if settings.kappa == "auto":  # the CLI prints the kappa it chose; the oracle runs with it
        chosen = re.search(r"kappa=(\S+) iterations=(\d+)", process.stdout)
        assert chosen and int(chosen[2]) == settings.iterations, process.stdout
        kappa = float(chosen[1])
        assert kappa == pytest.approx(estimate_parameters(
            image, kappa="auto", iterations=settings.iterations, diffusivity=settings.diffusivity).kappa, rel=1e-3)
        settings = replace(settings, kappa=kappa)
        mistakes = {name: replace(wrong, kappa=kappa) if wrong.kappa == "auto" else wrong
                    for name, wrong in mistakes.items()}
    expected = oracle(image, settings, read_axis=c.read_axis) * scale
    assert np.abs(out - expected).max() <= tolerance, f"{name}: off by {np.abs(out - expected).max():.3g}"
    assert np.abs(out - image * scale).max() > 10 * tolerance  # it did smooth
    for mistake, wrong in mistakes.items():
        other = oracle(image, wrong, read_axis=c.read_axis) * scale
        assert np.abs(out - other).max() > 3 * tolerance, f"{name}: cannot tell the output from '{mistake}'"
