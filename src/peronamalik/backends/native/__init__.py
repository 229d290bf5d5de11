"""The native backend: the package's C kernels and their Python side, together.

``kernels/`` holds the C (``flux.c``: the "flux"/"flux8" diffusion; ``learned.c``: the
learned "on drugs" step; shared headers), :mod:`.build` builds, caches, verifies and loads
them, :mod:`.flux` and :mod:`.learned` say what each covers and call it.
"""
