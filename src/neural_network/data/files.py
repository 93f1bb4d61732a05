"""Opening a file to read only when it is a regular file, so that a FIFO, a device or a
folder given by mistake (or on purpose) is refused at once instead of blocking forever
(a FIFO with no writer) or being read without end (``/dev/zero``)."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular_file(
    path: str | os.PathLike, what: str, *, max_bytes: int | None = None
) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    The file is opened without blocking (a FIFO with no writer would block ``open``) and
    checked with ``fstat`` on the descriptor, so what is checked is what is read.

    Args:
        path: The file.
        what: What the file should be, for the message ("model file").
        max_bytes: Refuse larger files; ``None`` for no limit.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if it is not a regular file, or is larger than ``max_bytes``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a file")
            raise ValueError(f"{os.fspath(path)} is {kind}, not a {what}")
        if max_bytes is not None and info.st_size > max_bytes:
            raise ValueError(
                f"{os.fspath(path)} is {info.st_size} bytes, more than the {max_bytes} a "
                f"{what} may have"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
