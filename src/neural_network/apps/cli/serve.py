"""``neural-network serve``: the draw-a-digit page."""

from __future__ import annotations

import argparse
from typing import Any

from ..server import DEFAULT_PORT, serve
from .models import load_model_file
from .options import Option, flag_type, port_number


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``serve`` subcommand and its options."""
    command = commands.add_parser(
        "serve",
        parents=[common],
        help="a web page to draw a digit and watch the network answer",
        description="Serve a page on which you draw a digit with the mouse or a finger and "
        "watch the class probabilities change as you draw. Without MODEL, a small network "
        "shipped with the package answers.",
    )
    command.add_argument(
        "model", metavar="MODEL", nargs="?", help="a model file (default: the demo model)"
    )
    command.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, reachable from this computer only)",
    )
    command.add_argument(
        "--port",
        type=flag_type(Option("port", port_number, "")),
        default=DEFAULT_PORT,
        metavar="N",
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    command.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """``neural-network serve``: runs until Ctrl+C."""
    model = None if args.model is None else load_model_file(args.model)

    def announce(url: str) -> None:
        print(f"Serving the demo page on {url} (Ctrl+C to stop)", flush=True)

    serve(model, args.host, args.port, on_ready=announce)
    return 0
