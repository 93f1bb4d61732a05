"""Weight initialisers: He (Kaiming) and Xavier (Glorot), normal and uniform.

Each takes ``(rng, n_in, n_out, dtype)`` and returns a ``(n_in, n_out)`` array.

- He et al. 2015, https://arxiv.org/abs/1502.01852: variance ``2 / n_in`` keeps the
  activations' scale through ReLU layers, which zero half of their input.
- Glorot & Bengio 2010, https://proceedings.mlr.press/v9/glorot10a.html: variance
  ``2 / (n_in + n_out)`` balances the forward and backward signal for tanh and sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.random.Generator, int, int, "np.dtype | type"], np.ndarray]


def he_normal(rng: np.random.Generator, n_in: int, n_out: int, dtype=np.float32) -> np.ndarray:
    """Normal with standard deviation ``sqrt(2 / n_in)``."""
    std = np.sqrt(2.0 / n_in)
    return (rng.standard_normal((n_in, n_out)) * std).astype(dtype)


def he_uniform(rng: np.random.Generator, n_in: int, n_out: int, dtype=np.float32) -> np.ndarray:
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / n_in)``."""
    limit = np.sqrt(6.0 / n_in)
    return rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype)


def xavier_normal(rng: np.random.Generator, n_in: int, n_out: int, dtype=np.float32) -> np.ndarray:
    """Normal with standard deviation ``sqrt(2 / (n_in + n_out))``."""
    std = np.sqrt(2.0 / (n_in + n_out))
    return (rng.standard_normal((n_in, n_out)) * std).astype(dtype)


def xavier_uniform(rng: np.random.Generator, n_in: int, n_out: int, dtype=np.float32) -> np.ndarray:
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / (n_in + n_out))``."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)).astype(dtype)


INITIALIZERS: dict[str, Initializer] = {
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
}


def get_initializer(name: str) -> Initializer:
    """Look an initialiser up by name.

    Raises:
        ValueError: if ``name`` is not a key of ``INITIALIZERS``.
    """
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown initializer {name!r}; expected one of {sorted(INITIALIZERS)}"
        ) from None
