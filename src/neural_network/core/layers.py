"""Layers with hand-derived backward passes: the ``Layer`` contract, ``Dense`` and ``Dropout``.

Samples are rows: a batch ``x`` has shape ``(n_samples, n_features)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .initializers import get_initializer


@dataclass(eq=False)
class Parameter:
    """A trainable array and its gradient.

    ``value`` and ``grad`` may be views into flat buffers shared by all parameters of a
    model (see :class:`FlatParameters`), so code must update them in place and never
    rebind them. ``backward`` overwrites ``grad``; it never accumulates into it.

    Attributes:
        value: The parameter itself.
        grad: Its gradient, same shape and dtype.
        decay: Whether L2 weight decay applies (weights yes, biases no).
        name: A label for messages and model files, e.g. ``"weight"``.
    """

    value: np.ndarray
    grad: np.ndarray
    decay: bool = True
    name: str = ""

    @classmethod
    def of(cls, value: np.ndarray, *, decay: bool = True, name: str = "") -> Parameter:
        """A parameter with a zero gradient of the same shape."""
        return cls(value=value, grad=np.zeros_like(value), decay=decay, name=name)


class FlatParameters:
    """All parameters of a model packed into two contiguous buffers, ``values`` and ``grads``.

    Each ``Parameter.value`` / ``.grad`` is re-pointed to a view into these buffers, so
    clipping is one norm and an optimiser step is a few vector operations over the whole
    network instead of a Python loop of small ones. Parameters with ``decay=True`` are
    packed first, so L2 applies to the single slice ``values[:n_decay]``.
    """

    def __init__(self, params: list[Parameter]):
        if not params:
            raise ValueError("FlatParameters needs at least one parameter")
        dtypes = {p.value.dtype for p in params}
        if len(dtypes) != 1:
            raise TypeError(f"All parameters must share one dtype; got {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop()
        ordered = [p for p in params if p.decay] + [p for p in params if not p.decay]
        self.params = ordered
        self.size = sum(p.value.size for p in ordered)
        self.n_decay = sum(p.value.size for p in ordered if p.decay)
        self.values = np.empty(self.size, dtype=self.dtype)
        self.grads = np.zeros(self.size, dtype=self.dtype)
        offset = 0
        for p in ordered:
            end = offset + p.value.size
            self.values[offset:end] = p.value.ravel()
            p.value = self.values[offset:end].reshape(p.value.shape)
            p.grad = self.grads[offset:end].reshape(p.value.shape)
            offset = end

    def rebind(self) -> None:
        """Point every ``Parameter.value``/``.grad`` back at views of ``values``/``grads``.

        Pickling or deep-copying stores each view as an array of its own; whatever owns a
        ``FlatParameters`` (a model, an optimiser) calls this when it is restored, so training
        keeps updating the arrays that ``forward`` reads.
        """
        offset = 0
        for p in self.params:
            end = offset + p.value.size
            p.value = self.values[offset:end].reshape(p.value.shape)
            p.grad = self.grads[offset:end].reshape(p.value.shape)
            p._flat_owner = self  # type: ignore[attr-defined]
            offset = end

    def __len__(self) -> int:
        return self.size

    @property
    def decayed_values(self) -> np.ndarray:
        """The weights that L2 applies to, as one flat view."""
        return self.values[: self.n_decay]

    @property
    def decayed_grads(self) -> np.ndarray:
        """The gradients of ``decayed_values``, as one flat view."""
        return self.grads[: self.n_decay]


def flat_parameters_of(params: list[Parameter] | FlatParameters) -> FlatParameters:
    """Return ``params`` as a :class:`FlatParameters`, packing a plain list if needed.

    A list whose parameters are already the views of one ``FlatParameters`` (in that
    order) is not packed again, so a model and its optimiser share the same buffers.
    """
    if isinstance(params, FlatParameters):
        return params
    params = list(params)
    owner = getattr(params[0], "_flat_owner", None) if params else None
    if owner is not None and set(map(id, owner.params)) == set(map(id, params)):
        return owner
    if any(getattr(p, "_flat_owner", None) is not None for p in params):
        # Re-packing would silently detach these parameters from their model's buffer.
        raise ValueError(
            "These parameters already belong to a model's flat buffer; pass all of that "
            "model's parameters (or model.flat), not a subset or a mix"
        )
    flat = FlatParameters(params)
    for p in flat.params:
        p._flat_owner = flat  # type: ignore[attr-defined]
    return flat


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

    def _cached(self, value: np.ndarray | None) -> np.ndarray:
        if value is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward(..., training=True)"
            )
        return value


class Dense(Layer):
    """Fully connected layer ``y = x @ weight + bias``.

    Shapes: ``x (n, n_in)``, ``weight (n_in, n_out)``, ``bias (n_out,)``, ``y (n, n_out)``.
    Backward: ``dW = x.T @ g``, ``db = sum_rows(g)``, ``dx = g @ W.T``.

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
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.n_in, self.n_out, self.init = int(n_in), int(n_out), init
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
        if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
            raise ValueError(f"Dropout rate must lie in [0, 1); got {value!r}")
        self._rate = float(value)

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
