"""Per-feature min-max scaling and one-hot encoding."""

from __future__ import annotations

import numpy as np

from ..checks import as_class_ids, check_positive_int


class MinMaxScaler:
    """Scale each feature to ``[0, 1]`` using the minimum and maximum seen in training data.

    ``transform(x) = (x - min) * scale`` with ``scale = 1 / (max - min)``. A feature that is
    constant in the training data gets ``scale = 0`` and maps to 0 everywhere, with no division
    by zero. Values outside the training range map outside ``[0, 1]`` (nothing is clipped).

    Args:
        dtype: Output dtype of :meth:`transform`.
    """

    def __init__(self, dtype: np.dtype | type = np.float32):
        self.dtype = np.dtype(dtype)
        self.min_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> MinMaxScaler:
        """Learn per-feature minimum and range from ``x`` (n_samples, n_features).

        Raises:
            ValueError: if ``x`` is not 2-D, is empty, or holds NaN or infinite values.
        """
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(f"MinMaxScaler.fit needs a non-empty 2-D array; got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"MinMaxScaler.fit needs numbers; got dtype {x.dtype}")
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("MinMaxScaler.fit got NaN or infinite values")
        low = x.min(axis=0).astype(np.float64)
        span = x.max(axis=0).astype(np.float64) - low
        scale = np.zeros_like(span)
        np.divide(1.0, span, out=scale, where=span > 0)
        self.min_, self.scale_ = low, scale
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scale ``x`` with the fitted statistics; returns a new array of ``self.dtype``."""
        if self.min_ is None or self.scale_ is None:
            raise RuntimeError("MinMaxScaler.transform called before fit")
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != len(self.min_):
            raise ValueError(
                f"MinMaxScaler was fitted on {len(self.min_)} features; got shape {x.shape}"
            )
        # Subtract and scale in float64 (or the data's wider dtype), then cast: casting first
        # would round large values (1.7e9 + i) onto a few float32 steps before the
        # subtraction, and overflow values above float32's range that scale to small ones.
        work = np.result_type(x.dtype, np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            scaled = (x.astype(work, copy=False) - self.min_) * self.scale_
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all():
            raise ValueError("MinMaxScaler.transform got NaN or infinite values")
        limit = np.finfo(self.dtype).max
        if not np.isfinite(scaled).all() or (np.abs(scaled) > limit).any():
            raise ValueError(
                "MinMaxScaler.transform: a value lies so far outside the range seen in fit "
                f"that its scaled value overflows {self.dtype} (largest {limit:.3g})"
            )
        return scaled.astype(self.dtype)

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted statistics, for model files."""
        if self.min_ is None or self.scale_ is None:
            raise RuntimeError("MinMaxScaler is not fitted")
        return {"min": self.min_.copy(), "scale": self.scale_.copy()}

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], dtype=np.float32) -> MinMaxScaler:
        scaler = cls(dtype)
        scaler.min_ = np.array(state["min"], dtype=np.float64)
        scaler.scale_ = np.array(state["scale"], dtype=np.float64)
        return scaler


def one_hot(labels: np.ndarray, n_classes: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Rows of one-hot vectors: shape ``(n_samples, n_classes)``.

    Raises:
        ValueError: if a label is not an integer in ``[0, n_classes)``.
    """
    check_positive_int("n_classes", n_classes)
    labels = as_class_ids(labels, n_classes)
    out = np.zeros((len(labels), n_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out
