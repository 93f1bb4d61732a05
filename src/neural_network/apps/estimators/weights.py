"""Sample and class weights: what each training sample counts for.

A sample's weight multiplies its loss in the batch mean (``sum_i w_i l_i / sum_i w_i``), so
a weight of 2 is exactly the same as the sample twice, and a weight of 0 leaves it out of
training altogether (out of the input scaling and the validation split's statistics too).
The classifier's ``class_weight`` multiplies the weights of every sample of a class.
"""

from __future__ import annotations

import numbers

import numpy as np


def class_weights(
    class_weight, classes: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None
) -> np.ndarray | None:
    """The weight of each class (in the order of ``classes``), or ``None`` for ``None``.

    ``"balanced"`` gives class ``c`` the weight ``n / (n_classes * n_c)``, scikit-learn's
    formula, with ``n`` and ``n_c`` counted in sample weights (so repeating samples and
    weighting them agree); classes absent from ``labels`` get 1. A dict maps class labels to
    weights; the classes it leaves out get 1.

    Raises:
        ValueError: for a dict key that is not a class, a weight that is negative or not a
            finite number, or another kind of value.
    """
    if class_weight is None:
        return None
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(labels, weights=sample_weight, minlength=len(classes))
        present = counts > 0
        weights = np.ones(len(classes))
        weights[present] = counts.sum() / (np.count_nonzero(present) * counts[present])
        return weights
    if not isinstance(class_weight, dict):
        raise ValueError(f'class_weight must be None, "balanced" or a dict; got {class_weight!r}')
    weights = np.ones(len(classes))
    for label, weight in class_weight.items():
        found = np.flatnonzero(classes == label) if len(classes) else []
        if len(found) != 1:
            raise ValueError(
                f"class_weight has a weight for {label!r}, which is not one of the classes "
                f"{classes.tolist()!r}"
            )
        if (
            isinstance(weight, bool)
            or not isinstance(weight, numbers.Real)
            or not np.isfinite(weight)
            or weight < 0
        ):
            raise ValueError(
                f"class_weight[{label!r}] must be a finite non-negative number; got {weight!r}"
            )
        weights[found[0]] = float(weight)
    return weights


def combine_weights(
    sample_weight: np.ndarray | None, per_class: np.ndarray | None, labels: np.ndarray
) -> np.ndarray | None:
    """Each sample's weight times its class's weight; ``None`` when both are ``None``.

    Raises:
        ValueError: if every sample ends with weight 0.
    """
    if per_class is None:
        return sample_weight
    weights = per_class[labels] if sample_weight is None else sample_weight * per_class[labels]
    if not weights.any():
        raise ValueError("every sample has weight zero once class_weight applies")
    return weights
