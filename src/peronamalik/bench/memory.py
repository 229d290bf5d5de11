"""Peak memory of one run: the RSS high-water mark on the CPU, torch's allocator on CUDA."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import re
import threading

import torch


def _release_free_memory() -> None:
    """Hand memory malloc keeps for reuse back to the OS (glibc ``malloc_trim``), so the RSS
    before a memory run counts only live data and the run's own use shows in the peak.
    (Only before memory runs: timed runs keep the allocator as warm as in real use.)"""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss() -> int:
    with contextlib.suppress(OSError, ValueError, AttributeError), open("/proc/self/status", encoding="ascii") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1)) * 1024
    import psutil

    return psutil.Process().memory_info().rss


class PeakRSS:
    """Peak RSS during a ``with`` block, in bytes above the RSS at its start (``.peak``)."""

    method = "none"

    def __enter__(self) -> PeakRSS:  # noqa: PYI034
        _release_free_memory()
        self.peak = 0
        self._hwm = self._reset_hwm()
        self.baseline = _rss()
        self._stop = threading.Event()
        self._sampled = self.baseline
        if not self._hwm:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
            PeakRSS.method = "VmHWM"
            return True
        except OSError:
            return False

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process()
        PeakRSS.method = "psutil sampling (1 ms)"
        while not self._stop.wait(0.001):
            self._sampled = max(self._sampled, proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        if self._hwm:
            with open("/proc/self/status", encoding="ascii") as f:
                top = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) * 1024
        else:
            self._stop.set()
            self._thread.join()
            top = max(self._sampled, _rss())
        self.peak = max(0, top - self.baseline)


class PeakGPU:
    """Peak CUDA memory allocated by torch during the block, above what was allocated before
    (the GPU copy of the input is made inside, so it counts)."""

    peak = 0

    def __enter__(self) -> PeakGPU:  # noqa: PYI034
        torch.cuda.synchronize()
        self._before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        return self

    def __exit__(self, *exc: object) -> None:
        torch.cuda.synchronize()
        self.peak = torch.cuda.max_memory_allocated() - self._before
