"""Sparse ``X`` (scipy.sparse matrices and arrays) in the estimators, kept sparse.

Min-max scaling subtracts each feature's minimum, which would turn every stored zero into a
value and densify the data. For sparse ``X``, ``scale_inputs`` therefore divides each
feature by its largest magnitude and shifts nothing: the same as min-max scaling for a
non-negative feature that holds a 0 (counts, tf-idf, one-hot columns), and features in
``[-1, 1]`` otherwise. The fitted scaler is an ordinary ``MinMaxScaler`` with minimum 0, so
dense ``X`` is scaled identically later. Only the first layer multiplies the sparse rows
(see :mod:`neural_network.core.sparse`).
"""

from __future__ import annotations

import numpy as np

from ...core.sparse import is_sparse
from ...data.preprocessing import MinMaxScaler


def fit_input_scaler(X, dtype: np.dtype) -> MinMaxScaler:
    """The input scaler for ``X``: min-max for dense ``X``, largest magnitude for sparse."""
    if not is_sparse(X):
        return MinMaxScaler(dtype).fit(X)
    peak = np.asarray(abs(X).max(axis=0).todense(), dtype=np.float64).ravel()
    scale = np.zeros_like(peak)
    np.divide(1.0, peak, out=scale, where=peak > 0)
    return MinMaxScaler.from_state({"min": np.zeros_like(peak), "scale": scale}, dtype)


def scale_sparse(scaler: MinMaxScaler | None, X, dtype: np.dtype):
    """Sparse ``X`` scaled (when there is a scaler) as CSR rows of ``dtype``, in float64
    before the cast, with no dense copy.

    Raises:
        ValueError: if the scaler shifts features (it was fitted on dense ``X`` whose
            minima are not 0), or a value falls outside ``dtype``'s range.
    """
    x = X.tocsr().astype(np.float64, copy=True)
    if scaler is not None:
        if np.any(scaler.min_ != 0):
            raise ValueError(
                "sparse X cannot be scaled as the dense X of the fit was (min-max scaling "
                "subtracts minima that are not 0, which would fill in every zero): pass "
                "X.toarray(), or fit on sparse X, or use scale_inputs=False"
            )
        x.data *= scaler.scale_[x.indices]  # stored entries only: zeros stay zeros
    limit = np.finfo(dtype).max
    if x.data.size and np.abs(x.data).max() > limit:
        raise ValueError(
            f"X holds values beyond {np.dtype(dtype)}'s range ({limit:.3g}) after scaling; "
            'scale them, or use dtype="float64"'
        )
    return x.astype(dtype, copy=False)  # x is already this function's own copy
