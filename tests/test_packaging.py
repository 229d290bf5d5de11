"""Issue 12: the library alone needs torch and numpy; every import is declared; one public door.

The core is imported and run in a subprocess where every optional module is marked absent
(``sys.modules[name] = None``: ``import`` raises ModuleNotFoundError and
``importlib.util.find_spec`` answers None, as for a module that is not installed), so an
import that slipped to module level fails here.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import peronamalik

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(peronamalik.__file__).resolve().parent
OPTIONAL = ("PIL", "av", "tifffile", "tomli_w", "click", "tqdm", "skimage", "scipy", "networkx", "cv2", "medpy",
            "SimpleITK", "psutil", "starlette", "uvicorn", "dask", "distributed", "zarr")

_WITHOUT_EXTRAS = f"""
import importlib, json, sys

for name in {OPTIONAL!r}:
    sys.modules[name] = None  # as if not installed: import raises ModuleNotFoundError, find_spec gives None
import numpy as np
import torch
import peronamalik
from peronamalik import PeronaMalik, animate, diffuse, estimate_kappa

image = np.random.default_rng(0).random((24, 24), dtype=np.float32)
report = {{"diffuse": float(diffuse(image, iterations=3, kappa="auto").std())}}
report["module"] = float(PeronaMalik(iterations=2)(torch.from_numpy(image)[None, None]).mean())
report["kappa"] = estimate_kappa(image)
report["frames"] = len(list(animate(None, iterations=4, every=2, size=32, seed=0, device="cpu")))
messages = {{}}
for name, call in (
    ("io", lambda: importlib.import_module("peronamalik.io").read_image("x.png")),
    ("video", lambda: peronamalik.render(image, "x.gif", iterations=2, seed=0, device="cpu")),
    ("cli", lambda: importlib.import_module("peronamalik.cli")),
    ("toml", lambda: peronamalik.ArtConfig().save("x.toml")),
):
    try:
        call()
    except ImportError as exc:
        messages[name] = str(exc)
report["messages"] = messages
report["loaded"] = sorted(m for m, module in sys.modules.items() if module is not None and m.split(".")[0] in {OPTIONAL!r})
print(json.dumps(report))
"""


def test_library_runs_without_the_optional_dependencies(tmp_path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE.parent), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-c", _WITHOUT_EXTRAS], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["loaded"] == []
    assert report["diffuse"] > 0 and report["module"] > 0 and report["kappa"] > 0 and report["frames"] == 2
    messages = report["messages"]
    assert "pip install 'peronamalik[io]'" in messages["io"]
    assert "pip install 'peronamalik[video]'" in messages["video"]
    assert "pip install 'peronamalik[cli]'" in messages["cli"]
    assert "'tomli_w'" in messages["toml"] and "[io]" in messages["toml"]
    assert list(tmp_path.iterdir()) == []  # nothing written


def _project() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _closure(extras: dict[str, list[str]], names: set[str]) -> set[str]:
    """Canonical names of the distributions the extras ``names`` pull in, through
    ``peronamalik[...]`` references."""
    found: set[str] = set()
    for name in names:
        for text in extras[name]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == "peronamalik":
                found |= _closure(extras, requirement.extras)
            else:
                found.add(canonicalize_name(requirement.name))
    return found


def test_base_install_is_torch_and_numpy() -> None:
    project = _project()
    base = {canonicalize_name(Requirement(r).name): Requirement(r) for r in project["dependencies"]}
    assert set(base) == {"torch", "numpy", "tomli"}
    assert base["tomli"].marker is not None  # only where tomllib is missing
    extras = project["optional-dependencies"]
    everything = _closure(extras, {"all"})
    for name in ("cli", "video", "io", "studio", "dask"):
        assert _closure(extras, {name}) <= everything, name
    assert everything <= _closure(extras, {"test"})
    assert {"click", "tqdm", "pillow", "tifffile", "av"} <= _closure(extras, {"cli"})
    assert {"starlette", "uvicorn"} <= _closure(extras, {"studio"})
    assert {"dask", "distributed", "zarr"} <= _closure(extras, {"dask"})


def _imported_modules() -> set[str]:
    modules: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require":
                modules.add(node.args[0].value.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"peronamalik", "__future__"}


def test_every_imported_module_is_declared() -> None:
    project = _project()
    declared = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    declared |= _closure(project["optional-dependencies"], set(project["optional-dependencies"]))
    owners = packages_distributions()
    modules = _imported_modules()
    assert {"torch", "numpy", "PIL", "av", "click"} <= modules  # the scan sees imports of each kind
    for module in modules:
        distributions = {canonicalize_name(d) for d in owners.get(module, [module])}
        assert distributions & declared, f"{module} is imported but no dependency or extra installs it"


def test_sample_photo_is_package_data() -> None:
    from peronamalik.art.source import sample_array

    photo = sample_array()
    assert photo.shape == (300, 451, 3) and photo.dtype == np.uint8
    np.testing.assert_array_equal(photo, skimage.data.chelsea())
    assert "data/*.npz" in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "peronamalik"
    ]


def test_top_level_exports_the_public_api() -> None:
    from peronamalik import art

    for name in ("diffuse", "estimate_kappa", "stable_dt", "PeronaMalik", "ArtConfig", "animate", "render",
                 "render_video", "stylize_frames", "LearnedDiffusion", "PRESETS", "preset_config"):
        assert name in peronamalik.__all__ and name in dir(peronamalik)
    for name in peronamalik.__all__:
        assert getattr(peronamalik, name) is not None
    assert peronamalik.render is art.render and peronamalik.PRESETS is art.PRESETS
    with pytest.raises(AttributeError, match="no_such_name"):
        peronamalik.no_such_name  # noqa: B018
