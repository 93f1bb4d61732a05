"""What ``train`` and ``evaluate`` report: scores, per-class tables, the confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..plotting import plot_confusion_matrix


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted class."""
    return np.bincount(
        np.asarray(labels) * n_classes + np.asarray(predicted), minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def scores(probs: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Accuracy, mean cross-entropy, per-class precision/recall/F1 and the confusion matrix."""
    labels = np.asarray(labels, dtype=np.intp)
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, n_classes)
    picked = probs[np.arange(len(labels)), labels].astype(np.float64)
    per_class = []
    for k in range(n_classes):
        hits = int(matrix[k, k])
        precision = _ratio(hits, matrix[:, k].sum())
        recall = _ratio(hits, matrix[k].sum())
        f1 = (
            _ratio(2 * precision * recall, precision + recall)
            if precision is not None and recall is not None
            else None
        )
        per_class.append(
            {"precision": precision, "recall": recall, "f1": f1, "support": int(matrix[k].sum())}
        )
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_loss": float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny)))),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def format_class_table(per_class: Sequence[Mapping[str, Any]], class_names: Sequence[str]) -> str:
    """Per-class precision, recall, F1 and support as an aligned text table."""
    width = max(5, *map(len, class_names))

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    lines = [f"{'class':>{width}}  {'precision':>9}  {'recall':>8}  {'f1':>8}  {'support':>7}"]
    for name, row in zip(class_names, per_class, strict=True):
        lines.append(
            f"{name:>{width}}  {percent(row['precision']):>9}  {percent(row['recall']):>8}  "
            f"{percent(row['f1']):>8}  {row['support']:>7d}"
        )
    return "\n".join(lines)


def format_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """The confusion matrix as text, rows true classes and columns predicted ones."""
    matrix = np.asarray(matrix)
    names = [name[:7] for name in class_names]
    cell = max(4, len(str(int(matrix.max(initial=0)))) + 1, *(len(name) + 1 for name in names))
    label = max(4, *map(len, names))
    lines = [
        "Confusion matrix (rows: true class, columns: predicted class)",
        " " * label + "".join(f"{name:>{cell}}" for name in names),
    ]
    for name, row in zip(names, matrix, strict=True):
        lines.append(f"{name:>{label}}" + "".join(f"{int(count):>{cell}d}" for count in row))
    return "\n".join(lines)


def draw_confusion_matrix(folder: Path, metrics: Mapping[str, Any], class_names) -> Path:
    """``confusion_matrix.png`` in ``folder``, from a :func:`scores` result."""
    path = folder / "confusion_matrix.png"
    plot_confusion_matrix(
        np.array(metrics["confusion_matrix"]),
        class_names=class_names,
        title=f"Confusion matrix, {metrics['dataset']} test set "
        f"(accuracy {100 * metrics['test_accuracy']:.2f}%)",
        path=path,
    )
    return path
