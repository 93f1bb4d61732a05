"""Shared by the estimator tests: a fit whose ConvergenceWarning is not what is tested."""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning


def fit_quietly(estimator, x, y, **fit_params):
    """``estimator.fit(x, y, **fit_params)`` with scikit-learn's ConvergenceWarning silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(x, y, **fit_params)
