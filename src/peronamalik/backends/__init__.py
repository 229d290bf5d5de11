"""Backends behind one door: the same diffusion, three ways to run it.

=============  ==========================================================================
``reference``  :mod:`.reference` -- the readable torch steps of :mod:`peronamalik.core.schemes`;
               defines the result, runs everything.
``native``     :mod:`.native` -- C kernels (``native/kernels/*.c``) built with the system's
               compiler on first need; CPU, the "flux"/"flux8" schemes and the learned step.
``compiled``   :mod:`.compiled` -- ``torch.compile`` of the reference steps (Triton on CUDA).
=============  ==========================================================================

Each backend answers ``covers(job) -> str | None`` (what in the job is not for it; None:
nothing) and ``why_not(job) -> str | None`` (that, or why it cannot run here, e.g. no
compiler; None: it can), and runs a :class:`~.job.Diffusion` with ``run(job)``; the learned engine steps through the
backend :func:`~.policy.choose_learned` picked for it.  :mod:`.policy` alone picks (its
docstring has the rule: the path never depends on timing or cache state), and
:func:`backend` scopes a choice::

    with peronamalik.backend("reference"):
        ...

What may import what: ``policy`` imports the backends; the backends import
``peronamalik.core`` (schemes, diffusivities) and :mod:`.job`, never ``art`` or each other
(``compiled`` binds its steps with :func:`.reference.make_step`); ``core.diffuse`` and
``art.engine`` import ``policy`` (and the engine its backends' step functions).
"""

from peronamalik.backends.policy import NAMES, BackendWarning, backend, requested

__all__ = ["NAMES", "BackendWarning", "backend", "requested"]
