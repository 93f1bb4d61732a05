"""IDX files, and MNIST, Fashion-MNIST and Kuzushiji-MNIST: bundled, cached or downloaded.

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

Where the loaders find their files
----------------------------------
:func:`load_mnist`, :func:`load_fashion_mnist` and :func:`load_kmnist` look for the four
files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
and ``t10k-labels-idx1-ubyte`` (each decompressed, or as ``name.gz``), file by file:

1. ``data_dir=`` when it is given, and then nowhere else (a missing file is a
   ``FileNotFoundError``). Otherwise:
2. for MNIST, the copy bundled with the package;
3. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``, where Debian's package
   ``dataset-fashion-mnist`` installs it;
4. the cache, ``get_cache_dir() / key`` with ``key`` one of ``mnist``, ``fashion_mnist``,
   ``kmnist``: ``$NEURAL_NETWORK_DATA`` or the platform's per-user cache folder;
5. a download of ``name.gz`` from each of ``MIRRORS[key]`` (or ``mirrors=``) in turn.

Every file is checked against its pinned size and SHA-256 digest each time it is read,
wherever it comes from. A download is written to a temporary file in the cache folder,
checked, and only then moved into place with :func:`os.replace`, so a failed, truncated or
tampered download leaves nothing behind; when every mirror fails, :class:`DownloadError`
lists each URL with its reason and says where to put the files by hand. A cached file that
fails its check (a disk error, an interrupted copy) is deleted and downloaded again, with a
``RuntimeWarning``; with ``download=False`` the check's error is raised instead. A bad
file anywhere else is always an error: the loaders never skip a copy the user put there.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.client
import importlib.resources
import io
import math
import os
import struct
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "MIRRORS",
    "ChecksumError",
    "DownloadError",
    "IDXFormatError",
    "get_cache_dir",
    "load_fashion_mnist",
    "load_kmnist",
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


class DownloadError(OSError):
    """No mirror delivered a dataset file with the pinned size and digest.

    Raised by the loaders after every mirror has been tried for one file. Nothing is left
    in the cache for that file: each download goes to a temporary file that is moved into
    place only after its size and digest check out, and is deleted otherwise.

    Attributes:
        dataset: The dataset's name, e.g. ``"Fashion-MNIST"``.
        file_name: The file that could not be fetched, e.g. ``"train-images-idx3-ubyte.gz"``.
        attempts: ``(url, reason)`` for every URL tried, in the order tried.
        cache_dir: The folder the file was to be saved in.
    """

    def __init__(
        self,
        dataset: str,
        file_name: str,
        attempts: list[tuple[str, str]],
        cache_dir: Path,
        how_to_install: str,
    ) -> None:
        tried = "".join(f"\n  {url}: {reason}" for url, reason in attempts)
        super().__init__(
            f"Could not download {file_name} of {dataset}; tried:"
            f"{tried or ' nothing, no mirrors are configured'}\n{how_to_install}"
        )
        self.dataset = dataset
        self.file_name = file_name
        self.attempts = attempts
        self.cache_dir = cache_dir


@dataclass(frozen=True)
class _PinnedFile:
    """What one canonical file must be.

    ``size`` and ``sha256`` describe the decompressed IDX bytes, which do not depend on
    the compressor (Debian's Fashion-MNIST .gz files differ from upstream's, their
    contents do not). Where only the published .gz is known, ``sha256`` is None and
    ``gz_size``/``gz_sha256`` pin that exact .gz file instead.
    """

    name: str
    size: int
    sha256: str | None
    gz_size: int | None = None
    gz_sha256: str | None = None


@dataclass(frozen=True)
class _DatasetSpec:
    key: str
    title: str
    loader: str
    files: tuple[_PinnedFile, ...]
    system_dirs: tuple[str, ...] = ()
    system_hint: str = ""
    n_classes: int = 10


_FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# 60,000 and 10,000 images of 28x28 uint8 after a 16-byte header; labels after 8 bytes.
_FILE_SIZES = (47_040_016, 60_008, 7_840_016, 10_008)
_IMAGE_SHAPE = (28, 28)
_MAX_ELEMENTS = 60_000 * 28 * 28


def _pinned_files(
    sha256s: tuple[str, ...] | None = None, gz_pins: tuple[tuple[int, str], ...] | None = None
) -> tuple[_PinnedFile, ...]:
    """The four standard files, pinned by the SHA-256 of their decompressed bytes
    (``sha256s``) or, where only the published .gz is known, by its size and SHA-256
    (``gz_pins``), in ``_FILE_NAMES`` order."""
    if gz_pins is None:
        return tuple(
            _PinnedFile(name, size, sha256)
            for name, size, sha256 in zip(_FILE_NAMES, _FILE_SIZES, sha256s, strict=True)
        )
    return tuple(
        _PinnedFile(name, size, None, gz_size, gz_sha256)
        for name, size, (gz_size, gz_sha256) in zip(_FILE_NAMES, _FILE_SIZES, gz_pins, strict=True)
    )


# Provenance of the pins. MNIST: computed from the bundled files. Fashion-MNIST: computed
# from the files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz
# files are recompressed (their MD5s differ from upstream's) but whose contents have the
# same digests that other projects publish for upstream's files. Kuzushiji-MNIST: the
# SHA-256 and size of each published .gz as torchvision and others list them; no
# decompressed digest is published, and none could be computed here.
_DATASETS: dict[str, _DatasetSpec] = {
    "mnist": _DatasetSpec(
        key="mnist",
        title="MNIST",
        loader="load_mnist",
        files=_pinned_files(
            (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            )
        ),
    ),
    "fashion_mnist": _DatasetSpec(
        key="fashion_mnist",
        title="Fashion-MNIST",
        loader="load_fashion_mnist",
        files=_pinned_files(
            (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            )
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        system_hint=(
            "On Debian and its derivatives, `apt-get install dataset-fashion-mnist` installs "
            "them in /usr/share/datasets/fashion-mnist, where they are found without a download."
        ),
    ),
    "kmnist": _DatasetSpec(
        key="kmnist",
        title="Kuzushiji-MNIST",
        loader="load_kmnist",
        files=_pinned_files(
            gz_pins=(
                (18_165_135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
                (29_497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
                (3_041_136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
                (5_120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
            )
        ),
    ),
}

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion_mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
    "kmnist": (
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    ),
}
"""Base URLs tried in order for each dataset's ``<file name>.gz``; ``mirrors=`` overrides.

