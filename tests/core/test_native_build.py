"""Issues 12 and 15 (11-13): the native kernels' cache is private and verified, the build is
synchronous, and a kernel whose layout differs from the Python side's is an error at load.

What needs a fresh process (a truncated library, a cold against a warm cache) is in
``tests/art/test_reproducible.py``.
"""

from __future__ import annotations

import ctypes
import os
import stat
import warnings

import numpy as np
import pytest

from peronamalik import backend, diffuse
from peronamalik.backends import policy
from peronamalik.backends.native import build, flux


@pytest.fixture(scope="module")
def flux_library():
    """The flux kernel's cached library (built once for this module)."""
    if flux.load() is None:
        pytest.skip("no C compiler: the native backend cannot run here")
    info = build.build_info[flux.KERNEL.source]
    return info.path


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """Nothing loaded, built or failed in this process; the cache under ``tmp_path/cache``."""
    for name in ("_loaded", "_failed", "_locks"):
        monkeypatch.setattr(build, name, {})
    monkeypatch.setattr(build, "build_info", {})
    monkeypatch.setattr(policy, "_warned", set())
    monkeypatch.setenv("PERONAMALIK_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_folder_is_created_private(fresh) -> None:
    assert build.cache_dir() == fresh
    assert stat.S_IMODE(os.lstat(fresh).st_mode) == 0o700


def test_an_own_folder_with_wider_permissions_is_narrowed(fresh) -> None:
    fresh.mkdir(mode=0o755)
    os.chmod(fresh, 0o777)
    assert build.cache_dir() == fresh
    assert stat.S_IMODE(os.lstat(fresh).st_mode) == 0o700


def test_a_symlinked_or_unusable_folder_is_not_a_cache(fresh, tmp_path, monkeypatch) -> None:
    (tmp_path / "elsewhere").mkdir(mode=0o700)
    fresh.symlink_to(tmp_path / "elsewhere")
    assert build.cache_dir() is None
    monkeypatch.setenv("PERONAMALIK_CACHE_DIR", str(tmp_path / "a-file" / "cache"))
    (tmp_path / "a-file").write_text("not a folder")
    assert build.cache_dir() is None


def test_without_a_safe_cache_the_kernel_is_built_privately_and_not_cached(fresh, tmp_path, flux_library) -> None:
    """A planted library under the computable name in a symlinked cache is never loaded."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    fresh.symlink_to(target)
    for flags in build.flag_sets(flux.KERNEL.extra_flags):
        planted = target / build.library_name(flux.KERNEL, flags)
        planted.write_bytes(b"\x7fELF planted")
    lib = flux.load()
    assert lib is not None
    info = build.build_info[flux.KERNEL.source]
    assert info.compiled and not info.cached and target not in info.path.parents
    assert all(p.read_bytes() == b"\x7fELF planted" for p in target.glob("*.so"))


def test_checksum_guards_the_cached_library(fresh, flux_library, tmp_path) -> None:
    """A library whose size or bytes differ from the record beside it is not loaded."""
    assert build.verified(flux_library)
    copy = tmp_path / flux_library.name
    copy.write_bytes(flux_library.read_bytes())
    (tmp_path / (flux_library.name + ".sha256")).write_text((flux_library.parent / (flux_library.name + ".sha256")).read_text())
    assert build.verified(copy)
    with open(copy, "r+b") as f:
        f.truncate(copy.stat().st_size // 2)
    assert not build.verified(copy)
    (tmp_path / (flux_library.name + ".sha256")).unlink()
    assert not build.verified(flux_library.parent / "missing.so")


@pytest.mark.parametrize(
    "change",
    [
        {"constants": {**flux.KERNEL.constants, "G_TUKEY": 7}},
        {"abi": flux.KERNEL.abi + 1},
        {"functions": {name: (ctypes.c_int, args[::-1]) for name, (_, args) in flux.KERNEL.functions.items()}},
        {"texts": {"shape": "n0 n1 n2 nc groups", "param": flux.KERNEL.texts["param"]}},
    ],
    ids=["enum value", "abi", "argument order", "array slots"],
)
def test_a_layout_mismatch_is_an_error_at_load(flux_library, change) -> None:
    from dataclasses import replace

    with pytest.raises(build.KernelLayoutError, match="does not match the Python side"):
        build.bind(flux_library, replace(flux.KERNEL, **change))
    assert build.exported_layout(ctypes.CDLL(str(flux_library)))["PM_ABI_VERSION"] == str(flux.KERNEL.abi)


def test_missing_compiler_warns_once_and_the_reference_runs(fresh, monkeypatch) -> None:
    """No compiler: one NativeKernelWarning, the reference's result, and auto chooses the
    reference from then on (the choice is reported by the policy)."""
    monkeypatch.setattr(build, "compiler", lambda: None)
    image = np.random.default_rng(5).random((16, 18), dtype=np.float32)
    with pytest.warns(build.NativeKernelWarning, match="no C compiler"):
        first = diffuse(image, iterations=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = diffuse(image, iterations=3)
    with backend("reference"):
        expected = diffuse(image, iterations=3)
    np.testing.assert_array_equal(first, expected)
    np.testing.assert_array_equal(second, expected)
    assert build.build_info[flux.KERNEL.source].error
    with pytest.warns(policy.BackendWarning, match="'native' cannot run"), backend("native"):
        np.testing.assert_array_equal(diffuse(image, iterations=3), expected)


def test_a_failing_compiler_is_not_retried(fresh, monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(build, "compiler", lambda: calls.append(1) or "false")
    with pytest.warns(build.NativeKernelWarning):
        assert flux.load() is None
    assert flux.load() is None and len(calls) == 1
    assert not list(fresh.glob("*.so")) and not list(fresh.glob(".build-*"))
