"""Where dataset files come from, and how they are checked: pins, mirrors, the cache, downloads.

A dataset is four files, each pinned by its size and SHA-256 (:class:`PinnedFile`).
:func:`load_file` looks for one file, in turn:

1. in system folders where a package installs the dataset (Debian's
   ``dataset-fashion-mnist`` puts Fashion-MNIST in ``/usr/share/datasets/fashion-mnist``);
2. in the cache, ``get_cache_dir() / key``: ``$NEURAL_NETWORK_DATA`` or the platform's
   per-user cache folder;
3. as a download of ``name.gz`` from each mirror in turn.

Every file is checked against its pin each time it is read, wherever it comes from. A
download is written to a temporary file in the cache folder, checked, and only then moved
into place with :func:`os.replace`, so a failed, truncated or tampered download leaves
nothing behind; when every mirror fails, :class:`DownloadError` lists each URL with its
reason and says where to put the files by hand. A cached file that fails its check (a disk
error, an interrupted copy) is deleted and downloaded again, with a ``RuntimeWarning``; with
``download=False`` the check's error is raised instead. A bad file anywhere else is always an
error: the loaders never skip a copy the user put there.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .idx import GZIP_MAGIC, IDXFormatError, parse_idx, read_idx_bytes

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


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
class PinnedFile:
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
class DatasetSpec:
    key: str
    title: str
    loader: str
    files: tuple[PinnedFile, ...]
    system_dirs: tuple[str, ...] = ()
    system_hint: str = ""
    n_classes: int = 10


_DOWNLOAD_TIMEOUT_S = 30.0  # for connecting, and for each read
_DOWNLOAD_DEADLINE_S = 600.0  # for a whole file: a mirror that trickles is given up
_DOWNLOAD_CHUNK = 1 << 20
_USER_AGENT = "neural_network (Python urllib)"


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

    Raises:
        ValueError: if ``$NEURAL_NETWORK_DATA`` is a relative path, or one the file system
            refuses (a name too long, a file where a folder should be).
    """
    configured = os.environ.get("NEURAL_NETWORK_DATA")
    if configured:
        folder = Path(configured).expanduser()
        if not folder.is_absolute():
            raise ValueError(
                f"$NEURAL_NETWORK_DATA is {configured!r}, a relative path; set it to an "
                "absolute folder, so that datasets are not cached in whatever folder is current"
            )
        try:
            folder.stat()
        except FileNotFoundError:
            pass  # created when a dataset is first downloaded
        except OSError as error:  # a name too long, a file where a folder should be, ...
            shown = configured if len(configured) <= 80 else f"{configured[:60]}..."
            raise ValueError(
                f"$NEURAL_NETWORK_DATA is {shown!s} ({len(configured):,} characters), which the "
                f"file system refuses ({error.strerror or error}); set it to a folder that "
                "can be created"
            ) from None
        return folder
    if sys.platform == "win32":
        local_app_data = os.environ.get("LOCALAPPDATA")
        base = Path(local_app_data) if local_app_data else Path.home() / "AppData" / "Local"
        return base / "neural_network" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "neural_network"
    xdg_cache = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg_cache) if os.path.isabs(xdg_cache) else Path.home() / ".cache"
    return base / "neural_network"


def _file_size_limit(pinned: PinnedFile) -> int:
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


def decode_verified(content: bytes, pinned: PinnedFile, source: str) -> np.ndarray:
    """Check a file's bytes (gzip or not) against its pinned size and digest, then parse.

    The digest of the decompressed bytes is preferred, as any compression of the right
    contents passes it; where only the published .gz is pinned, that exact .gz is required.
    """
    is_gzip = content[:2] == GZIP_MAGIC
    if pinned.sha256 is None:
        if not is_gzip or pinned.gz_sha256 is None:
            raise IDXFormatError(
                f"{source}: only the digest of the published {pinned.name}.gz is pinned, "
                "so a decompressed copy cannot be verified; use the .gz file as published"
            )
        _check_size(len(content), pinned.gz_size, "the compressed file has", source)
        verify_sha256(content, pinned.gz_sha256, source)
    data = read_idx_bytes(io.BytesIO(content), source, pinned.size)
    _check_size(len(data), pinned.size, "the decompressed file has", source)
    if pinned.sha256 is not None:
        verify_sha256(data, pinned.sha256, source)
    return parse_idx(data, max_elements=pinned.size)


