"""Optional dependencies: imported where a feature needs them, with the extra that installs them.

``pip install peronamalik`` needs only torch and numpy: :func:`peronamalik.diffuse`,
:class:`~peronamalik.PeronaMalik` and the learned mode on arrays run with those.  Files
and the command line need more; a missing module is an ImportError naming the extra::

    peronamalik: reading and writing images needs 'tifffile' (pip install 'peronamalik[io]')
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

#: extra -> what it is for (the message's words); pyproject.toml lists the packages.
EXTRAS = {
    "io": "reading and writing images",
    "video": "animations and videos",
    "cli": "the command line",
    "studio": "the web studio",
    "dask": "zarr volumes and Dask clusters",
    "bench": "peronamalik bench",
}


class MissingExtra(ModuleNotFoundError):
    """A module an optional feature needs is not installed; :attr:`need` says which extra
    installs it (the command line prints that line and exits with 2, as for bad input)."""

    def __init__(self, need: str, name: str) -> None:
        super().__init__(f"peronamalik: {need}", name=name)
        self.need = need


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``; if it is not installed, a :class:`MissingExtra` saying which extra installs it.

    Parameters
    ----------
    module : str
        A dotted module name, e.g. ``"PIL.Image"``.
    extra : str
        One of :data:`EXTRAS`.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is None or exc.name.split(".")[0] != top:
            raise  # the module is there; something it imports is broken
        raise MissingExtra(f"{EXTRAS[extra]} needs {top!r} (pip install 'peronamalik[{extra}]')", top) from exc


def lazy_exports(
    package: str, where: dict[str, tuple[str, ...]]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for a package whose public names live in
    submodules imported on first use (PEP 562): ``where`` maps a submodule (relative to
    ``package``) to the names it exports."""
    module_of = {name: module for module, names in where.items() for name in names}

    def __getattr__(name: str) -> Any:
        if name not in module_of:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_of[name]}"), name)
        setattr(sys.modules[package], name, value)  # later look-ups skip this hook
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(module_of))

    return sorted(module_of), __getattr__, __dir__
