"""The ``neural-network`` command: ``train``, ``evaluate``, ``predict`` and ``serve``.

One module per subcommand. Apart from training's progress bar and log lines, this package
is the only part of the library that prints. Names
given on the command line or in a config file (activations, datasets) are looked up in one
dict each, ``ACTIVATIONS`` and ``DATASETS``. Every failure ends as one line on stderr,
``neural-network: error: ...``, with exit code 2 for a usage error (an unknown option, a bad
option value, a bad config file key) and 1 for anything else (a missing file, an unreadable
image, a corrupt model); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import evaluate, predict, serve, train
from .errors import PROG, ArgumentParser, CommandError, describe

__all__ = ["build_parser", "main"]


def build_parser() -> ArgumentParser:
    """The argument parser of the four commands."""
    common = ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    parser = ArgumentParser(
        prog=PROG,
        description="Train, evaluate and use a from-scratch NumPy MLP on MNIST-like digits.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (train, evaluate, predict, serve):
        command.add_parser(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug
        return args.handler(args) or 0
    except SystemExit as stop:  # --help and --version
        return stop.code if isinstance(stop.code, int) else 0
    except KeyboardInterrupt:
        if debug:
            raise
        _error("interrupted")
        return 130
    except Exception as error:
        if debug:
            raise
        _error(describe(error))
        return error.exit_code if isinstance(error, CommandError) else 1


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)
