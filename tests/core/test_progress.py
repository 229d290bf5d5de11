"""Issue 12: progress goes through a callback ``progress(done, total)``; the library never prints."""

from __future__ import annotations

import numpy as np
import pytest

from peronamalik import backend, diffuse, render


def _recorder() -> tuple[list[tuple[int, int | None]], object]:
    reports: list[tuple[int, int | None]] = []
    return reports, lambda done, total: reports.append((done, total))


def test_reference_loop_reports_every_iteration(capsys) -> None:
    reports, progress = _recorder()
    image = np.random.default_rng(0).random((16, 16), dtype=np.float32)
    with backend("reference"):
        result = diffuse(image, iterations=4, progress=progress)
        assert reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
        np.testing.assert_array_equal(result, diffuse(image, iterations=4))  # same result without it
    assert capsys.readouterr() == ("", "")  # nothing printed


@pytest.mark.parametrize("bad", [True, 1, "bar"])
def test_progress_must_be_callable(bad) -> None:
    with pytest.raises(TypeError, match="progress"):
        diffuse(np.zeros((8, 8), np.float32), iterations=1, progress=bad)


def test_render_reports_iterations(tmp_path, capsys) -> None:
    reports, progress = _recorder()
    image = np.random.default_rng(1).random((24, 24), dtype=np.float32)
    render(image, tmp_path / "out.gif", iterations=6, every=3, seed=0, device="cpu", progress=progress)
    assert reports == [(i, 6) for i in range(1, 7)]
    assert capsys.readouterr() == ("", "")


def test_compiled_path_reports_per_call() -> None:
    """torch.compile (run on the CPU here): one report per compiled call, ending at the total."""
    from peronamalik.backends import compiled

    reports, progress = _recorder()
    iterations = compiled.STEPS_PER_CALL + 1
    with backend("compiled"):
        diffuse(np.random.default_rng(2).random((12, 12), dtype=np.float32), iterations=iterations, progress=progress)
    assert reports == [(compiled.STEPS_PER_CALL, iterations), (iterations, iterations)]
