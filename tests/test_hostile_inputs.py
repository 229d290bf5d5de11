"""Hostile inputs, table-driven: the audit's cases (issue 15) and their neighbours.

Every CLI case must end in exactly one ``peronamalik: error:`` line on stderr, exit code 2,
no traceback, and no file created or changed.  Every library case must raise
:class:`peronamalik.InputError` (a ``ValueError``; wrong types also a ``TypeError``) before
doing any work.  A new finding goes in a table here, so the next audit starts where this
one ended.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from peronamalik import DiffusionParams, InputError, PeronaMalik, diffuse, estimate_kappa, estimate_parameters
from peronamalik.dask import diffuse as dask_diffuse
from peronamalik.art import ArtConfig
from peronamalik.art.config import load_config_file, split_sidecar
from peronamalik.cli import main

DEEP = 100_000  # nesting that overflows a recursive parser


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its content (hidden temporaries included)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with good inputs and hostile ones; the commands run inside it."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    np.save(tmp_path / "grey.npy", rng.random((16, 20)).astype(np.float32))
    np.save(tmp_path / "big.npy", np.zeros((1001, 1000), np.uint8))  # 1e9 iterations: 1.001e15 voxel-steps
    nan = rng.random((8, 8))
    nan[2, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "inf.npy", np.full((8, 8), np.inf))
    np.save(tmp_path / "empty.npy", np.zeros((0, 5), np.float32))
    np.save(tmp_path / "scalar.npy", np.array(0.5))
    np.save(tmp_path / "complex.npy", np.ones((4, 4), np.complex64))
    np.save(tmp_path / "line.npy", rng.random(9))
    np.save(tmp_path / "volume.npy", rng.random((4, 8, 8)))
    with open(tmp_path / "huge.npy", "wb") as handle:  # a header promising 1e10 samples, no data
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)}
        )
    (tmp_path / "text.png").write_text("not an image\n")
    (tmp_path / "zero.png").write_bytes(b"")
    (tmp_path / "cut.png").write_bytes((tmp_path / "photo.png").read_bytes()[:200])
    (tmp_path / "folder").mkdir()
    (tmp_path / "keep.png").write_bytes(b"an existing output, never touched without --overwrite")
    configs = {
        "digits.json": '{"iterations": ' + "9" * 4000 + "}",
        "lr-digits.json": '{"lr": ' + "9" * 4000 + "}",
        "too-many-digits.json": '{"iterations": ' + "9" * 5000 + "}",
        "nested.json": '{"config": ' + "[" * DEEP + "]" * DEEP + "}",
        "nested.toml": "a = " + "[" * DEEP + "]" * DEEP,
        "null-config.json": '{"config": null}',
        "list-config.json": '{"config": [1, 2]}',
        "string-input.json": json.dumps({"seed": 1, "input": "photo.png", "config": {"iterations": 5}}),
        "missing-input.json": json.dumps({"input": {"path": "gone.png", "sha256": "0" * 64}, "config": {}}),
        "changed-input.json": json.dumps({"input": {"path": "photo.png", "sha256": "0" * 64}, "config": {}}),
        "bad-seed.json": json.dumps({"seed": "seven", "config": {}}),
        "top-list.json": "[1, 2, 3]",
        "bad.toml": "lr = = 1",
        "bad.json": "{lr: 1",
        "unknown.json": '{"nope": 1}',
        "nan.json": '{"lr": NaN}',
        "inf.json": '{"fps": Infinity}',
        "wrong-type.json": '{"iterations": "many"}',
        "bool-size.json": '{"size": true}',
        "weights.json": '{"loss_weights": [1, 2]}',
        "both-names.json": '{"k": 0.2, "kappa": 0.3}',
    }
    for name, text in configs.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "latin1.toml").write_bytes("lr = 1 # caf\xe9\n".encode("latin-1"))
    return tmp_path


SMOOTH = ["smooth", "grey.npy", "-o", "out.npy"]
ART = ["art", "photo.png", "-o", "out.gif", "--iterations", "4", "--every", "2", "--size", "16"]

CLI_CASES = {
    # issue 15.15: tracebacks where one line was promised
    "kappa 1e-300 (C kernel rejected it)": [*SMOOTH, "--kappa", "1e-300"],
    "spacing 1e-200 (ZeroDivisionError)": [*SMOOTH, "--spacing", "1e-200"],
    "device meta": [*SMOOTH, "--device", "meta"],
    "art fps 1e-9": [*ART, "--fps", "1e-9"],
    "set lr=1e300": [*ART, "--set", "lr=1e300"],
    "set iterations=1e400": [*ART, "--set", "iterations=1e400"],
    "config with a 4000-digit integer": [*ART, "--config", "digits.json"],
    "config with a 4000-digit float field": [*ART, "--config", "lr-digits.json"],
    "config with a 5000-digit integer": [*ART, "--config", "too-many-digits.json"],
    "deeply nested JSON": [*ART, "--config", "nested.json"],
    "deeply nested TOML": [*ART, "--config", "nested.toml"],
    "sidecar input is a string": ["art", "-o", "out.gif", "--config", "string-input.json"],
    "config null": [*ART, "--config", "null-config.json"],
    # issue 15.14: runaway sizes, refused before allocating
    "smooth sigma 1e6": [*SMOOTH, "--sigma", "1e6"],
    "smooth sigma 1e7": [*SMOOTH, "--sigma", "1e7"],
    "art size 100000": [*ART, "--size", "100000"],
    "smooth iterations 1e20": [*SMOOTH, "--iterations", str(10**20)],
    "art iterations 1e20": [*ART, "--iterations", str(10**20)],
    "smooth iterations 1e20 as a float": [*SMOOTH, "--iterations", "1e20"],
    "work beyond 1e15 voxel-steps": ["smooth", "big.npy", "-o", "out.npy", "--iterations", str(10**9)],
    # parameters
    "kappa nan": [*SMOOTH, "--kappa", "nan"],
    "kappa inf": [*SMOOTH, "--kappa", "inf"],
    "kappa 1e400": [*SMOOTH, "--kappa", "1e400"],
    "kappa negative": [*SMOOTH, "--kappa", "-1"],
    "kappa a word": [*SMOOTH, "--kappa", "fast"],
    "dt above the stable limit": [*SMOOTH, "--dt", "10"],
    "dt zero": [*SMOOTH, "--dt", "0"],
    "dt nan": [*SMOOTH, "--dt", "nan"],
    "dt 1e-320 (0 in float32: a silent no-op)": [*SMOOTH, "--dt", "1e-320"],
    "sigma negative": [*SMOOTH, "--sigma", "-1"],
    "sigma nan": [*SMOOTH, "--sigma", "nan"],
    "spacing zero": [*SMOOTH, "--spacing", "0"],
    "spacing 1e300": [*SMOOTH, "--spacing", "1e300"],
    "spacing count": [*SMOOTH, "--spacing", "1,2,3"],
    "spacing text": [*SMOOTH, "--spacing", "a,b"],
    "channel axis out of range": [*SMOOTH, "--channel-axis", "5"],
    "seed scheme with sigma": [*SMOOTH, "--scheme", "seed", "--sigma", "1"],
    "inv without the seed scheme": [*SMOOTH, "--diffusivity", "inv"],
    "flux8 on a 1-D array": ["smooth", "line.npy", "-o", "out.npy", "--scheme", "flux8"],
    "device tpu": [*SMOOTH, "--device", "tpu"],
    "device cuda:99": [*SMOOTH, "--device", "cuda:99"],
    "iterations negative": [*SMOOTH, "--iterations", "-1"],
    "art fps 0": [*ART, "--fps", "0"],
    "art fps nan": [*ART, "--fps", "nan"],
    "art size 3": [*ART, "--size", "3"],
    "art every 0": [*ART, "--every", "0"],
    "art seed negative": [*ART, "--seed", "-1"],
    "art seed 2**70": [*ART, "--seed", str(2**70)],
    "art device meta": [*ART, "--device", "meta"],
    "art preset bogus": [*ART, "--preset", "bogus"],
    "set without =": [*ART, "--set", "lr"],
    "set unknown field": [*ART, "--set", "nope=1"],
    "set old name, bad value": [*ART, "--set", "k=-1"],
    "set kappa NaN": [*ART, "--set", "kappa=NaN"],
    "set weight_decay 1e300": [*ART, "--set", "weight_decay=1e300"],
    "set unknown loss term": [*ART, "--set", "loss_weights.bogus=1"],
    "set momentum 1": [*ART, "--set", "momentum=1"],
    # config files
    "config missing": [*ART, "--config", "absent.json"],
    "config is a folder": [*ART, "--config", "folder"],
    "config top-level list": [*ART, "--config", "top-list.json"],
    "config bad TOML": [*ART, "--config", "bad.toml"],
    "config bad JSON": [*ART, "--config", "bad.json"],
    "config not UTF-8": [*ART, "--config", "latin1.toml"],
    "config unknown field": [*ART, "--config", "unknown.json"],
    "config NaN": [*ART, "--config", "nan.json"],
    "config Infinity": [*ART, "--config", "inf.json"],
    "config wrong type": [*ART, "--config", "wrong-type.json"],
    "config bool size": [*ART, "--config", "bool-size.json"],
    "config weights a list": [*ART, "--config", "weights.json"],
    "config old and new name": [*ART, "--config", "both-names.json"],
    "config list": [*ART, "--config", "list-config.json"],
    "sidecar seed a string": [*ART, "--config", "bad-seed.json"],
    "sidecar input missing": ["art", "-o", "out.gif", "--config", "missing-input.json"],
    "sidecar input changed": ["art", "-o", "out.gif", "--config", "changed-input.json"],
    "video config null": ["video", "photo.png", "-o", "out.mp4", "--config", "null-config.json"],
    "video input missing": ["video", "absent.mp4", "-o", "out.mp4"],
    # input files
    "input missing": ["smooth", "absent.png", "-o", "out.png"],
    "input a folder": ["smooth", "folder", "-o", "out.png"],
    "input text": ["smooth", "text.png", "-o", "out.png"],
    "input empty file": ["smooth", "zero.png", "-o", "out.png"],
    "input truncated PNG": ["smooth", "cut.png", "-o", "out.png"],
    "input NaN": ["smooth", "nan.npy", "-o", "out.npy"],
    "input inf": ["smooth", "inf.npy", "-o", "out.npy"],
    "input empty array": ["smooth", "empty.npy", "-o", "out.npy"],
    "input 0-d array": ["smooth", "scalar.npy", "-o", "out.npy"],
    "input complex": ["smooth", "complex.npy", "-o", "out.npy"],
    "input huge header": ["smooth", "huge.npy", "-o", "out.npy"],
    "art input a folder": ["art", "folder", "-o", "out.gif"],
    "art input text": ["art", "text.png", "-o", "out.gif"],
    # outputs
    "output exists": ["smooth", "photo.png", "-o", "keep.png"],
    "art output exists": ["art", "photo.png", "-o", "keep.png", "--iterations", "2"],
    "output unknown extension": ["smooth", "photo.png", "-o", "out.xyz"],
    "output in a missing folder": ["smooth", "photo.png", "-o", "nowhere/out.png"],
    "output a folder": ["smooth", "photo.png", "-o", "folder"],
    "compare is the output": ["smooth", "photo.png", "-o", "out.png", "--compare", "out.png"],
    "compare is the input, even with --overwrite": [
        "smooth", "photo.png", "-o", "out.png", "--compare", "photo.png", "--overwrite"
    ],
    "art output unknown extension": [*ART[:2], "-o", "out.xyz"],
    "volume to PNG": ["smooth", "volume.npy", "-o", "out.png"],
}


@pytest.mark.parametrize("argv", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_refuses_in_one_line(workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    before = files(workdir)
    code = main(argv)
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, err
    assert "Traceback" not in err
    errors = [line for line in lines if line.startswith("peronamalik: error:")]
    assert len(errors) == 1 and all(line.startswith("peronamalik: ") for line in lines), err
    assert len(errors[0]) < 400, errors[0]
    assert files(workdir) == before  # nothing written, nothing replaced, no temporary left


GOOD = np.random.default_rng(1).random((8, 9)).astype(np.float32)

LIBRARY_CASES = {
    "NaN image": lambda: diffuse(np.full((4, 4), np.nan)),
    "inf tensor": lambda: diffuse(torch.full((4, 4), math.inf)),
    "empty": lambda: diffuse(np.zeros((3, 0))),
    "0-d": lambda: diffuse(np.float32(1.0) * np.ones(())),
    "list": lambda: diffuse([[0.0, 1.0]]),
    "bool": lambda: diffuse(GOOD > 0.5),
    "object": lambda: diffuse(np.array([[None]], dtype=object)),
    "kappa 1e-300": lambda: diffuse(GOOD, kappa=1e-300),
    "kappa 10**400": lambda: diffuse(GOOD, kappa=10**400),
    "kappa tensor of two": lambda: diffuse(GOOD, kappa=torch.tensor([0.1, 0.2])),
    "kappa complex tensor": lambda: diffuse(GOOD, kappa=torch.tensor(0.1 + 0j)),
    "spacing 1e-200": lambda: diffuse(GOOD, spacing=1e-200),
    "dt 1e-320": lambda: diffuse(GOOD, dt=1e-320),
    "spacing a string": lambda: diffuse(GOOD, spacing="1"),
    "spacing a set": lambda: diffuse(GOOD, spacing={1.0, 2.0}),
    "sigma 1e7": lambda: diffuse(GOOD, sigma=1e7),
    "iterations 10**20": lambda: diffuse(GOOD, iterations=10**20),
    "iterations float": lambda: diffuse(GOOD, iterations=2.0),
    "device meta": lambda: diffuse(GOOD, device="meta"),
    "device object": lambda: diffuse(GOOD, device=object()),
    "coupled a string": lambda: diffuse(GOOD, coupled="no"),
    "channel_axis bool": lambda: diffuse(GOOD, channel_axis=True),
    "scheme list": lambda: diffuse(GOOD, scheme=["flux"]),
    "diffusivity negative callable": lambda: diffuse(GOOD, diffusivity=lambda d, k: -torch.ones_like(d)),
    "values that overflow float32": lambda: diffuse(np.array([[3e38, -3e38], [3e38, 0]], np.float32), kappa=1e30),
    "values that overflow float64": lambda: diffuse(np.array([[1e308, -1e308], [1e308, 0.0]]), kappa=1e30),
    "kappa auto on values near 1e-35": lambda: diffuse((GOOD * 1e-35).astype(np.float32), kappa="auto"),
    "coupled without a channel axis": lambda: diffuse(GOOD, coupled=True),
    "estimate_kappa coupled without a channel axis": lambda: estimate_kappa(GOOD, coupled=True),
    "estimate_parameters coupled without a channel axis": lambda: estimate_parameters(GOOD, coupled=True),
    "dask empty array": lambda: dask_diffuse(np.zeros((0, 5)), iterations=3),
    "dask device": lambda: dask_diffuse(GOOD, device="cpu"),
    "dask coupled without a channel axis": lambda: dask_diffuse(GOOD, coupled=True),
    "estimate_kappa NaN": lambda: estimate_kappa(np.full((4, 4), np.nan)),
    "estimate_kappa spacing 0": lambda: estimate_kappa(GOOD, spacing=0),
    "PeronaMalik kappa auto": lambda: PeronaMalik(kappa="auto"),
    "PeronaMalik 2-D input": lambda: PeronaMalik()(torch.rand(4, 4)),
    "PeronaMalik not a tensor": lambda: PeronaMalik()(GOOD),
    "PeronaMalik NaN input": lambda: PeronaMalik()(torch.full((1, 1, 4, 4), math.nan)),
    "PeronaMalik integer input": lambda: PeronaMalik()(torch.zeros(1, 1, 4, 4, dtype=torch.int64)),
    "PeronaMalik kappa tensor that requires grad": lambda: PeronaMalik(kappa=torch.tensor(0.2, requires_grad=True)),
    "diffusivity callable returning a string": lambda: diffuse(GOOD, diffusivity=lambda d, k: "g"),
    "DiffusionParams unknown scheme": lambda: DiffusionParams(scheme="nope"),
    "ArtConfig lr 1e300": lambda: ArtConfig(lr=1e300),
    "ArtConfig fps 1e-9": lambda: ArtConfig(fps=1e-9),
    "ArtConfig iterations 4000 digits": lambda: ArtConfig(iterations=10**4000),
    "ArtConfig kappa nan": lambda: ArtConfig(kappa=math.nan),
    "ArtConfig from None": lambda: ArtConfig.from_dict({"config": None}),
    "sidecar config null": lambda: split_sidecar({"config": None}),
    "sidecar input a string": lambda: split_sidecar({"config": {}, "input": "photo.png"}),
    "sidecar seed negative": lambda: split_sidecar({"config": {}, "seed": -1}),
}


@pytest.mark.parametrize("call", LIBRARY_CASES.values(), ids=LIBRARY_CASES.keys())
def test_library_raises_input_error(call) -> None:
    with pytest.raises(InputError):
        call()


def test_config_file_cases_raise_input_error(workdir: Path) -> None:
    for name in ("nested.json", "nested.toml", "too-many-digits.json", "latin1.toml", "bad.toml", "top-list.json"):
        with pytest.raises(InputError):
            load_config_file(workdir / name)
