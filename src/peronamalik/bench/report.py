"""The table: rates, ratios to the reference and the peers, peak memory, splits."""

from __future__ import annotations

import math
import textwrap
from typing import Any

from peronamalik.bench.registry import Result, Settings


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


WIDTH = 100  #: the table's lines are cut to this many characters
NO_CUDA = "no CUDA device"
SHORT = {"reference": "ref"}


def _shown_name(name: str, group: str) -> str:
    """The case's name less the words it repeats from its group's heading ("medpy 3-D" under
    "3-D" prints as "medpy")."""
    words = group.split()
    for k in range(len(words), 0, -1):
        suffix = " " + " ".join(words[-k:])
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _vs(r: Result) -> str:
    return ", ".join(f"{SHORT.get(p, p)} {_fmt(x, '.2f')}" for p, x in r.ratios.items())


def _table(results: list[Result]) -> list[str]:
    """One block per group (its heading, then its rows); every CUDA row skipped for want of a
    device collapses into one line."""
    no_gpu = [r for r in results if r.device == "cuda" and r.skipped == NO_CUDA]
    shown = [r for r in results if r not in no_gpu]
    names = {id(r): _shown_name(r.name, r.group) for r in shown}
    width = max([len("case"), *map(len, names.values())])
    header = f"  {'case'.ljust(width)}  {'Mpix·it/s':>9}  {'peak MiB':>8}  {'×img':>5}  vs (rate ratio), note"
    lines = [header[:WIDTH], "  " + "-" * (min(WIDTH, len(header)) - 2)]
    group = None
    for r in shown:
        if r.group != group:
            group = r.group
            lines.append(f"{group}:")
        if r.skipped:
            cells = f"{'skipped':>9}  {'-':>8}  {'-':>5}  {r.skipped}"
        else:
            mib = None if r.peak_bytes is None else r.peak_bytes / 2**20
            times = None if r.peak_bytes is None or not r.image_bytes else r.peak_bytes / r.image_bytes
            extra = "; ".join(x for x in (_vs(r), r.note) if x)
            cells = f"{_fmt(r.rate, '.1f'):>9}  {_fmt(mib, '.0f'):>8}  {_fmt(times, '.1f'):>5}  {extra}"
        line = f"  {names[id(r)].ljust(width)}  {cells}".rstrip()
        lines.append(line if len(line) <= WIDTH else line[: WIDTH - 1] + "…")
    if no_gpu:
        lines.append(f"CUDA: no device, skipped ({len(no_gpu)} cases)")
    return lines


def format_report(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    results = [Result(**r) for r in report["results"]]
    side = Settings(size=s["size"]).volume_side
    lines = [
        (
            f"peronamalik bench: {s['size']}² grey / {side}³ volume / {s['size']}² RGB, "
            f"{s['iterations']} iterations, kappa {s['kappa']}, best of {s['repeat']}"
        ),
        (
            f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads)\n"
            f"load average {m['load_average']} -> {m.get('load_average_after')}"
        ),
    ]
    b = report.get("fused_build", {})
    if b.get("error"):
        lines.append(f"fused kernel: unavailable ({b['error']})")
    else:
        how = (
            f"compiled in {b['seconds']:.1f} s"
            if b.get("compiled")
            else f"loaded from cache in {b['seconds'] * 1e3:.1f} ms"
        )
        lines.append(f"fused kernel: {how} ({b.get('path')})")
    cost = report.get("build_cost")
    if cost and "compile_seconds" in cost:
        lines.append(
            f"fused kernel build cost: {cost['compile_seconds']:.1f} s to compile (first use on a machine), "
            f"{cost['load_seconds'] * 1e3:.1f} ms to load when cached"
        )
    lines += _table(results)
    lines.append(
        f"Mpix·it/s: spatial pixels × iterations / best wall time; vs: this rate over X's in the same group\n"
        f"peak: RSS high-water mark above the RSS before the input was made ({report.get('memory_method')}); "
        "×img: over the input's bytes"
    )
    if any(r.device == "cuda" and not r.skipped for r in results):
        lines.append(
            "CUDA rows: peak is torch's CUDA allocator high-water mark (input included); × copy is the "
            "fraction of the card's copy bandwidth (one read and one write of the image per iteration)."
        )
    for r in results:
        if r.device == "cuda" and r.first_seconds is not None:
            lines.append(f"first call of {r.name}: {r.first_seconds:.2f} s (compile included)")
    startup = report.get("startup")
    if startup:
        lines.append("start-up: " + ", ".join(f"{command} {seconds:.2f} s" for command, seconds in startup.items()))
    for r in results:
        if r.split:
            total = sum(r.split.values())
            parts = ", ".join(f"{k} {v:.3f} s ({v / total:.0%})" for k, v in r.split.items())
            lines.append(f"split of {r.name}: {parts}")
    text = "\n".join(lines).splitlines()  # some entries hold two lines
    return "\n".join(part for line in text for part in textwrap.wrap(line, WIDTH, subsequent_indent="    ") or [""])
