"""The click group every sub-command registers on."""

import click

from peronamalik import __version__

#: ``--device``'s help, shared by the commands that take it.
DEVICE_HELP = "cpu, cuda, cuda:N or mps.  [default: cuda when available, else cpu]"


@click.group(
    name="peronamalik",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="peronamalik")
def app() -> None:
    """Perona-Malik diffusion: classic edge-preserving smoothing, and 'on drugs' animations."""
