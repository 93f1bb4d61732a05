"""Atomic writes: a file at a path is either the old one or the new one, never a part.

The bytes go to a temporary file in the same folder (``.{name}.tmp-<pid>-<random>``, a long
name shortened), are flushed and fsynced, and ``os.replace`` moves them over the path, which
is atomic on POSIX and Windows; the folder is then fsynced so that the rename survives a
power cut. Temporary files left by a killed writer are removed at the next write to the same
path.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import stat
import time
from pathlib import Path

TEMP_MARK = ".tmp-"
# Bytes of a file's name its temporary file keeps: 255, less ".", ".tmp-", a pid of up to
# 10 digits, "-" and 8 random hex digits.
_MAX_NAME_KEPT = 255 - 1 - len(TEMP_MARK) - 10 - 1 - 8


def write_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to exactly ``path`` so that a crash leaves the old file or the new one.

    The bytes go to ``.{name}.tmp-<pid>-<random>`` in the same folder, are flushed and
    fsynced, then ``os.replace`` renames the file over ``path`` and the folder is fsynced.
    Temporary files of writers that died are removed first.

    Raises:
        IsADirectoryError: if ``path`` is a folder.
        FileExistsError: if ``path`` is something else that is not a regular file (a device
            such as ``/dev/null``, a FIFO, a socket): it is never replaced.
    """
    path = Path(path)
    check_replaceable(path)
    remove_stale_temp_files(path)
    temp = path.with_name(f"{_temp_prefix(path)}{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def check_replaceable(path: str | os.PathLike) -> None:
    """Raise unless ``path`` is a regular file (a link to one counts) or does not exist."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # nothing there (or unreadable): creating the file says what is wrong
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(
            errno.EISDIR, "a folder, not a regular file: refusing to replace it", os.fspath(path)
        )
    kind = (
        "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a special file"
    )
    raise FileExistsError(
        errno.EEXIST, f"{kind}, not a regular file: refusing to replace it", os.fspath(path)
    )


def _temp_prefix(path: Path) -> str:
    """``.{name}.tmp-``, with a long name shortened (its start and a digest of it) so that
    the temporary file's name stays within the 255 bytes file systems allow whenever the
    path's own name does."""
    name = os.fsencode(path.name)
    if len(name) > _MAX_NAME_KEPT:
        digest = hashlib.sha256(name).hexdigest()[:8].encode("ascii")
        name = name[: _MAX_NAME_KEPT - len(digest) - 1] + b"~" + digest
    return f".{os.fsdecode(name)}{TEMP_MARK}"


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; folders cannot be opened for fsync on Windows."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a folder; the rename has happened anyway
    finally:
        os.close(fd)


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files that writers of ``path`` left when they were killed.

    A temporary file is stale when the process that created it (the pid in its name) no
    longer runs. Off POSIX, where that cannot be asked safely, it is stale after an hour.

    Returns:
        The files removed.
    """
    path = Path(path)
    prefix = _temp_prefix(path)
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and _is_stale(entry, entry.name[len(prefix) :]):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry, suffix: str) -> bool:
    pid_text = suffix.split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if os.name != "posix":
        return time.time() - entry.stat().st_mtime > 3600
    if pid == os.getpid():
        return False  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