def read_verified(source: Traversable, pinned: PinnedFile) -> np.ndarray:
    limit = _file_size_limit(pinned)
    with source.open("rb") as file:
        content = file.read(limit + 1)
    if len(content) > limit:
        raise IDXFormatError(
            f"{source}: larger than the {limit} bytes that {pinned.name} can take; "
            "not the canonical file"
        )
    return decode_verified(content, pinned, str(source))


def find_file(directory: Traversable, name: str) -> Traversable | None:
    """``name`` if it is in ``directory``, else ``name.gz``, else None."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def how_to_install(spec: DatasetSpec, cache: Path) -> str:
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


def _fetch(url: str, pinned: PinnedFile, cache: Path) -> np.ndarray:
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
            deadline = time.monotonic() + _DOWNLOAD_DEADLINE_S
            while True:
                # read1 returns what one read brings: read would wait for a whole chunk, and
                # a mirror sending a byte at a time would never reach the deadline check.
                chunk = response.read1(_DOWNLOAD_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > limit:
                    raise _BadResponse(f"the response is longer than the {limit} bytes expected")
                out.write(chunk)
                if time.monotonic() > deadline:
                    raise _BadResponse(
                        f"took longer than {_DOWNLOAD_DEADLINE_S:g} s ({received} bytes received)"
                    )
        # http.client does not reliably report a body cut short of its Content-Length.
        if declared.isdigit() and received != int(declared):
            raise _BadResponse(f"truncated: received {received} of {declared} bytes")
        content = temporary_path.read_bytes()
        array = decode_verified(content, pinned, url.rsplit("/", 1)[-1])
        final = cache / (f"{pinned.name}.gz" if content[:2] == GZIP_MAGIC else pinned.name)
        temporary_path.chmod(0o644)
        os.replace(temporary_path, final)
        return array
    finally:
        temporary_path.unlink(missing_ok=True)


def _download(
    spec: DatasetSpec, pinned: PinnedFile, cache: Path, mirrors: tuple[str, ...]
) -> np.ndarray:
    created = [folder for folder in (cache, *cache.parents) if not folder.exists()]
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        origin = " ($NEURAL_NETWORK_DATA)" if os.environ.get("NEURAL_NETWORK_DATA") else ""
        raise OSError(
            f"cannot create the dataset cache folder {cache}{origin}: {error.strerror or error}"
        ) from None
    attempts: list[tuple[str, str]] = []
    for base in mirrors:
        url = f"{base.rstrip('/')}/{pinned.name}.gz"
        try:
            return _fetch(url, pinned, cache)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            attempts.append((url, _describe_failure(exc)))
    for folder in created:  # a failed download leaves no empty folders behind
        with contextlib.suppress(OSError):
            folder.rmdir()
    raise DownloadError(
        spec.title, f"{pinned.name}.gz", attempts, cache, how_to_install(spec, cache)
    )


def load_file(
    spec: DatasetSpec, pinned: PinnedFile, download: bool, mirrors: tuple[str, ...]
) -> np.ndarray:
    """One file from the system folders, else the cache, else a download."""
    for directory in spec.system_dirs:
        source = find_file(Path(directory), pinned.name)
        if source is not None:
            return read_verified(source, pinned)
    cache = get_cache_dir() / spec.key
    while (source := find_file(cache, pinned.name)) is not None:
        try:
            return read_verified(source, pinned)
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
            f"download=False. {how_to_install(spec, cache)}"
        )
    return _download(spec, pinned, cache, mirrors)
