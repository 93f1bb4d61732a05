"""How the command fails: one line on stderr and an exit code (2 for usage, 1 otherwise)."""

from __future__ import annotations

import argparse
import os
from typing import NoReturn

PROG = "neural-network"


class CommandError(Exception):
    """A failure to report as one line; ``exit_code`` 2 for usage errors, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CommandError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing the usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def describe(error: BaseException) -> str:
    """One line that says what went wrong."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{os.fspath(error.filename)}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
        # A missing optional extra says what to install in its own words.
        if not isinstance(error, (CommandError, ValueError, OSError, ModuleNotFoundError)):
            message = f"{type(error).__name__}: {message}"
    return " ".join(message.split())
