"""Sparse inputs (``scipy.sparse`` matrices and arrays), recognised without importing scipy.

A sparse ``x`` reaches only the first ``Dense`` layer, whose two products with it are
sparse-times-dense: ``x @ W`` forward and ``x.T @ g`` backward, each of a cost proportional
to the non-zeros, never a dense copy of ``x`` or of a batch of it. Every later layer sees
dense activations. The training loop takes batches as rows of a CSR matrix.

scipy stays optional: a sparse matrix can only exist once scipy is imported, so
:func:`is_sparse` looks for ``scipy.sparse`` among the imported modules and never imports it.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy.sparse matrix or array (False, for free, without scipy)."""
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(x)


def sparse_rows(x: Any, dtype: np.dtype, *, what: str = "x") -> Any:
    """``x`` as a CSR matrix of ``dtype`` (a sparse copy only if the format or the dtype
    differs), so that rows slice and gather cheaply.

    Raises:
        ValueError: unless ``x`` is 2-D with finite values.
    """
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features); got shape {x.shape}")
    x = x.tocsr()
    if x.dtype != dtype:
        x = x.astype(dtype)
    if not np.isfinite(x.data).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return x


def mean_absolute_value(x: Any) -> float:
    """``mean(|x|)`` over every entry of a sparse ``x``, zeros included."""
    n_entries = x.shape[0] * x.shape[1]
    return float(np.abs(x.data).sum(dtype=np.float64) / n_entries) if n_entries else 0.0
