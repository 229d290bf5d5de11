"""The table: rates, ratios to the reference and the peers, peak memory, splits."""

from __future__ import annotations

import math
from typing import Any

from peronamalik.bench.registry import Result, Settings


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    s, m = report["settings"], report["machine"]
    results = [Result(**r) for r in report["results"]]
    peers = [p for p in ("reference", "medpy", "SimpleITK", "OpenCV") if any(r.peer == p for r in results)]
    peers += sorted({r.peer for r in results if r.peer and r.peer not in peers})
    side = Settings(size=s["size"]).volume_side
    lines = [
        (
            f"peronamalik bench: {s['size']}² grey / {side}³ volume / {s['size']}² RGB, "
            f"{s['iterations']} iterations, kappa {s['kappa']}, best of {s['repeat']}"
        ),
        (
            f"machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} ({m['torch_threads']} threads), "
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
    header = ["case", "group", "Mpix·it/s"] + [f"× {p}" for p in peers] + ["peak MiB", "peak ×img", "note"]
    rows = []
    for r in results:
        if r.skipped:
            rows.append([r.name, r.group, "skipped"] + ["-"] * len(peers) + ["-", "-", r.skipped])
            continue
        ratios = [_fmt(r.ratios.get(p), ".2f") if r.peer != p else "1" for p in peers]
        mib = None if r.peak_bytes is None else r.peak_bytes / 2**20
        times = None if r.peak_bytes is None or not r.image_bytes else r.peak_bytes / r.image_bytes
        rows.append([r.name, r.group, _fmt(r.rate, ".1f"), *ratios, _fmt(mib, ".0f"), _fmt(times, ".1f"), r.note])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for i, row in enumerate([header, *rows]):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(
        f"Mpix·it/s: spatial pixels × iterations / best wall time; × X: rate over X's in the same group; "
        f"peak: RSS high-water mark above the RSS before the input was made ({report.get('memory_method')}), "
        "× the input image's bytes."
    )
    if any(r.device == "cuda" and not r.skipped for r in results):
        lines.append(
            "CUDA rows: peak is torch's CUDA allocator high-water mark (input included); × copy is the "
            "fraction of the card's copy bandwidth (one read and one write of the image per iteration)."
        )
    for r in results:
        if r.device == "cuda" and r.first_seconds is not None:
            lines.append(f"first call of {r.name}: {r.first_seconds:.2f} s (compile included)")
    for r in results:
        if r.split:
            total = sum(r.split.values())
            parts = ", ".join(f"{k} {v:.3f} s ({v / total:.0%})" for k, v in r.split.items())
            lines.append(f"split of {r.name}: {parts}")
    return "\n".join(lines)
