"""``peronamalik art``: a "Perona-Malik on drugs" animation from a photo."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from peronamalik._validate import InputError
from peronamalik.art.config import ArtConfig, load_config_file, split_sidecar
from peronamalik.art.presets import DEFAULT_PRESET, PHOTO_PRESETS, preset_config
from peronamalik.cli.app import app
from peronamalik.cli.progress import progress_bar


def resolve_settings(
    config_file: Path | None, preset: str | None, assignments: tuple[str, ...], flags: dict[str, Any]
) -> tuple[ArtConfig, dict[str, Any]]:
    """Config from a file (plain or a sidecar) or a preset, then ``--set``, then flags.

    Returns the config and what a sidecar adds: ``preset``, ``seed``, ``input`` and ``backend``.
    """
    recorded: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        if config_file is not None:
            data, recorded = split_sidecar(load_config_file(config_file))
            config = ArtConfig.from_dict(data) if preset is None else preset_config(preset).replace(**data)
        else:
            config = preset_config(preset or DEFAULT_PRESET)
        for assignment in assignments:
            config = config.with_setting(assignment)
        config = config.replace(**{key: value for key, value in flags.items() if value is not None})
    for note in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)):
        click.echo(f"peronamalik: note: {note}", err=True)
    return config, recorded


def resolve_input(input_path: Path | None, recorded: dict[str, Any], sidecar: Path | None = None) -> str | Path:
    """The explicit INPUT, else the sidecar's input (checked by SHA-256), else the sample.

    A relative recorded path is looked for beside the ``sidecar`` first (how sidecars record
    it), then in the working folder (sidecars of earlier versions)."""
    from peronamalik.art.source import SAMPLE_REF, reference_sha256

    if input_path is not None:
        return input_path
    if not recorded.get("input"):
        return SAMPLE_REF
    reference, digest = recorded["input"].get("path"), recorded["input"].get("sha256")
    if reference == SAMPLE_REF:
        found: str | Path = SAMPLE_REF
    else:
        candidates = [Path(reference)] if sidecar is None else [sidecar.parent / reference, Path(reference)]
        found = next((path for path in candidates if path.is_file()), None)
        if found is None:
            raise InputError(f"the config's input {reference} is missing; give INPUT explicitly")
    if reference_sha256(found) != digest:
        raise InputError(f"the config's input {found} changed since it was rendered (SHA-256 differs)")
    return found


@contextmanager
def reporting_interrupts() -> Iterator[None]:
    """Ctrl-C (SIGTERM, SIGHUP) during a render: one line saying what was kept (nothing
    before the first frame); exit code 128 + the signal (130 for Ctrl-C)."""
    from peronamalik.art.animate import RenderInterrupted, sidecar_path

    try:
        yield
    except RenderInterrupted as stop:
        kept = f" (a valid file; {sidecar_path(stop.path)} records the run)" if stop.frames else ""
        click.echo(f"peronamalik: {stop}{kept}", err=True)
        raise click.exceptions.Exit(128 + stop.signum) from None


def announce(written: Path) -> None:
    from peronamalik.art.animate import sidecar_path

    click.echo(f"wrote {written} and {sidecar_path(written)}", err=True)


@app.command()
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(), help="Output: .gif .webp .mp4 .webm .png or a directory/. Default: INPUT-art.gif here.")
@click.option("--preset", type=click.Choice(sorted(PHOTO_PRESETS)), default=None, help=f"Look (default {DEFAULT_PRESET}).")
@click.option("--iterations", type=int, help="Diffusion + learning steps.")
@click.option("--every", type=int, help="A frame after every N-th iteration.")
@click.option("--fps", type=float, help="Frames per second of the animation.")
@click.option("--size", type=int, help="Resize the longer side to this many pixels.")
@click.option("--seed", type=int, help="Random seed (recorded in OUTPUT.json).")
@click.option("--device", help="cpu, cuda, mps (default: CUDA if available).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set lr=0.5 --set loss_weights.edge=2.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), help="Config file (JSON/TOML), or an earlier OUTPUT.json to render it again.")
@click.option("--dither", is_flag=True, help="GIF: Floyd-Steinberg dithering (smoother gradients, some shimmer).")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
def art(
    input_path: Path | None, output: str | None, preset: str | None, iterations: int | None, every: int | None,
    fps: float | None, size: int | None, seed: int | None, device: str | None, assignments: tuple[str, ...],
    config_file: Path | None, dither: bool, overwrite: bool,
) -> None:
    """Turn a photo (default: the bundled sample) into a looping "on drugs" animation."""
    from peronamalik.art.animate import render
    from peronamalik.art.source import SAMPLE_NAME, SAMPLE_REF

    config, recorded = resolve_settings(
        config_file, preset, assignments, {"iterations": iterations, "every": every, "fps": fps, "size": size}
    )
    source = resolve_input(input_path, recorded, config_file)
    stem = SAMPLE_NAME if source == SAMPLE_REF else Path(source).stem
    output = output if output is not None else f"{stem}-art.gif"
    with reporting_interrupts(), progress_bar("on drugs", "it") as progress:
        written = render(
            source, output, config=config, preset=preset or recorded.get("preset") or DEFAULT_PRESET,
            seed=seed if seed is not None else recorded.get("seed"), device=device, overwrite=overwrite, progress=progress, dither=dither,
            backend=recorded.get("backend"),  # the recorded path, or the closest with a warning
        )
    announce(written)
