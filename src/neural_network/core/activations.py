"""Element-wise activations as parameter-free layers, and their lookup table ``ACTIVATIONS``.

Each caches what its derivative needs: ReLU-family layers the input's sign, sigmoid and
tanh their output (``s' = s(1 - s)``, ``tanh' = 1 - tanh^2``), so backward costs one or
two element-wise products. The identity needs nothing: its derivative is 1.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_real
from .layers import Layer


class ReLU(Layer):
    """``max(x, 0)``; the derivative at 0 is taken as 0. Default initialiser: He."""

    default_init = "he_normal"

    def __init__(self) -> None:
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        out = np.maximum(x, 0)
        self._out = out if training else None
        return out

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        # The output is positive exactly where the input was, so no mask is stored.
        return grad_out * (self._cached(self._out) > 0)


class LeakyReLU(Layer):
    """``x`` for ``x > 0``, else ``alpha * x`` (Maas et al. 2013). Default initialiser: He.

    Args:
        alpha: Slope for negative inputs, in ``[0, 1)``.
    """

    default_init = "he_normal"

    def __init__(self, alpha: float = 0.01) -> None:
        self.alpha = check_real("LeakyReLU alpha", alpha, "[0, 1)")
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._x = x if training else None
        # For alpha < 1, max(x, alpha * x) is x when x > 0 and alpha * x otherwise.
        return np.maximum(x, x * x.dtype.type(self.alpha))

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        x = self._cached(self._x)
        slope = np.where(x > 0, x.dtype.type(1.0), x.dtype.type(self.alpha))
        return grad_out * slope

    def get_config(self) -> dict:
        return {"alpha": self.alpha}


class Sigmoid(Layer):
    """``1 / (1 + exp(-x))``, computed without overflow. Default initialiser: Xavier."""

    default_init = "xavier_normal"

    def __init__(self) -> None:
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        # exp of a non-positive number cannot overflow: use exp(-|x|) on both branches.
        z = np.exp(-np.abs(x))
        out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(x.dtype, copy=False)
        self._out = out if training else None
        return out

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        out = self._cached(self._out)
        return grad_out * out * (1 - out)


class Tanh(Layer):
    """Hyperbolic tangent. Default initialiser: Xavier."""

    default_init = "xavier_normal"

    def __init__(self) -> None:
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        out = np.tanh(x)
        self._out = out if training else None
        return out

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        out = self._cached(self._out)
        return grad_out * (1 - out * out)


class Identity(Layer):
    """``x`` unchanged, derivative 1: the hidden layers stay linear (scikit-learn's
    ``activation="identity"``; a network of them is one affine map, fitted by its factors).
    Default initialiser: Xavier.

    ``forward`` returns its input itself and ``backward`` its ``grad_out`` itself: neither
    copies, and nothing downstream writes into them.
    """

    default_init = "xavier_normal"

    def __init__(self) -> None:
        self._ready = False

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._ready = training
        return x

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray:
        if not self._ready:
            self._cached(None)  # raises: backward before forward(..., training=True)
        return grad_out


ACTIVATIONS: dict[str, type[Layer]] = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "identity": Identity,
}


def get_activation(name: str) -> type[Layer]:
    """Look an activation class up by name.

    Raises:
        ValueError: if ``name`` is not a key of ``ACTIVATIONS``; the message lists them.
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}"
        ) from None
