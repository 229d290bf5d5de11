"""``peronamalik bench``: the project's diffusion paths against medpy, SimpleITK and OpenCV."""

from __future__ import annotations

from pathlib import Path

import click

from peronamalik.cli.app import app


BENCH_HELP = """Time the project's paths (reference and fused) and the peers on the same inputs.

Prints Mpix·it/s (pixels × iterations / s), the ratio to the reference path and to each
peer, peak memory, and the start-up time of the command line.  Missing peers are skipped
with a note.  Progress goes to stderr, the table to stdout.

\b
Examples:
  peronamalik bench --quick                    # a smoke test: seconds, main rows only
  peronamalik bench --only fused --only medpy --json bench.json
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
@click.option("--quick", is_flag=True, help="512² inputs, 5 iterations, one run, no memory runs, the main rows only: a smoke test.")
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="WORD",
    help="Run only cases whose name contains WORD (repeatable), e.g. --only fused --only medpy.",
)
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
def bench_command(
    size: int, iterations: int, repeat: int, quick: bool, only: tuple[str, ...], memory: bool | None, json_path: Path | None,
    overwrite: bool, quality: bool, images: tuple[Path, ...], quiet: bool,
) -> None:
    if images and not quality:
        raise click.UsageError("--image needs --quality (the speed benchmark makes its own inputs)")
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
