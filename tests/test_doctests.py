"""The examples in the docstrings run as doctests: every module of the package whose source
holds ``>>>``, imported as the package is (a module whose optional dependency is missing is
skipped with the reason its import gives)."""

import doctest
import importlib
from pathlib import Path

import pytest

import peronamalik

PACKAGE = Path(peronamalik.__file__).parent


def _modules_with_examples() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


MODULES = _modules_with_examples()


def test_the_scan_finds_the_documented_modules() -> None:
    assert {"peronamalik.core.diffuse", "peronamalik.core.module", "peronamalik.art.animate"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # an extra that is not installed
        pytest.skip(str(exc))
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0, f"{name}: its examples were not found by doctest"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (see the output above)"
