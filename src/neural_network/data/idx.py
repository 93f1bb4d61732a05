"""IDX, the format the MNIST files are distributed in: a strict parser that refuses bad bytes.

A file is a big-endian header followed by the array's elements in C (row-major) order:

====== ======================================================================
bytes  meaning
====== ======================================================================
0-1    two zero bytes
2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
       0x0D float32, 0x0E float64
3      ndim, the number of dimensions
4-...  ndim sizes, each a big-endian uint32
...    the elements, big-endian for the multi-byte types
====== ======================================================================

The first four bytes read as one big-endian integer are the file's "magic number":
2051 (0x00000803) for MNIST images (uint8, 3 dimensions) and 2049 (0x00000801) for
labels (uint8, 1 dimension).

Every refusal of a file's bytes is an :class:`IDXFormatError`, so one ``except`` clause
catches malformed headers, truncated or oversized payloads and corrupt gzip streams.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .files import open_regular_file

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_NDIM = 8
GZIP_MAGIC = b"\x1f\x8b"
# Read decompressed data in pieces of this size so that a header claiming a large
# payload costs memory only for the bytes that are really there.
_READ_CHUNK = 1 << 24


class IDXFormatError(ValueError):
    """Bytes that are not a valid IDX file (or not a valid gzip stream around one)."""


def _check_max_elements(max_elements: int) -> None:
    if isinstance(max_elements, bool) or not isinstance(max_elements, int):
        raise TypeError(f"max_elements must be an int, got {type(max_elements).__name__}")
    if max_elements < 0:
        raise ValueError(f"max_elements must be >= 0, got {max_elements}")


def _parse_header(
    header: bytes | memoryview, max_elements: int
) -> tuple[np.dtype, tuple[int, ...]]:
    """Validate an IDX header and return the element dtype (as stored) and the shape.

    ``header`` may be longer than the header; only the header bytes are looked at.
    All sizes are Python ints, so no product can overflow.
    """
    if len(header) < 4:
        raise IDXFormatError(f"IDX header too short: need at least 4 bytes, got {len(header)}")
    if header[0] != 0 or header[1] != 0:
        hint = (
            " (this is gzip data; use read_idx or decompress it first)"
            if bytes(header[:2]) == GZIP_MAGIC
            else ""
        )
        raise IDXFormatError(
            f"Not an IDX file: the first two bytes must be 00 00, got {bytes(header[:2]).hex(' ')}"
            f"{hint}"
        )
    type_code = header[2]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise IDXFormatError(f"Unknown IDX type code 0x{type_code:02X}; expected one of {known}")
    ndim = header[3]
    if not 1 <= ndim <= _MAX_NDIM:
        raise IDXFormatError(f"IDX ndim must be between 1 and {_MAX_NDIM}, got {ndim}")
    header_len = 4 + 4 * ndim
    if len(header) < header_len:
        raise IDXFormatError(
            f"IDX header truncated: {ndim} dimensions need {header_len} header bytes, "
            f"got {len(header)}"
        )
    dtype = _IDX_DTYPES[type_code]
    shape = struct.unpack_from(f">{ndim}I", header, 4)
    n_elements = math.prod(shape)
    if n_elements > max_elements:
        raise IDXFormatError(
            f"IDX shape {shape} has {n_elements} elements, more than max_elements={max_elements}"
        )
    # NumPy refuses a shape whose nonzero sizes multiply past the address space,
    # even when another size is zero and the array would be empty.
    if math.prod(size for size in shape if size) * dtype.itemsize > np.iinfo(np.intp).max:
        raise IDXFormatError(f"IDX shape {shape} is too large for an array on this platform")
    return dtype, shape


def parse_idx(
    data: bytes | bytearray | memoryview, *, max_elements: int = 100_000_000
) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file.

    The header is validated and the element count checked against ``max_elements``
    before anything is allocated, and the payload must be exactly as long as the header
    says. Any byte string either parses or raises :class:`IDXFormatError`.

    Args:
        data: The whole file's bytes.
        max_elements: Refuse files whose header declares more elements than this.

    Returns:
        A new, writable, C-contiguous, native-endian array with the file's shape and dtype
        (uint8, int8, int16, int32, float32 or float64).

    Raises:
        IDXFormatError: If the bytes are not a valid IDX file: header too short, leading
            bytes not zero, unknown type code, ndim 0 or above 8, more than
            ``max_elements`` elements, payload truncated, or trailing bytes.
        TypeError: If ``data`` is not bytes-like or ``max_elements`` is not an int.
        ValueError: If ``max_elements`` is negative.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, bytearray or memoryview, got {type(data).__name__}")
    _check_max_elements(max_elements)
    view = memoryview(data).cast("B")
    dtype, shape = _parse_header(view, max_elements)
    header_len = 4 + 4 * len(shape)
    n_elements = math.prod(shape)
    expected_len = header_len + n_elements * dtype.itemsize
    if len(view) < expected_len:
        raise IDXFormatError(
            f"IDX payload truncated: shape {shape} of {dtype.name} needs {expected_len} bytes "
            f"in all, got {len(view)}"
        )
    if len(view) > expected_len:
        raise IDXFormatError(
            f"IDX file has {len(view) - expected_len} trailing bytes after the "
            f"{expected_len} that shape {shape} of {dtype.name} needs"
        )
    native = dtype.newbyteorder("=")
    if n_elements == 0:
        return np.empty(shape, dtype=native)
    flat = np.frombuffer(view, dtype=dtype, count=n_elements, offset=header_len)
    return flat.astype(native).reshape(shape)


def _read_at_most(stream: BinaryIO, n_bytes: int) -> Iterator[bytes]:
    """Yield the stream's bytes, in chunks, until ``n_bytes`` are read or it ends."""
    while n_bytes > 0:
        chunk = stream.read(min(n_bytes, _READ_CHUNK))
        if not chunk:
            return
        n_bytes -= len(chunk)
        yield chunk


