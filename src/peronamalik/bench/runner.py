"""Running the registered cases: warm-up, best of the repeats, peak memory, ratios."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

import torch

from peronamalik._validate import InputError
from peronamalik.bench.memory import PeakGPU, PeakRSS
from peronamalik.bench.registry import REGISTRY, Case, Inputs, Result, Settings
from peronamalik.bench.report import NO_CUDA, format_report
from peronamalik.io.atomic import atomic_output, check_target


QUICK_SIZE, QUICK_ITERATIONS = 512, 5  #: --quick: large enough that per-call overheads do not decide the ratios


def _missing(case: Case) -> str | None:
    """Why the case cannot run here (None if it can).  ``requires`` entries are modules, or
    ``module:attribute.path`` for a function a build of the module may lack."""
    if case.device == "cuda" and not torch.cuda.is_available():
        return NO_CUDA
    for requirement in case.requires:
        module, _, attributes = requirement.partition(":")
        try:
            found = importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any import failure means "not available"
            return f"{module} not importable ({type(exc).__name__})"
        for name in filter(None, attributes.split(".")):
            if not hasattr(found, name):
                return f"{module} {getattr(found, '__version__', '')} has no {requirement.replace(':', '.')}".replace("  ", " ")
            found = getattr(found, name)
    return None


def startup_seconds(repeat: int) -> dict[str, float]:
    """Wall time of ``peronamalik --help`` and of ``import peronamalik`` in a fresh
    interpreter (best of ``repeat``): what a user waits for before anything happens."""
    commands = {
        "peronamalik --help": [sys.executable, "-m", "peronamalik", "--help"],
        "import peronamalik": [sys.executable, "-c", "import peronamalik"],
    }
    times = {}
    for label, command in commands.items():
        best = math.inf
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            best = min(best, time.perf_counter() - start)
        times[label] = best
    return times


def run_case(case: Case, settings: Settings, inputs: Inputs) -> Result:
    result = Result(case.name, case.group, case.peer, case.note, device=case.device)
    reason = _missing(case)
    if reason:
        result.skipped = reason
        return result
    work = case.pixels(settings) * case.iterations(settings) / 1e6
    try:
        job = case.make(inputs)
        start = time.perf_counter()
        job()  # warm-up: imports, kernel load/compile, allocator
        result.first_seconds = time.perf_counter() - start
        best, total, runs, split = math.inf, 0.0, 0, None
        while runs < settings.repeat and (runs == 0 or total < settings.time_budget):
            gc.collect()
            start = time.perf_counter()
            out = job()
            elapsed = time.perf_counter() - start
            total, runs = total + elapsed, runs + 1
            if elapsed < best:
                best = elapsed
                split = dict(out) if isinstance(out, Mapping) else None
            del out
        result.rate, result.seconds, result.runs, result.split = work / best, best, runs, split
        del job
        if settings.memory:
            # the input is made first (making it may take temporaries of its own), then
            # counted in: peak = input + high-water mark of make() and the job above it
            fresh = Inputs(settings)
            case.make(fresh)
            with PeakGPU() if case.device == "cuda" else PeakRSS() as peak:
                job = case.make(fresh)
                out = job()
                del out, job
            result.peak_bytes = peak.peak + fresh.nbytes * (case.device != "cuda")
            result.image_bytes = fresh.nbytes
            del fresh
    except Exception as exc:  # noqa: BLE001 - one broken peer must not end the table
        result.skipped = f"failed: {type(exc).__name__}: {exc}"
    return result


def compute_ratios(results: list[Result]) -> None:
    """Each row's rate over the reference's and each peer's rate in the same group."""
    for row in results:
        if row.rate is None:
            continue
        for other in results:
            if other.group == row.group and other.peer and other.rate and other is not row:
                row.ratios.setdefault(other.peer, row.rate / other.rate)


