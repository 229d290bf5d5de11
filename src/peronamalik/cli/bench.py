"""``peronamalik bench``: the project's diffusion paths against medpy, SimpleITK and OpenCV."""

from __future__ import annotations

from pathlib import Path

import click

from peronamalik.cli.app import app
from peronamalik.cli.checks import given_on_command_line

#: Options only the speed benchmark reads: refused with --quality (which takes --quick,
#: --image and -q), not ignored.
SPEED_ONLY = ("size", "iterations", "repeat", "only", "memory", "json_path", "overwrite")
#: Options that do nothing with --list (which takes --only, --quick and -q).
NOT_FOR_LIST = ("size", "iterations", "repeat", "memory", "json_path", "overwrite", "quality", "images")


BENCH_HELP = """Time the project's paths (reference and fused) and the peers on the same inputs.

Prints Mpix·it/s (pixels × iterations / s), the ratio to the reference path and to each
peer, peak memory, and the start-up time of the command line.  Missing peers are skipped
with a note.  Progress goes to stderr, the table to stdout.

\b
Examples:
  peronamalik bench --quick                    # a smoke test: seconds, main rows only
  peronamalik bench --only fused --only medpy --json bench.json
  peronamalik bench --list                     # the case names --only picks from
  peronamalik bench --quality                  # denoising quality instead of speed
  peronamalik bench --quality --image a.jpg --image b.png   # ... on your own photos
"""


@app.command("bench", help=BENCH_HELP, short_help="Time the project's paths and the peers on the same inputs.")
@click.option("--size", default=2048, show_default=True, type=click.IntRange(min=4),
              help="Side of the 2-D images (the 3-D volume has about as many voxels).")
@click.option("--iterations", default=20, show_default=True, type=click.IntRange(min=1),
              help="Diffusion iterations per timed run (GPU rows: ten times as many).")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(min=1),
              help="Timed runs per case (after one warm-up); the best counts.")
@click.option(
    "--quick", is_flag=True,
    help="512² inputs, 5 iterations, one run, no memory runs, the main rows only: a smoke test "
    "(with --quality: one noise level, two 64² crops).",
)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="WORD",
    help="Run only cases whose name contains WORD (repeatable), e.g. --only fused --only medpy.  "
    "A WORD that matches no case is refused; --list shows the names.",
)
@click.option("--list", "list_cases", is_flag=True, help="Print the case names (with --only or --quick: those that would run) and exit.")
@click.option(
    "--memory/--no-memory",
    default=None,
    help="Also measure each case's peak memory (one more run per case).  [default: on; off with --quick]",
)
@click.option(
    "--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the full report as JSON (for machines), e.g. --json bench.json."
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --json file.")
@click.option("--quality", is_flag=True, help="Denoising quality instead of speed (peronamalik.quality; 128² crops).")
@click.option(
    "--image", "images", multiple=True, type=click.Path(path_type=Path), metavar="PATH",
    help="With --quality: your own photo (repeatable), its central 256² crop, instead of scikit-image's.",
)
@click.option("-q", "--quiet", is_flag=True, help="Only the table: no \"running\" lines on stderr.")
@click.pass_context
def bench_command(
    ctx: click.Context, size: int, iterations: int, repeat: int, quick: bool, only: tuple[str, ...], list_cases: bool,
    memory: bool | None, json_path: Path | None, overwrite: bool, quality: bool, images: tuple[Path, ...], quiet: bool,
) -> None:
    if list_cases and (extra := given(ctx, NOT_FOR_LIST)):
        raise click.UsageError(f"--list only prints the speed benchmark's case names: drop {', '.join(extra)}")
    if images and not quality:
        raise click.UsageError("--image needs --quality (the speed benchmark makes its own inputs)")
    if quality and (extra := given(ctx, SPEED_ONLY)):
        verb, pronoun = ("belongs", "it") if len(extra) == 1 else ("belong", "them")
        raise click.UsageError(f"{', '.join(extra)} {verb} to the speed benchmark, not --quality: drop {pronoun}")
    if overwrite and json_path is None:
        raise click.UsageError("--overwrite needs --json (it replaces an existing --json file)")
    if list_cases:
        from peronamalik import bench

        for case in bench.select(list(only), quick=quick):
            click.echo(case.name)
        return
    if quality:
        from peronamalik import quality as quality_bench

        quality_bench.main(quick=quick, images=images, echo=click.echo)
        return
    from peronamalik import bench

    bench.main(
        size=size,
        iterations=iterations,
        repeat=repeat,
        quick=quick,
        only=list(only) or None,
        memory=memory,
        json_path=str(json_path) if json_path else None,
        echo=click.echo,
        overwrite=overwrite,
        quiet=quiet,
    )


def given(ctx: click.Context, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` given on the command line (or by the environment), not left
    at their defaults, spelled as given (``--no-memory`` for memory off), in --help's order."""
    spelled = []
    for param in ctx.command.params:
        if param.name in names and given_on_command_line(ctx, param.name):
            off = isinstance(param, click.Option) and param.secondary_opts and ctx.params[param.name] is False
            spelled.append(param.secondary_opts[0] if off else max(param.opts, key=len))
    return spelled
