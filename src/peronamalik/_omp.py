"""Idle OpenMP workers sleep instead of spinning (see :mod:`peronamalik.core.threads`).

libgomp -- torch's OpenMP runtime, which the C kernels share -- reads ``OMP_WAIT_POLICY``
once, when torch loads it at its import: ``peronamalik/__init__.py`` imports this module
first, before anything imports torch.  A policy the environment sets is kept.
"""

import os
import sys

_given = os.environ.get("OMP_WAIT_POLICY")
if _given is None:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

#: Did (or will) torch's OpenMP runtime load with the passive wait policy?  False when torch
#: was imported before peronamalik without it, or the environment asks for another policy
#: or a spin count (``GOMP_SPINCOUNT``, which libgomp obeys whatever the policy).
PASSIVE = (_given if _given is not None else "" if "torch" in sys.modules else "PASSIVE").strip().upper() == "PASSIVE"
PASSIVE = PASSIVE and os.environ.get("GOMP_SPINCOUNT", "0").strip() in ("", "0")
