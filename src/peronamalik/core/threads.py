"""One thread policy for torch and the package's C kernels.

How many threads
    The number of threads is the number of cores this process may use: the CPUs of its
    affinity mask (``os.sched_getaffinity``), capped by the cgroup CPU quota of its
    cgroup and the cgroup's ancestors (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us``, rounded up), as a container or a Dask worker sets them.
    ``$PERONAMALIK_NUM_THREADS`` lowers it, else ``$OMP_NUM_THREADS`` does; a call of
    :func:`set_num_threads` overrides both.  None of them goes above the cores: more threads
    than cores only wait for one another (a warning says so, and the cores are used).  The number is applied to torch
    (``torch.set_num_threads``) once, when :mod:`peronamalik.core` is first loaded (by the
    first use of any of the package's names), and the C
    kernels (``backends/native/kernels/*.c``, through :mod:`peronamalik.backends.native.flux` and
    :mod:`peronamalik.backends.native.learned`) run with :func:`get_num_threads` threads.

Never busy-wait
    By default an OpenMP worker spins for a while (libgomp: 300,000 rounds, milliseconds)
    after each parallel region before it sleeps, and a region ends only when every worker
    has arrived.  On a machine shared with other busy processes, spinning threads take
    cores from the threads doing the work, and each region waits for a worker the
    scheduler has not run yet: measured, the default art job (3000 regions) took 2.4x its
    idle time beside two busy processes.  So:

    * the C kernels do not use OpenMP's threads but their own pool
      (``backends/native/kernels/pm_pool.h``): idle threads sleep on a condition variable, and a call
      returns once its work is done, without waiting for a thread that never got a core;
    * torch's own OpenMP workers sleep at once: the package sets ``OMP_WAIT_POLICY=PASSIVE``
      unless the environment sets a policy.  libgomp reads it once, when torch loads it at
      its import, so :mod:`peronamalik._omp` sets it, imported by ``peronamalik/__init__.py``
      before anything imports torch.  A program that imports torch before peronamalik keeps
      the policy it started with; set ``OMP_WAIT_POLICY=PASSIVE`` in its environment
      (:func:`passive_wait` says which holds).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from peronamalik import _omp

#: The environment variable that overrides the number of threads.
ENV = "PERONAMALIK_NUM_THREADS"


def cgroup_cpu_limit(proc: Path = Path("/proc/self")) -> float | None:
    """CPUs allowed by the CPU quota of this process's cgroup and its ancestors (the
    smallest ``quota / period``); None when there is no quota or no cgroup file system.

    ``proc`` is the process's ``/proc`` folder: its ``cgroup`` file names the cgroup of each
    hierarchy, its ``mountinfo`` where each hierarchy is mounted.
    """
    try:
        memberships = (proc / "cgroup").read_text().splitlines()
        mounts = (proc / "mountinfo").read_text().splitlines()
    except OSError:
        return None
    paths: dict[str, str] = {}  # "v2", or "v1" for the hierarchy with the cpu controller
    for line in memberships:
        parts = line.split(":", 2)
        if len(parts) == 3 and parts[0] == "0" and parts[1] == "":
            paths["v2"] = parts[2]
        elif len(parts) == 3 and "cpu" in parts[1].split(","):
            paths["v1"] = parts[2]
    limits = []
    for line in mounts:
        fields = line.split()
        if "-" not in fields:
            continue
        tail = fields[fields.index("-") + 1 :]
        if len(tail) < 3 or len(fields) < 5:
            continue
        if tail[0] == "cgroup2":
            version = "v2"
        elif tail[0] == "cgroup" and "cpu" in tail[2].split(","):
            version = "v1"
        else:
            continue
        if version not in paths:
            continue
        root, point = fields[3], Path(fields[4])
        inner = os.path.relpath(paths[version], root) if paths[version].startswith(root) else "."
        folder = Path(os.path.normpath(point / inner))
        while True:
            limit = _quota(folder, version)
            if limit is not None:
                limits.append(limit)
            if folder == point or point not in folder.parents:
                break
            folder = folder.parent
    return min(limits) if limits else None


def _quota(folder: Path, version: str) -> float | None:
    """CPUs of one cgroup folder's quota, or None."""
    try:
        if version == "v2":
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            if quota == "max":
                return None
        else:
            quota = (folder / "cpu.cfs_quota_us").read_text().strip()
            period = (folder / "cpu.cfs_period_us").read_text().strip()
        q, p = int(quota), int(period)
    except (OSError, ValueError):
        return None
    return q / p if q > 0 and p > 0 else None


def usable_cores() -> int:
    """Cores this process may use: its affinity mask, capped by its cgroup CPU quota
    (rounded up), at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(1, cores)


def _from_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        warnings.warn(f"peronamalik: ignoring ${name}={value!r} (a whole number >= 1 expected)", RuntimeWarning,
                      stacklevel=3)
        return None
    return count


def default_num_threads() -> int:
    """``$PERONAMALIK_NUM_THREADS``, else ``$OMP_NUM_THREADS``, else :func:`usable_cores`;
    at most :func:`usable_cores`."""
    for name in (ENV, "OMP_NUM_THREADS"):
        count = _from_env(name)
        if count is not None:
            return within_cores(count, f"${name}={count}")
    return usable_cores()


def within_cores(count: int, asked: str) -> int:
    """``count`` threads, or :func:`usable_cores` with a warning where ``count`` is more."""
    cores = usable_cores()
    if count <= cores:
        return count
    warnings.warn(
        f"peronamalik: {asked} asks for more threads than the {cores} core{'s' * (cores != 1)} this process "
        f"may use; using {cores}", RuntimeWarning, stacklevel=3,
    )
    return cores


def set_num_threads(count: int | None) -> None:
    """Use ``count`` threads in torch and in the C kernels from now on (None: the default,
    :func:`default_num_threads`), at most :func:`usable_cores` (a warning says when fewer).

    Raises
    ------
    TypeError
        ``count`` is not an int (or None).
    ValueError
        ``count`` < 1.
    """
    if count is None:
        count = default_num_threads()
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError(f"count must be an int >= 1 or None, got {type(count).__name__}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    count = within_cores(count, f"set_num_threads({count})")
    if torch.get_num_threads() != count:
        torch.set_num_threads(count)


def get_num_threads() -> int:
    """Threads torch and the C kernels use now."""
    return torch.get_num_threads()


def passive_wait() -> bool:
    """Do idle OpenMP workers sleep at once (``OMP_WAIT_POLICY=PASSIVE`` was in effect when
    torch loaded its OpenMP runtime)?  False when torch was imported before peronamalik
    without it, or when the environment asks for another policy."""
    return _omp.PASSIVE


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` threads in torch and the C kernels (None: leave it),
    then restore.

    One thread is often faster for small images, where waking the workers costs more than
    they save.
    """
    previous = get_num_threads()
    if count is not None:
        set_num_threads(count)
    try:
        yield
    finally:
        set_num_threads(previous)


set_num_threads(default_num_threads())  # the policy, applied once at import

__all__ = [
    "ENV",
    "cgroup_cpu_limit",
    "default_num_threads",
    "get_num_threads",
    "passive_wait",
    "set_num_threads",
    "torch_threads",
    "usable_cores",
]
