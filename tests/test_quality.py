"""``peronamalik bench --quality``: the table's rows, and that every method denoises."""

from __future__ import annotations

import math

from peronamalik import quality

METHODS = ["PM auto", "PM oracle", "TV Chambolle", "bilateral", "NL means"]


def test_quick_quality_table() -> None:
    lines: list[str] = []
    report = quality.main(quick=True, echo=lines.append)
    (level,) = report
    assert list(report[level]) == METHODS
    noisy_psnr = -10 * math.log10(level**2)
    for method, scores in report[level].items():
        assert len(scores) == 2
        assert all(s.psnr > noisy_psnr + 1.0 and 0 < s.ssim <= 1 and s.seconds >= 0 for s in scores), method
    pm_auto, pm_oracle = report[level]["PM auto"], report[level]["PM oracle"]
    assert all(a.psnr > o.psnr - 1.5 for a, o in zip(pm_auto, pm_oracle))
    assert [line.split()[0] for line in lines[-5:]] == [m.split()[0] for m in METHODS]
