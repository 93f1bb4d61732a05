"""The sealed archive that model files and checkpoints are: ``.npy`` arrays in a zip, no pickle.

A file is an uncompressed zip archive of ``.npy`` members (what ``np.savez`` writes), with
one member ``metadata``: UTF-8 JSON stored as a 1-D ``uint8`` array. Every other array is
float32 or float64 and finite. The archive's comment, its last 64 bytes, is the hex SHA-256
of every byte before it, so a truncated file or a flipped byte anywhere is refused before
anything is parsed.

Reading checks every member's name, storage and ``.npy`` header before ``np.load(...,
allow_pickle=False)`` reads it: no object dtypes, and no header that makes it allocate more
than the bytes present. Whatever is wrong raises :class:`ModelFileError`. What the metadata
and the arrays mean is the business of :mod:`neural_network.io.model_files` and
:mod:`neural_network.io.checkpoints`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from ..core.devices import to_host
from ..data.npy_header import NpyVersionError, read_npy_header
from .atomic import write_atomically

METADATA = "metadata"
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
_DIGEST_SIZE = 64  # hex digits of a SHA-256
ZIP_MAGIC = b"PK\x03\x04"
_END_RECORD = b"PK\x05\x06"  # a zip's end of central directory record ...
_END_RECORD_SIZE = 22  # ... and its size without the comment
# What parsing a hostile archive can raise besides ModelFileError: zipfile, struct and the
# .npy reader raise all of these for one malformed input or another.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OSError,
    EOFError,
    OverflowError,
    RecursionError,
    MemoryError,
    NotImplementedError,
    struct.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
)


class ModelFileError(ValueError):
    """A model file or checkpoint that cannot be trusted or used.

    Raised for files that are truncated, corrupt, hostile (object arrays, pickles), of an
    unknown format version, inconsistent with themselves (shapes that disagree with the
    config, unknown layer types, missing or extra arrays) or that hold non-floating or
    non-finite arrays; and when asked to save non-finite weights. The message names the file
    and what is wrong.
    """


@contextlib.contextmanager
def refusing(path: str | os.PathLike) -> Iterator[None]:
    """Turn every error that a malformed file can cause into a ModelFileError naming it."""
    try:
        yield
    except ModelFileError as error:
        raise ModelFileError(f"{os.fspath(path)}: {error}") from None
    except _PARSE_ERRORS as error:
        raise ModelFileError(
            f"{os.fspath(path)}: not a readable model file ({type(error).__name__}: {error})"
        ) from error


def read_archive(
    data: bytes, expected_arrays: Callable[[dict, set[str]], set[str]]
) -> tuple[dict, dict[str, np.ndarray]]:
    """Check and read a sealed archive: its metadata, and its arrays by name.

    Args:
        data: The file's bytes.
        expected_arrays: Given the metadata and the names of the arrays present, the names
            they must be; called before any array is read, so that a file holding others is
            refused first.

    Raises:
        ModelFileError: for anything wrong with the container or its arrays.
    """
    check_digest(data)
    check_members(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        if METADATA not in npz.files:
            raise ModelFileError(f"missing array {METADATA!r}")
        metadata = decode_metadata(npz[METADATA])
        present = set(npz.files) - {METADATA}
        expected = expected_arrays(metadata, present)
        if present != expected:
            raise ModelFileError(
                f"arrays do not match the metadata: missing {sorted(expected - present)}, "
                f"unexpected {sorted(present - expected)}"
            )
        arrays = {key: npz[key] for key in npz.files if key != METADATA}
    for key, array in arrays.items():
        check_values(key, array)
    return metadata, arrays


def write_archive(
    path: str | os.PathLike, metadata: dict, arrays: Mapping[str, np.ndarray]
) -> None:
    """Write ``metadata`` and ``arrays`` atomically to exactly ``path`` as a sealed archive.

    Raises:
        ModelFileError: if an array is not floating or not finite (nothing is written).
    """
    # Parameters on a GPU are copied to the host here, exactly: files are the same either way.
    arrays = {key: to_host(array) for key, array in arrays.items()}
    for key, array in arrays.items():
        try:
            check_values(key, np.asarray(array))
        except ModelFileError as error:
            raise ModelFileError(
                f"refusing to write {os.fspath(path)}: {error}; a model is never saved with "
                "non-finite or non-floating values"
            ) from None
    members = {f"{METADATA}.npy": _npy_bytes(np.frombuffer(dumps(metadata), dtype=np.uint8))}
    members.update({f"{key}.npy": _npy_bytes(array) for key, array in arrays.items()})
    write_atomically(path, archive_bytes(members))


def check_digest(data: bytes) -> None:
    """Check the seal: a zip archive whose comment is the SHA-256 of every byte before it.

    A complete zip without the seal (an ``.npz`` that ``np.savez`` or another program
    wrote) is told apart from a sealed file that is truncated or corrupt.
    """
    if not data.startswith(ZIP_MAGIC) or len(data) < _DIGEST_SIZE:
        raise ModelFileError("not a model file: no zip archive")
    body, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    if hashlib.sha256(body).hexdigest().encode("ascii") == digest:
        return
    sealed_end = data[-_DIGEST_SIZE - _END_RECORD_SIZE :][:4] == _END_RECORD
    if not sealed_end and data[-_END_RECORD_SIZE:][:4] == _END_RECORD:
        raise ModelFileError(
            "a zip archive that this library did not write (an .npz from np.savez or another "
            "program?): model files carry a SHA-256 seal and are written by model.save()"
        )
    raise ModelFileError("checksum mismatch: the file is truncated or corrupt")


def check_members(data: bytes) -> None:
    """Check every member's name, storage and ``.npy`` header before ``np.load`` reads it,
    so that no object array is ever unpickled and no header makes it allocate more than the
    bytes present."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise ModelFileError("the archive holds two members with one name")
        for info in infos:
            _check_member(archive, info)


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = info.filename
    if not name.endswith(".npy") or not set(name) <= NAME_CHARACTERS:
        raise ModelFileError(f"unexpected member {name!r}: a model file holds only .npy arrays")
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise ModelFileError(f"member {name!r} is compressed or encrypted")
    with archive.open(info) as member:
        try:
            shape, dtype = read_npy_header(member)
        except NpyVersionError as error:
            raise ModelFileError(f"member {name!r} has {error}") from None
        header_size = member.tell()
    key = name[: -len(".npy")]
    if dtype.hasobject:
        raise ModelFileError(
            f"array {key!r} holds Python objects (dtype {dtype}); model files never do, "
            "and this library never unpickles"
        )
    allowed = (np.dtype(np.uint8),) if key == METADATA else FLOAT_DTYPES
    if dtype not in allowed:
        raise ModelFileError(
            f"array {key!r} has dtype {dtype}; expected one of {[str(d) for d in allowed]}"
        )
    n_bytes = math.prod(shape) * dtype.itemsize
    if n_bytes != info.file_size - header_size:
        raise ModelFileError(
            f"array {key!r} declares shape {shape} ({n_bytes} bytes) but holds "
            f"{info.file_size - header_size} bytes"
        )


