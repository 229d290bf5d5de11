"""The click group every sub-command registers on."""

import click

from peronamalik import __version__

#: ``--device``'s help, shared by the commands that take it.
DEVICE_HELP = "cpu, cuda, cuda:N or mps.  [default: cuda when available, else cpu]"
QUALITY_OPTION = click.option(
    "--quality", type=click.Choice(["high", "medium", "low"]), default="high", show_default=True,
    help="GIF: 255, 63 or 31 colours per frame (default art run: 1.9, 1.3, 0.7 MB; low bands smooth looks).",
)
DITHER_OPTION = click.option(
    "--dither", is_flag=True, help="GIF: Floyd-Steinberg dithering (smoother gradients, some shimmer, larger files)."
)
#: ``--seed`` of art and video: what the seed changes.
SEED_HELP = "Random seed: it changes the run only with --set kernel_noise above 0 (no preset draws random numbers)."


@click.group(
    name="peronamalik",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="peronamalik")
def app() -> None:
    """Perona-Malik diffusion: classic edge-preserving smoothing, and 'on drugs' animations."""
