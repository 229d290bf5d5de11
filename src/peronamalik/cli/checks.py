"""Refusals every command shares: an option given or left at its default, an option that
does nothing for this input, an output that would replace the input.  Each is one line and
exit code 2 (:class:`~peronamalik._validate.InputError`), before any work."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import click
from click.core import ParameterSource

from peronamalik._validate import InputError
from peronamalik.cli.batch import is_batch

T = TypeVar("T")


def given_on_command_line(context: click.Context, name: str) -> bool:
    """Whether option ``name`` was given, not left at its default."""
    return context.get_parameter_source(name) not in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def given(name: str, value: T) -> T | None:
    """``value`` when the command line gave option ``name``, None when it is the option's
    default (an explicit ``--quality high`` on an .mp4 is refused, the default is not).  A
    batch's task calls the command without a context: its values count as given."""
    context = click.get_current_context(silent=True)
    if context is None:
        return value
    return value if given_on_command_line(context, name) else None


def refuse_for_one_input(applies: str, **given: object) -> None:
    """Options that only ``applies`` use (``--workers`` for a batch, ``--chunks`` for zarr),
    given for one input where they would do nothing: one line, not silently ignored."""
    for name, value in given.items():
        if value is not None:
            option = "--" + name.replace("_", "-")
            raise InputError(f"{option} applies to {applies}, not one input: drop {option}")


def check_not_input(input_path: Path, target: str | Path | None, option: str, what: str) -> None:
    """Refuse ``option`` naming the input itself (the same path, or another path, link or hard
    link to it): writing ``what`` would replace the input.  Checked before any work."""
    if target is None or not (Path(target).exists() and input_path.exists()):
        return
    try:
        same = Path(target).samefile(input_path)
    except OSError:  # unreadable: the read or the write says so
        return
    if same:
        raise InputError(f"{option} names the input {input_path}: {what} would replace it; give another name")


def check_input_exists(input_path: Path | None) -> None:
    """Refuse an INPUT that is not there before torch loads: a mistyped name is answered at
    once, not after seconds of loading.  No INPUT (the bundled sample, a webcam) and a batch
    (a glob or a folder, which says when it matches nothing) pass."""
    if input_path is not None and not input_path.exists() and not is_batch(input_path):
        raise InputError(f"input {input_path} does not exist")
