"""``peronamalik art``: a "Perona-Malik on drugs" animation from a photo."""

from __future__ import annotations

import warnings
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from peronamalik._validate import InputError
from peronamalik.art.config import ArtConfig, load_config_file, split_sidecar
from peronamalik.art.presets import DEFAULT_PRESET, LOOK_PRESETS, PHOTO_PRESETS, PRESETS, REPRODUCTIONS, preset_config
from peronamalik.cli.app import DEVICE_HELP, DITHER_OPTION, QUALITY_OPTION, SEED_HELP, app
from peronamalik.cli.batch import ART_SUFFIX, is_batch, run_batch
from peronamalik.cli.checks import check_input_exists, check_not_input, given, given_on_command_line, refuse_for_one_input
from peronamalik.cli.progress import human_size, progress_bar


def resolve_settings(
    config_file: Path | None, preset: str | None, assignments: tuple[str, ...], flags: dict[str, Any]
) -> tuple[ArtConfig, dict[str, Any]]:
    """Config from a file (plain or a sidecar) or a preset, then ``--set``, then flags.

    A sidecar holds a whole config and is rendered as it is; a plain file's fields apply on
    top of the preset (``--preset``, else the default), as ``--set`` does (they applied to
    the bare defaults, while the sidecar recorded the default preset).

    Returns the config and what a sidecar adds: ``preset``, ``seed``, ``input``, ``backend``
    and ``platform`` (where it differs from this machine's, a note says so).
    """
    from peronamalik.art.animate import platform_note

    recorded: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        if config_file is not None:
            data, recorded = split_sidecar(load_config_file(config_file))
            whole = preset is None and bool(recorded)  # a sidecar: the config it recorded
            config = ArtConfig.from_dict(data) if whole else preset_config(preset or DEFAULT_PRESET).replace(**data)
        else:
            config = preset_config(preset or DEFAULT_PRESET)
        for assignment in assignments:
            config = config.with_setting(assignment)
        config = config.replace(**{key: value for key, value in flags.items() if value is not None})
    notes = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    notes.append(platform_note(recorded.get("platform")))
    for note in dict.fromkeys(note for note in notes if note):
        click.echo(f"peronamalik: note: {note}", err=True)
    return config, recorded


def set_keys(assignments: tuple[str, ...]) -> set[str]:
    """The keys that ``--set KEY=VALUE`` assignments name."""
    return {assignment.split("=", 1)[0].strip() for assignment in assignments}


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
    """``wrote OUT (N frames, 1.2 MB) and OUT.json`` on stderr; a .png holds one frame:
    ``(the last of N frames, …)``, as ``smooth --every`` says."""
    from peronamalik.art.animate import sidecar_path
    from peronamalik.io.animation import check_output_kind

    sidecar = sidecar_path(written)
    frames = json.loads(sidecar.read_text(encoding="utf-8")).get("frames")
    size = human_size(written)
    if check_output_kind(written) == "png" and frames != 1:
        what = f"the last of {frames} frames"
    else:
        what = f"{frames} frame{'s' * (frames != 1)}"
    click.echo(f"wrote {written} ({what}, {size}) and {sidecar}", err=True)


#: The CLI's names of :func:`~peronamalik.art.animate.check_output_options`' options.
OUTPUT_OPTION_NAMES = {"dither": "--dither", "gif_quality": "--quality", "fps": "--fps"}


def refuse_other_options(context: click.Context, alone: str) -> None:
    """The option named ``alone`` (``listing``: ``--list-presets``) works alone: any other
    option or argument on the command line is refused in one line, not ignored."""
    def shown(param: click.Parameter) -> str:
        return "/".join(param.opts) if isinstance(param, click.Option) else param.human_readable_name.strip("[]")

    flag = next(shown(param) for param in context.command.params if param.name == alone)
    others = [
        shown(param) for param in context.command.params
        if param.name != alone and given_on_command_line(context, param.name)
    ]
    if others:
        raise InputError(f"{flag} takes no other option: drop {', '.join(others)}")


#: What each preset looks like (``--preset``, ``--list-presets``).
LOOKS = {
    "ember": "the seed's live-video loss on a photo: a steady red-orange glow, subject sharp",
    "glow": "the whole photo washes brighter through green, pink and magenta and back, its edges kept",
    "ink": "ember on the luminance alone: a dark, high-contrast engraving in the photo's own colours",
    "kitty": "kitty.gif's look: sinks toward black in its own colours, gold sparkles on its edges, back at each refresh",
    "seed": "2017 reproduction: the original, exactly (its look depends on the image size)",
    "vanilla": "2017 reproduction: the fixed Laplacian, nothing learned: a slow, gentle blur",
    "video": "2017 reproduction: the live-video mode (peronamalik video only)",
}


def preset_default(name: str) -> Any:
    """A field's value in each preset, for --help: "3000", or "30 (seed: 75)"."""
    base = {f.name: f.default for f in dataclasses.fields(ArtConfig)}
    values = {preset: {**base, **PRESETS[preset]}[name] for preset in PHOTO_PRESETS}
    usual = values[DEFAULT_PRESET]
    others = ", ".join(f"{preset}: {value:g}" for preset, value in sorted(values.items()) if value != usual)
    return f"{usual:g}" + (f" ({others})" if others else "")


def list_presets() -> None:
    """``--list-presets``: one line per preset, its name and look."""
    for name in sorted(PRESETS):
        click.echo(f"{name:8}  {LOOKS.get(name, '')}")


