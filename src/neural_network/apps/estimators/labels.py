"""The classifier's class labels: which a model file can store, their encoding as
positions in the sorted ``classes_``, and the rule that a warm start keeps the classes."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.multiclass import unique_labels


def check_class_labels(classes: np.ndarray) -> np.ndarray:
    """Refuse labels that a model file cannot store: only booleans, integers, floats and
    strings are kept (datetime64 labels, say, would fit and then fail to save)."""
    if classes.size == 0:
        raise ValueError("classes is empty; pass every label that will ever appear")
    if classes.dtype.kind == "f" and np.isnan(classes).any():
        raise ValueError(f"classes holds NaN ({classes!r}); class labels must be comparable")
    if classes.dtype.kind == "O" and any(
        isinstance(label, float) and math.isnan(label) for label in classes.tolist()
    ):
        raise ValueError(f"classes holds NaN ({classes!r}); class labels must be comparable")
    storable = (bool, int, float, str, np.bool_, np.integer, np.floating, np.str_)
    if classes.dtype.kind not in "biufUO" or not all(
        isinstance(label, storable) for label in classes.tolist()
    ):
        raise ValueError(
            f"y holds labels of dtype {classes.dtype} ({classes[:1].tolist()[0]!r}, ...); class "
            "labels must be integers, floats, booleans or strings, which a model file can store"
        )
    return classes


def encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Positions of the labels ``y`` in the sorted ``classes``.

    Raises:
        ValueError: if a label is not one of ``classes``.
    """
    labels = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[labels] != y
    if np.any(unknown):
        raise ValueError(
            f"y holds labels that are not in classes {classes!r}: {np.unique(y[unknown])!r}"
        )
    return labels.astype(np.intp, copy=False)


def check_same_classes(y, classes: np.ndarray) -> None:
    """A warm start continues the fitted output layer: ``y`` must have exactly its classes
    (scikit-learn's rule and words)."""
    labels = unique_labels(y)
    if set(labels.tolist()) != set(classes.tolist()):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the previous "
            f"call to fit. Previously got {classes}, `y` has {labels}"
        )
