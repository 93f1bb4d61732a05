"""The files of a run folder, as ``neural-network train`` and ``train_preset`` write them.

Every file is written atomically (a temporary file in the same folder, fsynced, renamed over
the old one, as git and rsync do): a full disk, a file-size limit or a crash leaves the old
file or the new one, never a part. :func:`lock_run_folder` keeps a second ``train`` out of a
folder while one runs in it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..io.atomic import write_atomically
from ..train.history import History

MODEL_FILE = "model.npz"
CHECKPOINT_FILE = "checkpoint.npz"
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
HISTORY_CSV_FILE = "history.csv"
FIGURE_FILES = (
    "cost.png",
    "accuracy.png",
    "learning_rate.png",
    "confusion_matrix.png",
    "misclassified.png",
    "first_layer_weights.png",
)
# Every file a run writes: a folder holding any of them holds a run.
RUN_FILES = (
    MODEL_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    HISTORY_FILE,
    HISTORY_CSV_FILE,
    *FIGURE_FILES,
)


def run_files_in(folder: Path) -> list[str]:
    """The names of :data:`RUN_FILES` that ``folder`` holds (none if it does not exist)."""
    return [name for name in RUN_FILES if (folder / name).exists()]


def remove_run_files(folder: Path, names: tuple[str, ...] = RUN_FILES) -> None:
    """Remove the run's files ``names`` from ``folder``; nothing else in it is touched."""
    for name in names:
        (folder / name).unlink(missing_ok=True)


LOCK_FILE = ".neural-network.lock"


class RunFolderBusy(Exception):
    """Another process holds the folder's lock: it is training there now."""


@contextlib.contextmanager
def lock_run_folder(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (``fcntl.flock`` on :data:`LOCK_FILE` in it) for the block.

    The folder is created if it is missing (and removed again if it is still empty at the
    end). The lock is the kernel's, so a process that is killed lets it go; the lock file
    holds the holder's process id, to name it, and is removed when the block ends.

    Raises:
        RunFolderBusy: at once if another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; a second train there is not kept out
        yield
        return
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(descriptor, 32).decode("ascii", "replace").strip()
            os.close(descriptor)
            process = f"process {holder}" if holder.isdigit() else "another process"
            raise RunFolderBusy(
                f"{folder} is in use: {process} is training in it; wait for it to end or "
                "choose another --out"
            ) from None
        # The holder before us may have removed the file after we opened it: lock the file
        # that is at the path now, not a removed one.
        try:
            same = os.stat(path).st_ino == os.fstat(descriptor).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(descriptor)
    try:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(descriptor)
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: a refused or failed start leaves nothing


def write_text(path: Path, content: str) -> None:
    write_atomically(path, content.encode("utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_history(run_dir: Path, history: History, *, csv_too: bool = True) -> None:
    """``history.json`` and, with ``csv_too``, ``history.csv`` (one row per epoch; a column
    that was not measured, such as validation without validation data, is left empty)."""
    data = history.to_dict()
    write_json(run_dir / HISTORY_FILE, data)
    if not csv_too:
        return
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(data)
    for row in range(len(history)):
        writer.writerow([values[row] if row < len(values) else "" for values in data.values()])
    write_text(run_dir / HISTORY_CSV_FILE, text.getvalue())
