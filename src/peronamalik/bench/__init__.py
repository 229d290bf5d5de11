"""Benchmark: the project's diffusion paths against the peers, in one process, same inputs.

Run ``python -m peronamalik.bench`` or ``peronamalik bench`` (``--help`` for options).  Each
*case* is one job (e.g. 20 iterations of exp diffusion on a 2048² float32 image) run by one
implementation; the table reports, per case:

* **Mpix·it/s** -- spatial pixels × iterations / wall seconds, best of ``--repeat`` runs (the
  best run is the one least disturbed by other processes on a shared machine), after one
  warm-up call (which loads or compiles the fused kernel);
* **ratios** -- this rate over the rate of the project's reference path and of each peer
  *in the same group* (same input kind: 2-D grey, 3-D, RGB);
* **peak memory** -- the highest resident set size (RSS) during a separate run of the job
  (preparing the peer's input included, e.g. SimpleITK's image copy), above the RSS before,
  plus the bytes of the input arrays themselves (so: above the post-import baseline), in
  MiB and in multiples of the input's bytes (float32 grey or volume; uint8 RGB for OpenCV,
  float32 RGB for the project's RGB rows).  Linux: the kernel's own high-water
  mark ``VmHWM``, reset through ``/proc/self/clear_refs`` before the run, so even a peer
  that holds the GIL is measured exactly; elsewhere a thread samples RSS (psutil) every
  millisecond.  Before a memory run, memory malloc keeps for reuse is handed back to the
  OS (glibc ``malloc_trim``), so a block freed by one case cannot hide the next case's use.

Peers (skipped with a note when not installed):

* medpy ``anisotropic_diffusion`` (numpy; float32; exp = ``option=1``) -- same math;
* SimpleITK ``GradientAnisotropicDiffusionImageFilter`` -- same PDE, other conventions:
  ITK's time step is stable up to 1/2^(N+1) (0.125 in 2-D) and its conductance K is relative
  to the image's mean gradient magnitude, so results differ; throughput only;
* OpenCV ``cv2.ximgproc.anisotropicDiffusion`` -- takes only 8-bit 3-channel (RGB) images
  and uses 8 neighbours; compared with the project on the same RGB picture as float32
  (``channel_axis=-1``), pixels counted once per RGB pixel.

Modules: ``registry`` (settings, inputs, :class:`Case`, :class:`Result`), ``cases`` (the
project's rows and the peers' rows, in table order), ``peers`` (the outside implementations),
``gpu`` (CUDA rows), ``memory`` (peak RSS / CUDA memory), ``runner`` (timing, :func:`main`),
``report`` (the table).  The CLI (``peronamalik.cli.bench``) imports this package, never
the reverse.

More cases: :func:`register` a :class:`Case` (the learned "seed" step and the art job's
diffusion-vs-encoding split are meant to be added this way); a job may return a mapping
``{phase: seconds}``, printed as a split below the table.
"""

from __future__ import annotations

from peronamalik.bench import cases, gpu  # noqa: F401  (register the cases, in table order)
from peronamalik.bench.registry import REGISTRY, Case, Inputs, Result, Settings, cube_side, register
from peronamalik.bench.report import format_report
from peronamalik.bench.runner import main, run, run_case, select

__all__ = ["REGISTRY", "Case", "Inputs", "Result", "Settings", "cube_side", "format_report", "main", "register", "run", "run_case", "select"]