def build_cost() -> dict[str, Any]:
    """Compile time of the fused kernel (fresh, into a scratch directory) and load time."""
    from pathlib import Path

    from peronamalik.backends.native import build as native
    from peronamalik.backends.native.flux import KERNEL

    info: dict[str, Any] = {}
    cc = native.compiler()
    if cc is None:
        return {"error": "no C compiler"}
    flags = native.flag_sets(KERNEL.extra_flags)[0]
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "flux.so")
        start = time.perf_counter()
        try:
            native.compile_library(KERNEL.source, cc, flags, Path(target))
        except Exception as exc:  # noqa: BLE001
            return {"error": str(exc).splitlines()[0]}
        info["compile_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        ctypes.CDLL(target)
        info["load_seconds"] = time.perf_counter() - start
    info["compiler"] = cc
    info["flags"] = " ".join(flags)
    return info


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
        model = re.search(r"model name\s*:\s*(.*)", text)
        cpu = model.group(1).strip() if model else cpu
        if " avx512f" in text:
            cpu += ", AVX-512"
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in load] if load else None,
    }


def select(only: list[str] | None = None, quick: bool = False) -> list[Case]:
    """The registered cases whose name contains one of ``only`` (any case; all without it),
    less those ``quick`` leaves out.  A word that selects nothing is refused (:class:`InputError`),
    not answered with an empty table: a typo would otherwise look like a run."""
    cases = [case for case in REGISTRY.values() if case.quick or not quick]
    for word in only or ():
        if not any(word.lower() in case.name.lower() for case in cases):
            left_out = [case.name for case in REGISTRY.values() if word.lower() in case.name.lower()]
            if left_out:
                raise InputError(f"--only {word!r} matches only cases that --quick leaves out ({', '.join(left_out)}): drop --quick")
            raise InputError(
                f"no case matches --only {word!r} (a part of a case name, any case): "
                f"'peronamalik bench --list' lists the {len(REGISTRY)} cases"
            )
    return [case for case in cases if not only or any(word.lower() in case.name.lower() for word in only)]


def run(
    settings: Settings, only: list[str] | None = None, echo: Callable[[str], None] = print, build: bool = True,
    startup: bool = True,
) -> dict[str, Any]:
    """Run the registered cases (names containing one of ``only``; :func:`select`) and, for a
    full table, the start-up times (``startup``); return everything."""
    from peronamalik.backends.native import build as native_build, flux

    cases = select(only, quick=settings.quick)  # before any work: a word that matches nothing is refused
    report: dict[str, Any] = {"settings": asdict(settings), "machine": machine()}
    flux.load()
    info = native_build.build_info.get(flux.KERNEL.source, native_build.BuildInfo())
    report["fused_build"] = asdict(info) | {"path": str(info.path)}
    if build and not settings.quick:
        report["build_cost"] = build_cost()
    inputs = Inputs(settings)
    results = []
    for case in cases:
        if _missing(case) is None:
            echo(f"  running: {case.name} ...")
        results.append(run_case(case, settings, inputs))
    compute_ratios(results)
    if startup and not only:
        report["startup"] = startup_seconds(settings.repeat)
    report["machine"]["load_average_after"] = machine()["load_average"]
    report["memory_method"] = PeakRSS.method
    report["results"] = [asdict(r) for r in results]
    return report


def main(
    size: int = 2048,
    iterations: int = 20,
    repeat: int = 3,
    quick: bool = False,
    only: list[str] | None = None,
    memory: bool | None = None,
    json_path: str | None = None,
    echo: Callable[[str], None] = print,
    overwrite: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run, print the table, optionally write JSON (an existing file is replaced only with
    ``overwrite``; checked before the run); return the report (``quiet``: no progress lines).  ``memory``: default on,
    off with ``quick``."""
    if json_path:
        check_target(json_path, overwrite=overwrite)
    if quick:
        size, iterations, repeat = min(size, QUICK_SIZE), min(iterations, QUICK_ITERATIONS), 1
    if memory is None:  # a memory run per case costs ~0.5 s (malloc_trim): not in a smoke test
        memory = not quick
    if size < 4 or iterations < 1 or repeat < 1:
        raise InputError("size must be >= 4, iterations and repeat >= 1")
    settings = Settings(size=size, iterations=iterations, repeat=repeat, quick=quick, memory=memory)
    report = run(settings, only=only, echo=(lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr)))
    echo(format_report(report))
    if json_path:
        with atomic_output(json_path, overwrite=overwrite) as temporary:
            temporary.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report

