"""Layers with hand-derived backward passes: the ``Layer`` contract, ``Dense`` and ``Dropout``.

Samples are rows: a batch ``x`` has shape ``(n_samples, n_features)``.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_positive_int, check_real
from .initializers import get_initializer
from .parameters import Parameter
from .sparse import is_sparse


class Layer:
    """Base class: a differentiable function of a batch, with optional parameters.

    ``forward`` caches only what ``backward`` needs, and only when ``training`` is true;
    ``backward`` takes ``dL/d(output)`` and returns ``dL/d(input)``.
    """

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        """Back-propagate ``grad_out``; return ``None`` when ``input_grad`` is false and the
        layer can skip that product (the first layer's input gradient is never needed)."""
        raise NotImplementedError

    def parameters(self) -> list[Parameter]:
        return []

    def get_config(self) -> dict:
        """JSON-safe constructor arguments, so a model can be rebuilt from its config."""
        return {}

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def _cached(self, value: np.ndarray | None) -> np.ndarray:
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward(..., training=True)"
            )
        return value


class Dense(Layer):
    """Fully connected layer ``y = x @ weight + bias``.

    Shapes: ``x (n, n_in)``, ``weight (n_in, n_out)``, ``bias (n_out,)``, ``y (n, n_out)``.
    Backward: ``dW = x.T @ g``, ``db = sum_rows(g)``, ``dx = g @ W.T``. ``x`` may be a
    scipy.sparse matrix (see :mod:`neural_network.core.sparse`): both of its products are
    then sparse-times-dense.

    Args:
        n_in: Number of input features.
        n_out: Number of output units.
        init: Name of a weight initialiser in ``INITIALIZERS``.
        rng: Generator for the initial weights.
        dtype: Parameter dtype; float32 for training, float64 for gradient checks.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str = "he_normal",
        rng: np.random.Generator | None = None,
        dtype: np.dtype | type = np.float32,
    ):
        self.n_in = check_positive_int("n_in", n_in)
        self.n_out = check_positive_int("n_out", n_out)
        self.init = init
        rng = rng if rng is not None else np.random.default_rng()
        weight = get_initializer(init)(rng, self.n_in, self.n_out, dtype)
        self.weight = Parameter.of(weight, decay=True, name="weight")
        self.bias = Parameter.of(np.zeros(self.n_out, dtype=weight.dtype), decay=False, name="bias")
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        out = x @ self.weight.value
        out += self.bias.value
        self._x = x if training else None
        return out

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        x = self._cached(self._x)
        if is_sparse(x):
            self.weight.grad[...] = x.T @ grad_out  # sparse @ dense: a dense (n_in, n_out)
        else:
            np.matmul(x.T, grad_out, out=self.weight.grad)
        np.sum(grad_out, axis=0, out=self.bias.grad)
        return grad_out @ self.weight.value.T if input_grad else None

    def parameters(self) -> list[Parameter]:
        return [self.weight, self.bias]

    def get_config(self) -> dict:
        return {"n_in": self.n_in, "n_out": self.n_out, "init": self.init}


class Dropout(Layer):
    """Inverted dropout (Srivastava et al. 2014, https://jmlr.org/papers/v15/srivastava14a.html).

    ``rate`` is the probability of *dropping* a unit (PyTorch's ``p``, Keras' ``rate``).
    While training, kept units are scaled by ``1 / (1 - rate)`` so that inference is the
    identity and needs no rescaling. ``rate == 0`` costs nothing.

    Args:
        rate: Drop probability in ``[0, 1)``.
        rng: Generator for the masks.
    """

    def __init__(self, rate: float = 0.5, *, rng: np.random.Generator | None = None):
        self.rate = rate
        self.rng = rng if rng is not None else np.random.default_rng()
        self._mask: np.ndarray | None = None

    @property
    def rate(self) -> float:
        return self._rate

    @rate.setter
    def rate(self, value: float) -> None:
        self._rate = check_real("Dropout rate", value, "[0, 1)")

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        if not training or self._rate == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self._rate
        mask = self.rng.random(x.shape, dtype=np.float32) < keep
        self._mask = mask.astype(x.dtype) * x.dtype.type(1.0 / keep)
        return x * self._mask

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = True) -> np.ndarray | None:
        if self._rate == 0.0:
            return grad_out
        return grad_out * self._cached(self._mask)

    def get_config(self) -> dict:
        return {"rate": self._rate}