ART_EXAMPLES = """Turn a photo (default: the bundled sample) into a looping "on drugs" animation.

\b
Examples:
  peronamalik art                          # the bundled cat, ember, chelsea-art.gif
  peronamalik art photo.jpg --preset kitty -o kitty.mp4
  peronamalik art --config chelsea-art.gif.json -o again.webp   # render a run again
  peronamalik art 'photos/*.jpg' -o out/ --preset ink   # a batch (or a folder): one GIF each

\b
Outputs: .gif (--quality), .webp, .mp4, .webm, .mkv; .png writes the last frame only;
DIR/ writes numbered PNG frames.  OUTPUT.json records the run (config, seed, input).

\b
Looks (each changes any photo visibly and keeps its subject):
""" + "\n".join(f"  {name:8}  {LOOKS[name]}" for name in sorted(LOOK_PRESETS)) + """

\b
Reproductions of the 2017 modes (ALGORITHM.md's exact parameters):
""" + "\n".join(f"  {name:8}  {LOOKS[name]}" for name in REPRODUCTIONS)


@app.command(help=ART_EXAMPLES, short_help="Turn a photo into a looping \"on drugs\" animation.")
@click.argument("input_path", metavar="[INPUT]", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(), show_default="INPUT-art.gif here",
              help="Output: .gif .webp .mp4 .webm .mkv, .png (last frame) or DIR/ (PNG frames).")
@click.option("--preset", type=click.Choice(sorted(PHOTO_PRESETS)), default=None, show_default=DEFAULT_PRESET,
              help="Look (listed above; --list-presets).")
@click.option("--list-presets", "listing", is_flag=True, help="Print the presets, one line each, and exit (no other option).")
@click.option("--iterations", type=click.IntRange(min=1), show_default=preset_default("iterations"),
              help="Diffusion + learning steps.")
@click.option("--every", type=click.IntRange(min=1), show_default=preset_default("every"),
              help="A frame after every N-th iteration (an animation needs ITERATIONS / N ≥ 2).")
@click.option("--fps", type=float, show_default=preset_default("fps"),
              help="Frames per second of the animation (not for a .png: the last frame only).")
@click.option("--size", type=click.IntRange(min=8), show_default=preset_default("size"),
              help="Resize the longer side to this many pixels (8 or more).")
@click.option("--seed", type=int, show_default="a fresh one, recorded in OUTPUT.json", help=SEED_HELP)
@click.option("--device", help=DEVICE_HELP)
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Any config field, e.g. --set lr=0.5 --set loss_weights.edge=2.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), help="Config file (JSON/TOML), or an earlier OUTPUT.json to render it again.")
@QUALITY_OPTION
@DITHER_OPTION
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no \"wrote\" line (errors and warnings still print).")
@click.option("--workers", type=int, default=None, help="Batch: run on a local Dask cluster of N processes.")
@click.option("--scheduler", default=None, help="Batch: run on the Dask cluster at this address (tcp://host:port).")
def art(
    input_path: Path | None, output: str | None, preset: str | None, iterations: int | None, every: int | None,
    fps: float | None, size: int | None, seed: int | None, device: str | None, assignments: tuple[str, ...],
    config_file: Path | None, quality: str, dither: bool, overwrite: bool, quiet: bool, workers: int | None,
    scheduler: str | None, listing: bool = False,
) -> None:
    if listing:
        refuse_other_options(click.get_current_context(), "listing")
        return list_presets()
    if is_batch(input_path):  # a glob or a folder: one task per file
        return run_batch("art", input_path, output, suffix=ART_SUFFIX)
    refuse_for_one_input("batches (many files)", workers=workers, scheduler=scheduler)
    check_input_exists(input_path)
    from peronamalik.art.animate import check_output_options, render
    from peronamalik.art.source import SAMPLE_NAME, SAMPLE_REF

    gif_quality = given("quality", quality)  # None: the default ("high"), which suits any format
    # before any work: an option the format does not take (without -o: a .gif, which takes them all);
    # --set fps=N is a frame rate the user gave, as --fps is (a preset's own is not)
    set_fps = fps is None and "fps" in set_keys(assignments)
    check_output_options(
        output or "default.gif", dither=dither, gif_quality=gif_quality, fps=True if set_fps else fps,
        names=OUTPUT_OPTION_NAMES | ({"fps": "--set fps"} if set_fps else {}),
    )
    config, recorded = resolve_settings(
        config_file, preset, assignments, {"iterations": iterations, "every": every, "fps": fps, "size": size}
    )
    output = check_frame_count(config, output)
    source = resolve_input(input_path, recorded, config_file)
    stem = SAMPLE_NAME if source == SAMPLE_REF else Path(source).stem
    output = output if output is not None else f"{stem}-art.gif"
    if source != SAMPLE_REF:
        check_not_input(Path(source), output, "-o", "the animation")
    with reporting_interrupts(), progress_bar("on drugs", "it", quiet=quiet) as progress:
        written = render(
            source, output, config=config, preset=preset or recorded.get("preset") or DEFAULT_PRESET,
            seed=seed if seed is not None else recorded.get("seed"), device=device, overwrite=overwrite, progress=progress, dither=dither,
            backend=recorded.get("backend"),  # the recorded path, or the closest with a warning
            gif_quality=gif_quality,
        )
    if not quiet:
        announce(written)


def check_frame_count(config: ArtConfig, output: str | None) -> str | None:
    """An animation of one frame is a mistake (``--iterations 10 --every 30``): refused,
    unless OUTPUT is a .png (the last frame only); returns ``output``."""
    frames = -(-config.iterations // config.every)
    if frames < 2 and not str(output or "").lower().endswith(".png"):
        raise click.UsageError(
            f"--iterations {config.iterations} with --every {config.every} makes {frames} frame; an animation "
            f"needs --every at most {max(1, config.iterations // 2)} (or -o NAME.png for the last frame)"
        )
    return output
