"""IDX file reading and the bundled MNIST database.

IDX is the format the MNIST files are distributed in. A file is a big-endian header
followed by the array's elements in C (row-major) order:

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
catches malformed headers, truncated or oversized payloads, corrupt gzip streams and,
through its subclass :class:`ChecksumError`, bytes whose SHA-256 is not the pinned one.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.resources
import math
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "ChecksumError",
    "IDXFormatError",
    "load_mnist",
    "parse_idx",
    "read_idx",
    "verify_sha256",
]

_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_MAX_NDIM = 8
_GZIP_MAGIC = b"\x1f\x8b"
# Read decompressed data in pieces of this size so that a header claiming a large
# payload costs memory only for the bytes that are really there.
_READ_CHUNK = 1 << 24

# SHA-256 of the *decompressed* canonical MNIST files. The digest of the .gz bytes
# depends on the compressor's settings and mtime, the decompressed bytes do not.
_MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_MNIST_IMAGE_SHAPE = (28, 28)
_MNIST_N_CLASSES = 10
_MNIST_MAX_ELEMENTS = 60_000 * 28 * 28


class IDXFormatError(ValueError):
    """Bytes that are not a valid IDX file (or not a valid gzip stream around one)."""


class ChecksumError(IDXFormatError):
    """Bytes whose SHA-256 digest differs from the expected one.

    A subclass of :class:`IDXFormatError`, so code that refuses bad files catches both.

    Attributes:
        name: The file the bytes came from.
        expected: The expected hex digest.
        actual: The hex digest of the bytes received.
    """

    def __init__(self, name: str, expected: str, actual: str) -> None:
        super().__init__(
            f"SHA-256 mismatch for {name!r}: expected {expected}, got {actual}; "
            "the file is corrupt or is not the canonical one"
        )
        self.name = name
        self.expected = expected
        self.actual = actual


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
            if bytes(header[:2]) == _GZIP_MAGIC
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


def _read_idx_file(file: BinaryIO, name: str, max_elements: int) -> bytes:
    """Return the (decompressed, if gzip) bytes of an open IDX file, bounded by its header."""
    is_gzip = file.read(2) == _GZIP_MAGIC
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
            or truncated.
        TypeError: If ``max_elements`` is not an int.
        ValueError: If ``max_elements`` is negative.
    """
    _check_max_elements(max_elements)
    with open(path, "rb") as file:
        data = _read_idx_file(file, os.fspath(path), max_elements)
    return parse_idx(data, max_elements=max_elements)


def verify_sha256(data: bytes | bytearray | memoryview, expected: str, name: str) -> None:
    """Check that ``data`` has the SHA-256 digest ``expected``.

    Args:
        data: The bytes to check.
        expected: The expected digest, 64 hexadecimal characters (either case).
        name: The file the bytes came from, for the error message.

    Raises:
        ChecksumError: If the digests differ.
        TypeError: If ``expected`` is not a str.
        ValueError: If ``expected`` is not a 64-character hexadecimal string.
    """
    if not isinstance(expected, str):
        raise TypeError(f"expected must be a str, got {type(expected).__name__}")
    expected = expected.lower()
    if len(expected) != 64 or any(char not in "0123456789abcdef" for char in expected):
        raise ValueError(f"expected must be a 64-character hex SHA-256 digest, got {expected!r}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ChecksumError(name, expected, actual)


def _find_mnist_file(directory: Traversable, name: str) -> Traversable:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST file {name!r} (or {name}.gz) not found in {str(directory)!r}")


def _read_mnist_file(directory: Traversable, name: str) -> np.ndarray:
    source = _find_mnist_file(directory, name)
    with source.open("rb") as file:
        data = _read_idx_file(file, source.name, _MNIST_MAX_ELEMENTS)
    verify_sha256(data, _MNIST_FILES[name], source.name)
    return parse_idx(data, max_elements=_MNIST_MAX_ELEMENTS)


def _load_mnist_split(directory: Traversable, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    images_name = f"{prefix}-images-idx3-ubyte"
    labels_name = f"{prefix}-labels-idx1-ubyte"
    images = _read_mnist_file(directory, images_name)
    labels = _read_mnist_file(directory, labels_name)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _MNIST_IMAGE_SHAPE:
        raise IDXFormatError(
            f"{images_name}: expected uint8 images of shape (n, 28, 28), "
            f"got {images.dtype.name} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(
            f"{labels_name}: expected uint8 labels of shape (n,), "
            f"got {labels.dtype.name} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{images_name} holds {len(images)} images but {labels_name} holds {len(labels)} labels"
        )
    if labels.size and labels.max() >= _MNIST_N_CLASSES:
        raise IDXFormatError(
            f"{labels_name}: labels must be in 0..{_MNIST_N_CLASSES - 1}, found {labels.max()}"
        )
    x = images.reshape(len(images), -1)
    y = labels.astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


@functools.lru_cache(maxsize=4)
def _load_mnist_cached(
    data_dir: Path | None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    if data_dir is None:
        directory: Traversable = importlib.resources.files("neural_network") / "data" / "mnist"
    else:
        directory = data_dir
    return _load_mnist_split(directory, "train"), _load_mnist_split(directory, "t10k")


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST, from the copy bundled with the package or from a folder.

    Every file's decompressed bytes are checked against a pinned SHA-256 digest, then
    the images are checked to be uint8 of shape (n, 28, 28), the labels uint8 of shape
    (n,) with values 0..9, and the two counts to agree.

    The decoded arrays are cached for the life of the process (per folder), and each
    call returns fresh copies (about 20 ms for the 55 MB), so a caller may modify what it
    gets without affecting later calls.

    Args:
        data_dir: A folder holding the four canonical files, each either as ``name.gz``
            or decompressed as ``name`` (``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
            ``t10k-labels-idx1-ubyte``); where both exist the decompressed one is used.
            ``None`` uses the bundled copy.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` is uint8 of shape (n, 784), each
        row a 28x28 image flattened row by row; ``y`` is int64 of shape (n,). There are
        60,000 training and 10,000 test samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``.
        ChecksumError: If a file's decompressed bytes do not have the pinned digest.
        IDXFormatError: If a file is corrupt or its contents are not MNIST-shaped.
    """
    directory = None if data_dir is None else Path(data_dir).resolve()
    (x_train, y_train), (x_test, y_test) = _load_mnist_cached(directory)
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
