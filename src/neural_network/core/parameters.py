"""Trainable parameters, and the flat buffers that hold all of a model's parameters at once.

A :class:`Parameter` is a value and its gradient. :class:`FlatParameters` packs every
parameter of a model into two contiguous vectors, so that clipping is one norm and an
optimiser step is a handful of vector operations over the whole network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