def _read_idx_stream(stream: BinaryIO, max_elements: int) -> bytes:
    """Read one IDX file's bytes, never more than its header declares plus one byte.

    The extra byte lets :func:`parse_idx` report trailing data; stopping there keeps a
    gzip bomb from being decompressed past what the header (capped by
    ``max_elements``) allows.
    """
    prefix = stream.read(4)
    if len(prefix) == 4:
        prefix += stream.read(4 * prefix[3])
    dtype, shape = _parse_header(prefix, max_elements)
    payload_len = math.prod(shape) * dtype.itemsize
    return b"".join([prefix, *_read_at_most(stream, payload_len + 1)])


def read_idx_bytes(file: BinaryIO, name: str, max_elements: int) -> bytes:
    """Return the (decompressed, if gzip) bytes of an open IDX file, bounded by its header."""
    is_gzip = file.read(2) == GZIP_MAGIC
    file.seek(0)
    if not is_gzip:
        return _read_idx_stream(file, max_elements)
    try:
        with gzip.GzipFile(fileobj=file, mode="rb") as stream:
            return _read_idx_stream(stream, max_elements)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IDXFormatError(f"Corrupt gzip stream in {name!r}: {exc}") from exc


def read_idx(path: str | os.PathLike[str], *, max_elements: int = 100_000_000) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not.

    A file starting with the gzip magic bytes ``1f 8b`` is decompressed on the fly, and
    only as far as its IDX header says (plus one byte to detect trailing data).

    Args:
        path: The file to read.
        max_elements: Refuse files whose header declares more elements than this.

    Returns:
        The array, as :func:`parse_idx` returns it.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        IDXFormatError: If the bytes are not a valid IDX file or the gzip stream is corrupt
            or truncated, or if ``path`` is not a regular file (a FIFO, a device, a folder).
        TypeError: If ``max_elements`` is not an int.
        ValueError: If ``max_elements`` is negative.
    """
    _check_max_elements(max_elements)
    try:
        file = open_regular_file(path, "IDX file")
    except ValueError as error:
        raise IDXFormatError(str(error)) from None
    with file:
        data = read_idx_bytes(file, os.fspath(path), max_elements)
    return parse_idx(data, max_elements=max_elements)
