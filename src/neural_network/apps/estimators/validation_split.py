"""Early stopping's validation split: scikit-learn's ``train_test_split``, stratified as its
``MLPClassifier`` stratifies, with its errors first."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def split_validation(
    x: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None,
    *,
    fraction: float,
    strata: np.ndarray | None,
    seed: int,
    hint: str,
):
    """Hold out ``fraction`` of the samples, stratified by ``strata`` (``None``: not at all).

    Returns:
        ``(x, targets, weights)`` of the training part (in the data's order) and the
        ``validation_data`` for ``fit``.

    Raises:
        ValueError: scikit-learn's errors, followed by ``hint``: from its stratified split
            when a stratum has fewer than 2 samples or fewer than one for each side, and
            "The validation set is too small" when fewer than 2 samples are held out; also
            when the split leaves one side with only zero weights.
    """
    n_samples = x.shape[0]
    try:
        train, val = train_test_split(
            np.arange(n_samples), test_size=fraction, stratify=strata, random_state=seed
        )
    except ValueError as error:  # scikit-learn's words first, then what they mean here
        raise ValueError(f"{error} ({hint})") from None
    if len(val) < 2:  # scikit-learn's message
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the size "
            f"of your dataset (early_stopping holds out {len(val)} of {n_samples} samples; "
            "it needs at least 2)."
        )
    train = np.sort(train)
    if weights is None:
        return x[train], targets[train], None, (x[val], targets[val])
    if not weights[train].any() or not weights[val].any():
        raise ValueError("early_stopping's split left one side with only zero weights")
    validation_data = (x[val], targets[val], weights[val])
    return x[train], targets[train], weights[train], validation_data
