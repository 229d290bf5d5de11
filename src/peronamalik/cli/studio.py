"""``peronamalik studio``: the live web studio (needs the ``[studio]`` extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from peronamalik._extras import require
from peronamalik.cli.app import app
from peronamalik.io.interrupts import signal_number


@app.command()
@click.argument("input_path", metavar="[PHOTO]", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the studio to the network.")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
@click.option("--device", help="cpu, cuda, mps (default: CUDA if available).")
def studio(input_path: Path | None, port: int, host: str, no_browser: bool, device: str | None) -> None:
    """Open a local web page where the animation plays live as K learns.

    Ctrl-C stops it: one line, exit status 130 (128 + the signal for SIGTERM or SIGHUP)."""
    require("uvicorn", "studio")
    require("starlette", "studio")
    from peronamalik.core.arrays import resolve_device
    from peronamalik.studio.classic import check_input
    from peronamalik.studio.server import listen, serve

    # Everything that can fail on bad input fails here, as one line and exit 2, before the
    # address is printed or any thread starts.
    if input_path is not None:
        check_input(input_path)  # a bad PHOTO
    resolve_device(device, None)  # as `smooth` and `art` check --device
    sockets = listen(host, port)  # an unknown host or a busy port
    if host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"peronamalik: warning: listening on {host}: anyone who can reach this machine can use the studio "
                   "(and its CPU); it has no login", err=True)
    try:
        serve(input_path, host=host, port=port, open_browser=not no_browser, device=device, sockets=sockets)
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: the server was asked to stop, and did
        if sys.stderr.isatty():
            click.echo(err=True)  # closes the terminal's ^C echo
        click.echo("peronamalik: studio stopped", err=True)
        raise click.exceptions.Exit(128 + signal_number(exc)) from None
