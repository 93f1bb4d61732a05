"""Numerical gradients by central differences, for checking hand-derived backward passes.

Everything here works in float64: in float32 the round-off of a central difference
(``eps * |f| / h`` with ``eps = 1.2e-7``) is far larger than the tolerance being checked.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Step of the central difference. Its truncation error is O(h**2 * f''') ~ 1e-10 and its
# round-off about 1e-16 * |f| / h ~ 1e-11 for the small test problems used here.
STEP = 1e-5
# Gradient entries smaller than this are compared absolutely rather than relatively: an
# entry passes when |a - n| < tol * max(|a| + |n|, FLOOR), i.e. within tol * FLOOR = 1e-9
# absolutely for tol = 1e-6, well above the difference's own error.
FLOOR = 1e-3


def numerical_gradient(f: Callable[[], float], x: np.ndarray, *, h: float = STEP) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``f`` takes no arguments and must read ``x`` (which is perturbed in place, one entry at
    a time, and restored exactly afterwards).

    Args:
        f: The function, e.g. ``lambda: float(np.sum(layer.forward(x) * g))``.
        x: A float64 array that ``f`` depends on; a view into a larger buffer is fine.
        h: The step.

    Returns:
        An array shaped like ``x`` with ``(f(x + h e_i) - f(x - h e_i)) / (2 h)``.
    """
    if x.dtype != np.float64:
        raise TypeError(f"gradient checks need float64; got {x.dtype}")
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = f()
        x[index] = original - h
        f_minus = f()
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2.0 * h)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray, *, floor: float = FLOOR) -> float:
    """Largest entry-wise ``|a - n| / max(|a| + |n|, floor)``; 0 for empty arrays."""
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    if analytic.shape != numeric.shape:
        raise ValueError(f"shapes differ: {analytic.shape} vs {numeric.shape}")
    if analytic.size == 0:
        return 0.0
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), floor)
    return float(np.max(np.abs(analytic - numeric) / scale))


def assert_gradient_close(
    analytic: np.ndarray, numeric: np.ndarray, *, tol: float = 1e-6, name: str = "gradient"
) -> None:
    """Fail unless ``relative_error(analytic, numeric) < tol``."""
    error = relative_error(analytic, numeric)
    assert error < tol, f"{name}: max relative error {error:.3e} >= {tol:.0e}"