Plain-HTTP mirrors are safe to use because every file is checked against a pinned digest
before it is kept.
"""

_DOWNLOAD_TIMEOUT_S = 30.0
_DOWNLOAD_CHUNK = 1 << 20
_USER_AGENT = "neural_network (Python urllib)"

Split = tuple[np.ndarray, np.ndarray]


def get_cache_dir() -> Path:
    """Return the folder that downloaded datasets are kept in (it may not exist yet).

    ``$NEURAL_NETWORK_DATA`` if it is set and not empty; otherwise the platform's per-user
    cache folder: ``%LOCALAPPDATA%\\neural_network\\Cache`` on Windows,
    ``~/Library/Caches/neural_network`` on macOS, and ``$XDG_CACHE_HOME/neural_network``
    elsewhere (``~/.cache/neural_network`` when ``XDG_CACHE_HOME`` is unset or not an
    absolute path, as the XDG specification says). Each dataset has a subfolder there:
    ``mnist``, ``fashion_mnist``, ``kmnist``.

    Returns:
        The folder (no subfolder).
    """
    configured = os.environ.get("NEURAL_NETWORK_DATA")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        local_app_data = os.environ.get("LOCALAPPDATA")
        base = Path(local_app_data) if local_app_data else Path.home() / "AppData" / "Local"
        return base / "neural_network" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "neural_network"
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache) if os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return base / "neural_network"


def _file_size_limit(pinned: _PinnedFile) -> int:
    """The most bytes worth reading for a file, compressed or not.

    Deflate can grow incompressible data a little (5 bytes per stored block of up to
    64 KiB, plus gzip's header and trailer), so allow a margin over the decompressed size.
    """
    return max(pinned.size, pinned.gz_size or 0) + pinned.size // 1000 + 1024


def _check_size(actual: int, expected: int | None, what: str, source: str) -> None:
    if expected is not None and actual != expected:
        raise IDXFormatError(
            f"{source}: {what} {actual} bytes, expected {expected}; "
            "the file is truncated or is not the canonical one"
        )


def _decode_verified(content: bytes, pinned: _PinnedFile, source: str) -> np.ndarray:
    """Check a file's bytes (gzip or not) against its pinned size and digest, then parse.

    The digest of the decompressed bytes is preferred, as any compression of the right
    contents passes it; where only the published .gz is pinned, that exact .gz is required.
    """
    is_gzip = content[:2] == _GZIP_MAGIC
    if pinned.sha256 is None:
        if not is_gzip or pinned.gz_sha256 is None:
            raise IDXFormatError(
                f"{source}: only the digest of the published {pinned.name}.gz is pinned, "
                "so a decompressed copy cannot be verified; use the .gz file as published"
            )
        _check_size(len(content), pinned.gz_size, "the compressed file has", source)
        verify_sha256(content, pinned.gz_sha256, source)
    data = _read_idx_file(io.BytesIO(content), source, _MAX_ELEMENTS)
    _check_size(len(data), pinned.size, "the decompressed file has", source)
    if pinned.sha256 is not None:
        verify_sha256(data, pinned.sha256, source)
    return parse_idx(data, max_elements=_MAX_ELEMENTS)


def _read_verified(source: Traversable, pinned: _PinnedFile) -> np.ndarray:
    limit = _file_size_limit(pinned)
    with source.open("rb") as file:
        content = file.read(limit + 1)
    if len(content) > limit:
        raise IDXFormatError(
            f"{source}: larger than the {limit} bytes that {pinned.name} can take; "
            "not the canonical file"
        )
    return _decode_verified(content, pinned, str(source))


def _find_file(directory: Traversable, name: str) -> Traversable | None:
    """``name`` if it is in ``directory``, else ``name.gz``, else None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _how_to_install(spec: _DatasetSpec, cache: Path) -> str:
    names = ", ".join(f"{pinned.name}.gz" for pinned in spec.files)
    form = (
        "as published"
        if any(pinned.sha256 is None for pinned in spec.files)
        else "gzip-compressed or decompressed without the .gz"
    )
    text = (
        f"To install {spec.title} by hand, download {names} ({form}) and put them in "
        f"{cache}, or in a folder of your choice passed as {spec.loader}(data_dir=...)."
    )
    return f"{text} {spec.system_hint}" if spec.system_hint else text


class _BadResponse(OSError):
    """A response that cannot be the file: truncated, or longer than the file can be."""


def _describe_failure(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
        if not isinstance(exc, TimeoutError):
            return str(exc)
    if isinstance(exc, TimeoutError):
        return f"timed out after {_DOWNLOAD_TIMEOUT_S:g} s"
    return str(exc) or type(exc).__name__


def _fetch(url: str, pinned: _PinnedFile, cache: Path) -> np.ndarray:
    """Download ``url`` into ``cache`` as ``pinned``; keep it only if it verifies.

    Returns the parsed array. On any failure the temporary file is removed and nothing is
    left at the cache path.
    """
    descriptor, temporary = tempfile.mkstemp(prefix=f".{pinned.name}.", suffix=".part", dir=cache)
    temporary_path = Path(temporary)
    try:
        limit = _file_size_limit(pinned)
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
        with (
            os.fdopen(descriptor, "wb") as out,
            urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,
        ):
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _BadResponse(f"{declared} bytes announced, more than the {limit} expected")
            received = 0
            while True:
                try:
                    chunk = response.read(_DOWNLOAD_CHUNK)
                except http.client.IncompleteRead as exc:
                    received += len(exc.partial)
                    break
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    raise _BadResponse(f"the response is longer than the {limit} bytes expected")
                out.write(chunk)
        # http.client does not reliably report a body cut short of its Content-Length.
        if declared.isdigit() and received != int(declared):
            raise _BadResponse(f"truncated: received {received} of {declared} bytes")
        content = temporary_path.read_bytes()
        array = _decode_verified(content, pinned, url.rsplit("/", 1)[-1])
        final = cache / (f"{pinned.name}.gz" if content[:2] == _GZIP_MAGIC else pinned.name)
        temporary_path.chmod(0o644)
        os.replace(temporary_path, final)
        return array
    finally:
        temporary_path.unlink(missing_ok=True)


def _download(
    spec: _DatasetSpec, pinned: _PinnedFile, cache: Path, mirrors: tuple[str, ...]
) -> np.ndarray:
    cache.mkdir(parents=True, exist_ok=True)
    attempts: list[tuple[str, str]] = []
    for base in mirrors:
        url = f"{base.rstrip('/')}/{pinned.name}.gz"
        try:
            return _fetch(url, pinned, cache)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            attempts.append((url, _describe_failure(exc)))
    raise DownloadError(
        spec.title, f"{pinned.name}.gz", attempts, cache, _how_to_install(spec, cache)
    )


def _load_file(
    spec: _DatasetSpec, pinned: _PinnedFile, download: bool, mirrors: tuple[str, ...]
) -> np.ndarray:
    """One file from the system folders, else the cache, else a download."""
    for directory in spec.system_dirs:
        source = _find_file(Path(directory), pinned.name)
        if source is not None:
            return _read_verified(source, pinned)
    cache = get_cache_dir() / spec.key
    while (source := _find_file(cache, pinned.name)) is not None:
        try:
            return _read_verified(source, pinned)
        except IDXFormatError as exc:
            if not download:
                raise
            warnings.warn(
                f"Deleting the cached {source}, which failed verification, "
                f"to download it again: {exc}",
                RuntimeWarning,
                stacklevel=4,
            )
            source.unlink()
    if not download:
        where = ", ".join([*spec.system_dirs, str(cache)])
        raise FileNotFoundError(
            f"{spec.title} file {pinned.name} (or {pinned.name}.gz) is not in {where}, and "
            f"download=False. {_how_to_install(spec, cache)}"
        )
    return _download(spec, pinned, cache, mirrors)


def _check_split(spec: _DatasetSpec, images: np.ndarray, labels: np.ndarray, prefix: str) -> Split:
    """Check one split's images and labels fit together; return them flattened, int64."""
    images_name = f"{prefix}-images-idx3-ubyte"
    labels_name = f"{prefix}-labels-idx1-ubyte"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
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
    if labels.size and labels.max() >= spec.n_classes:
        raise IDXFormatError(
            f"{labels_name}: {spec.title} labels must be in 0..{spec.n_classes - 1}, "
            f"found {labels.max()}"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _check_split_arrays(spec: _DatasetSpec, arrays: list[np.ndarray]) -> tuple[Split, Split]:
    train_images, train_labels, test_images, test_labels = arrays
    return (
        _check_split(spec, train_images, train_labels, "train"),
        _check_split(spec, test_images, test_labels, "t10k"),
    )


def _resolve_mirrors(key: str, mirrors: Sequence[str] | None) -> tuple[str, ...]:
    if mirrors is None:
        return tuple(MIRRORS[key])
    if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, Sequence):
        raise TypeError(f"mirrors must be a sequence of URLs, got {type(mirrors).__name__}")
    for url in mirrors:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"mirrors must be http:// or https:// URLs, got {url!r}")
    return tuple(mirrors)


def _load_dataset(
    key: str,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    mirrors: Sequence[str] | None,
) -> tuple[Split, Split]:
    spec = _DATASETS[key]
    resolved_mirrors = _resolve_mirrors(key, mirrors)
    arrays = []
    for pinned in spec.files:
        if data_dir is None:
            arrays.append(_load_file(spec, pinned, download, resolved_mirrors))
            continue
        source = _find_file(Path(data_dir), pinned.name)
        if source is None:
            raise FileNotFoundError(
                f"{spec.title} file {pinned.name!r} (or {pinned.name}.gz) not found in "
                f"{os.fspath(data_dir)!r}"
            )
        arrays.append(_read_verified(source, pinned))
    return _check_split_arrays(spec, arrays)


def _bundled_mnist_sources() -> list[Traversable] | None:
    """The bundled MNIST files, in ``_FILE_NAMES`` order, or None if any is missing."""
    directory = importlib.resources.files("neural_network.data") / "bundled" / "mnist"
    sources = [_find_file(directory, name) for name in _FILE_NAMES]
    return None if None in sources else sources


@functools.lru_cache(maxsize=1)
def _load_bundled_mnist() -> tuple[Split, Split] | None:
    """The bundled MNIST, read-only, decoded once per process; None if it is missing."""
    sources = _bundled_mnist_sources()
    if sources is None:
        return None
    spec = _DATASETS["mnist"]
    arrays = [
        _read_verified(source, pinned) for source, pinned in zip(sources, spec.files, strict=True)
    ]
    splits = _check_split_arrays(spec, arrays)
    for split in splits:
        for array in split:
            array.flags.writeable = False
    return splits


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load MNIST (handwritten digits 0-9), from the copy bundled with the package by default.

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise the bundled copy, and should it be missing (a trimmed
    install), the cache ``get_cache_dir() / "mnist"``, then a download from ``mirrors``.
    Every file's decompressed bytes are checked against a pinned size and SHA-256 each
    time they are read; then the images are checked to be uint8 of shape (n, 28, 28), the
    labels uint8 of shape (n,) with values 0..9, and the two counts to agree.

    The bundled copy is decoded once per process, and each call returns fresh copies (about
    20 ms for the 55 MB), so a caller may modify what it gets without affecting later calls.

    Args:
        data_dir: A folder holding the four files ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte``, each as ``name.gz`` or decompressed as ``name``
            (the decompressed one is used where both exist). ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["mnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` is uint8 of shape (n, 784), each
        row a 28x28 image flattened row by row; ``y`` is int64 of shape (n,). There are
        60,000 training and 10,000 test samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a file's decompressed bytes do not have the pinned digest.
        IDXFormatError: If a file is corrupt or of the wrong size, or its contents are not
            MNIST-shaped (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    if data_dir is None and (bundled := _load_bundled_mnist()) is not None:
        (x_train, y_train), (x_test, y_test) = bundled
        return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
    return _load_dataset("mnist", data_dir, download, mirrors)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST (Zalando's 28x28 grey clothing images, 10 classes).

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise ``/usr/share/datasets/fashion-mnist``, where Debian's
    package ``dataset-fashion-mnist`` installs them, then the cache
    ``get_cache_dir() / "fashion_mnist"``, then a download from ``mirrors``. Every file's
    decompressed bytes are checked against a pinned size and SHA-256 each time they are
    read (so Debian's recompressed .gz files pass as well as upstream's); then the images
    are checked to be uint8 of shape (n, 28, 28), the labels uint8 of shape (n,) with
    values 0..9, and the two counts to agree.

    Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
    7 sneaker, 8 bag, 9 ankle boot.

    Args:
        data_dir: A folder holding the four files ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte``, each as ``name.gz`` or decompressed as ``name``
            (the decompressed one is used where both exist). ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["fashion_mnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as :func:`load_mnist` returns them:
        60,000 and 10,000 samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a file's decompressed bytes do not have the pinned digest.
        IDXFormatError: If a file is corrupt or of the wrong size, or its contents are not
            shaped as above (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    return _load_dataset("fashion_mnist", data_dir, download, mirrors)


def load_kmnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load Kuzushiji-MNIST (10 classes of cursive Japanese hiragana, 28x28 grey).

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise the cache ``get_cache_dir() / "kmnist"``, then a download
    from ``mirrors``. Only the SHA-256 of the published ``.gz`` files is pinned for this
    set, so the files must be those exact .gz files (a decompressed or recompressed copy is
    refused); each is checked every time it is read, and its decompressed size too. Then the
    images are checked to be uint8 of shape (n, 28, 28), the labels uint8 of shape (n,) with
    values 0..9, and the two counts to agree.

    Classes (Clanuwat et al., 2018, https://arxiv.org/abs/1812.01718): 0 o, 1 ki, 2 su,
    3 tsu, 4 na, 5 ha, 6 ma, 7 ya, 8 re, 9 wo.

    Args:
        data_dir: A folder holding the four published files ``train-images-idx3-ubyte.gz``,
            ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
            ``t10k-labels-idx1-ubyte.gz``. ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["kmnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as :func:`load_mnist` returns them:
        60,000 and 10,000 samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a .gz file does not have the pinned digest.
        IDXFormatError: If a file is corrupt, of the wrong size or not compressed, or its
            contents are not shaped as above (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    return _load_dataset("kmnist", data_dir, download, mirrors)
