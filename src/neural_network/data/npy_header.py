"""Reading an ``.npy`` header alone, so that the shape and dtype of an array can be checked
before anything allocates or unpickles it (NumPy's own readers, kept to versions 1.0 and
2.0 and to a bounded header size)."""

from __future__ import annotations

from typing import BinaryIO

import numpy as np

MAX_HEADER_SIZE = 10_000  # bytes; a real header of one array is about a hundred


class NpyVersionError(ValueError):
    """An ``.npy`` format version other than 1.0 and 2.0."""


def read_npy_header(file: BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """The ``(shape, dtype)`` an ``.npy`` stream declares; the stream is left at its data.

    Raises:
        NpyVersionError: for a format version other than 1.0 and 2.0.
        ValueError: for a header NumPy cannot parse (or longer than ``MAX_HEADER_SIZE``).
    """
    version = np.lib.format.read_magic(file)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(file, MAX_HEADER_SIZE)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(file, MAX_HEADER_SIZE)
    else:
        raise NpyVersionError(f"unsupported .npy version {version}")
    return shape, dtype
