"""Wall time beside busy processes: does the program share the machine well? (issue 12)

Two jobs, each in a fresh process, with 0, 1 and 2 competing busy processes
(``while True: pass``) started just before and killed just after:

* ``art``: the default ``peronamalik art`` on the bundled sample (the CLI, wall time of the
  whole command, imports included);
* ``classic``: ``peronamalik.diffuse`` of a 2048² float32 image, 100 iterations (the call
  only, after a warm-up call that loads the kernel).

Each is run with no OpenMP settings in the environment (``default``: the package's own
policy) and, for comparison, with torch's OpenMP workers spinning as libgomp does by
default (``spin``: ``GOMP_SPINCOUNT=300000``).  ``--src`` runs another checkout's
``src`` (e.g. the code before the thread policy) under the same conditions.  Printed: the median wall time of ``--repeat`` runs per
case (the cases run in turns, ``--repeat`` rounds), its ratio to the same job's idle time
(a fair share of 2 cores beside 2 busy processes is 2x for a job that keeps both busy), and
the CPU seconds the job's threads used (spinning workers show here: CPU time that grows
with the competition, while the work is the same).

    python benchmarks/threads.py [--repeat 2] [--jobs art classic] [--policies default spin] [--src DIR]

Competitors end themselves after ``--limit`` seconds even if this script is killed.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
CLASSIC = """
import time, numpy as np, peronamalik
image = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
peronamalik.diffuse(image, iterations=1, kappa=0.1)  # loads the kernel
start, cpu = time.perf_counter(), time.process_time()
peronamalik.diffuse(image, iterations=100, kappa=0.1)
print(time.perf_counter() - start, time.process_time() - cpu)
"""
POLICIES = {
    "default": {},  # no OpenMP settings: the package's own policy
    "spin": {"GOMP_SPINCOUNT": "300000"},  # torch's OpenMP workers spin as libgomp's default
}


def busy(count: int, limit: float) -> list[subprocess.Popen]:
    """``count`` processes spinning on a core, each ending by itself after ``limit`` s."""
    code = f"import time\nend = time.monotonic() + {limit}\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for p in processes:
        p.kill()
    for p in processes:
        p.wait()


def run_job(job: str, env: dict[str, str], folder: str) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of one run of ``job``."""
    if job == "art":
        out = Path(folder) / "art.gif"
        command = [sys.executable, "-m", "peronamalik", "art", "-o", str(out), "--overwrite"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True, cwd=folder)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    proc = subprocess.run([sys.executable, "-c", CLASSIC], env=env, check=True, capture_output=True, text=True)
    wall, cpu = proc.stdout.split()[-2:]
    return float(wall), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--jobs", nargs="+", default=["art", "classic"], choices=["art", "classic"])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--competitors", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--src", default=SRC, help="the package's source folder to run")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds a competitor lives at most")
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    base["PYTHONPATH"] = args.src + os.pathsep + base.get("PYTHONPATH", "")
    print(f"source: {args.src}")
    print(f"cores usable: {len(os.sched_getaffinity(0))}, load average before: {os.getloadavg()[0]:.2f}")
    cases = [(job, policy, count) for job in args.jobs for policy in args.policies for count in args.competitors]
    runs: dict[tuple, list[float]] = {case: [] for case in cases}
    cpus: dict[tuple, list[float]] = {case: [] for case in cases}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a kill still runs the `finally`s
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):  # in turns, so a change of the machine's load hits every case
            for job, policy, count in cases:
                competitors = busy(count, args.limit)
                try:
                    time.sleep(0.2)  # let them take their cores
                    wall, cpu = run_job(job, {**base, **POLICIES[policy]}, folder)
                    runs[job, policy, count].append(wall)
                    cpus[job, policy, count].append(cpu)
                finally:
                    stop(competitors)
                print(f"{job} {policy} {count}: {runs[job, policy, count][-1]:.2f} s", file=sys.stderr, flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("| job | policy | competitors | wall s (median) | runs | × idle | CPU s (median) |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: |")
    for job, policy, count in cases:
        wall = statistics.median(runs[job, policy, count])
        idle = statistics.median(runs[job, policy, 0]) if (job, policy, 0) in runs else None
        ratio = f"{wall / idle:.2f}" if idle else ""
        spread = " ".join(f"{r:.2f}" for r in runs[job, policy, count])
        cpu = statistics.median(cpus[job, policy, count])
        print(f"| {job} | {policy} | {count} | {wall:.2f} | {spread} | {ratio} | {cpu:.2f} |")

if __name__ == "__main__":
    main()