def decode_metadata(array: np.ndarray) -> dict:
    if array.ndim != 1:
        raise ModelFileError(f"metadata must be a 1-D byte array; got shape {array.shape}")
    metadata = loads(array.tobytes().decode("utf-8"))
    if not isinstance(metadata, dict):
        raise ModelFileError("metadata must be a JSON object")
    return metadata


def loads(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, no repeated keys."""

    def refuse_constant(name: str):
        raise ModelFileError(f"metadata holds {name}, which is not JSON")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ModelFileError("metadata repeats a key in one object")
        return result

    try:
        return json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"metadata is not valid JSON ({error})") from None


def dumps(metadata: dict) -> bytes:
    try:
        text = json.dumps(metadata, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except ValueError as error:
        raise ModelFileError(f"metadata holds a non-finite number ({error})") from None
    return text.encode("utf-8")


def check_values(key: str, array: np.ndarray) -> None:
    if array.dtype not in FLOAT_DTYPES:
        raise ModelFileError(f"array {key!r} has dtype {array.dtype}; expected float32 or float64")
    if not np.isfinite(array).all():
        raise ModelFileError(f"array {key!r} holds NaN or infinite values")


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def archive_bytes(members: Mapping[str, bytes]) -> bytes:
    """An uncompressed zip of ``members`` (name -> bytes) sealed with its SHA-256.

    The digest of every byte before it is written as the archive comment, which is the last
    ``64`` bytes of the file. Fixed timestamps make the bytes depend only on the content.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.comment = b"0" * _DIGEST_SIZE
        for name, payload in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), payload)
    body = buffer.getbuffer()[:-_DIGEST_SIZE]
    return bytes(body) + hashlib.sha256(body).hexdigest().encode("ascii")
