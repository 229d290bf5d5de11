"""One vocabulary for bad input: :class:`InputError` and the checks that raise it.

Every public entry point (the core, the art mode, the readers and writers, the CLI) checks
what it is given with these helpers, so a bad value always ends in the same kind of error
naming the parameter and its allowed range.  The CLI turns :class:`InputError` (and
``OSError``) into one line on stderr with exit code 2; any other exception is a bug and
shows its traceback.

A value of the wrong *type* raises :class:`InputTypeError`, which is both an
:class:`InputError` and a ``TypeError`` (Python's convention for wrong types), the way
numpy's ``AxisError`` is both a ``ValueError`` and an ``IndexError``.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Collection, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


class InputError(ValueError):
    """Input the caller can fix: a parameter out of range, a bad array, an unreadable file."""


class InputTypeError(InputError, TypeError):
    """A parameter of the wrong type (also a ``TypeError``)."""


def _interval(low: float | None, high: float | None, low_open: bool) -> str:
    left = "-inf" if low is None else f"{low:g}"
    right = "inf" if high is None else f"{high:g}"
    return f"{'(' if low_open or low is None else '['}{left}, {right}{']' if high is not None else ')'}"


def real(
    name: str, value: Any, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    Integers too large for a float are out of range, not an ``OverflowError``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputTypeError(f"{name} must be a number, got {type(value).__name__} {value!r:.40}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf if value > 0 else -math.inf
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number in {_interval(low, high, low_open)}, got {number}")
    if (low is not None and (number < low or (low_open and number == low))) or (high is not None and number > high):
        raise InputError(f"{name} must be in {_interval(low, high, low_open)}, got {number:g}")
    return number


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (Python and numpy integers; not bool, not float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be an integer, got {type(value).__name__} {value!r:.40}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        shown = str(number) if abs(number) < 10**30 else f"an integer of {len(str(abs(number)))} digits"
        raise InputError(f"{name} must be an integer in [{low if low is not None else '-inf'}, "
                         f"{high if high is not None else 'inf'}], got {shown}")
    return number


def choice(name: str, value: T, choices: Collection[Any]) -> T:
    """``value`` if it is one of ``choices``."""
    try:
        known = value in choices
    except TypeError:  # unhashable
        known = False
    if not known:
        raise InputError(f"{name} must be one of {list(choices)}, got {value!r:.60}")
    return value


def flag(name: str, value: Any) -> bool:
    """A boolean (``True``/``False``, numpy's bools, or the integers 0 and 1)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and int(value) in (0, 1)):
        return bool(value)
    raise InputTypeError(f"{name} must be True or False, got {type(value).__name__} {value!r:.40}")


def reals(
    name: str, values: Any, count: int, *, low: float | None = None, high: float | None = None
) -> tuple[float, ...]:
    """One number broadcast to ``count`` values, or a sequence of exactly ``count`` numbers,
    each in ``[low, high]`` (the shape helper for per-axis parameters such as spacing)."""
    if isinstance(values, numbers.Real) and not isinstance(values, bool):
        values = [values] * count
    elif isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, range)) and not hasattr(values, "tolist"):
        raise InputTypeError(f"{name} must be a number or a sequence of numbers, got {type(values).__name__}")
    values = list(values.tolist() if hasattr(values, "tolist") else values)
    if len(values) != count:
        raise InputError(f"{name} needs {count} values (one per spatial axis), got {len(values)}")
    return tuple(real(f"{name} values", value, low=low, high=high) for value in values)


def axis(name: str, value: Any, ndim: int) -> int:
    """An axis index of an ``ndim``-D array, made non-negative (numpy's convention)."""
    index = integer(name, value)
    if not -ndim <= index < ndim:
        raise InputError(f"{name} must be in [{-ndim}, {ndim - 1}] for a {ndim}-D array, got {index}")
    return index % ndim


def machine_memory() -> int | None:
    """Bytes of physical memory, or None where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


def fits_in_memory(what: str, nbytes: float, *, memory: int | None = None) -> None:
    """Refuse, before allocating, a job whose working set exceeds the machine's memory."""
    memory = machine_memory() if memory is None else memory
    if memory is not None and nbytes > memory:
        raise InputError(
            f"{what} needs about {nbytes / 2**30:.3g} GiB, more than this machine's {memory / 2**30:.3g} GiB"
        )
