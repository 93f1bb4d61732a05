"""The files of a run folder, as ``neural-network train`` and ``train_preset`` write them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

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


def write_text(path: Path, content: str) -> None:
    path.write_text(content, encoding="utf-8")


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def write_history(run_dir: Path, history: History, *, csv_too: bool = True) -> None:
    """``history.json`` and, with ``csv_too``, ``history.csv`` (one row per epoch; a column
    that was not measured, such as validation without validation data, is left empty)."""
    data = history.to_dict()
    write_json(run_dir / HISTORY_FILE, data)
    if not csv_too:
        return
    with open(run_dir / HISTORY_CSV_FILE, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(data)
        for row in range(len(history)):
            writer.writerow([values[row] if row < len(values) else "" for values in data.values()])
