"""Optimisers over a model's flat parameter buffer, and clipping by one global norm.

Every optimiser works on the :class:`~neural_network.layers.FlatParameters` of its
parameters, so a step is a handful of vector operations over the whole network. The updates
run chunk by chunk so the five vectors involved stay in the CPU cache between operations.
"""

from __future__ import annotations

import math

import numpy as np

from .layers import FlatParameters, Parameter, flat_parameters_of

# 64 Ki float32 elements = 256 KiB per vector; the five vectors of an Adam update then fit in
# a 2 MiB L2 cache. Whole-vector ufuncs would stream each one through memory 12 times.
_CHUNK = 1 << 16
# Keeping float32 training out of the denormal range. NumPy has no flush-to-zero switch, and
# arithmetic on denormals (|x| < 1.2e-38) runs up to 20x slower. They arise on their own: the
# weights of an input that is always 0 (67 MNIST pixels) or of a dead ReLU unit see only the
# L2 gradient ``l2 * w`` and shrink geometrically, and so do their Adam moments. Every
# ``_FLUSH_EVERY`` steps such values are set to exactly 0 (their L2 optimum), before anything
# derived from them (``l2 * w``, ``g**2``, ``w * x``) can underflow. The thresholds are far
# below what float32 resolves next to the values they are added to, so results change only
# by floating-point noise: a weight under 1e-15 moves no activation, a first moment under
# 1e-20 moves no weight, and a second moment under 1e-30 is invisible next to ``eps``.
_FLUSH_EVERY = 16
_FLUSH_VALUE_BELOW = 1e-15
_FLUSH_MOMENT_BELOW = 1e-20
_FLUSH_SECOND_MOMENT_BELOW = 1e-30


def _flush_tiny(array: np.ndarray, threshold: float, scratch: np.ndarray) -> None:
    """Set entries with ``|x| < threshold`` to 0, in place, one cache-sized chunk at a time."""
    for start in range(0, len(array), len(scratch)):
        part = array[start : start + len(scratch)]
        tmp = scratch[: len(part)]
        np.abs(part, out=tmp)
        np.copyto(part, 0, where=tmp < threshold)


def _check_lr(lr: float) -> float:
    if not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr must be a positive finite number; got {lr!r}")
    return float(lr)


class Optimizer:
    """Base class. ``lr`` is a plain attribute that a training loop may set every epoch.

    Args:
        params: A model's parameters (a list, or its ``FlatParameters``).
        lr: Learning rate.
    """

    def __init__(self, params: list[Parameter] | FlatParameters, lr: float):
        self.flat = flat_parameters_of(params)
        self.lr = _check_lr(lr)
        self.iterations = 0
        size = len(self.flat)
        self._chunks = [slice(i, min(i + _CHUNK, size)) for i in range(0, size, _CHUNK)]
        self._scratch = np.empty(min(_CHUNK, size), dtype=self.flat.dtype)

    def step(self) -> None:
        """Apply one update from the current gradients."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimiser's state as arrays (for checkpoints)."""
        return {"iterations": np.array(self.iterations, dtype=np.int64)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.iterations = int(state["iterations"])

    def get_config(self) -> dict:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as in PyTorch::

        velocity = momentum * velocity + grad
        param   -= lr * velocity

    Args:
        params: A model's parameters.
        lr: Learning rate.
        momentum: In ``[0, 1)``; 0 gives plain SGD.
    """

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9):
        super().__init__(params, lr)
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum must lie in [0, 1); got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = np.zeros_like(self.flat.values)

    def step(self) -> None:
        self.iterations += 1
        values, grads, velocity = self.flat.values, self.flat.grads, self.velocity
        if self.momentum == 0.0:
            values -= self.lr * grads
            return
        velocity *= self.momentum
        velocity += grads
        values -= self.lr * velocity
        if self.iterations % _FLUSH_EVERY == 0:
            _flush_tiny(values, _FLUSH_VALUE_BELOW, self._scratch)
            _flush_tiny(velocity, _FLUSH_MOMENT_BELOW, self._scratch)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**super().state_dict(), "velocity": self.velocity.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.velocity[...] = state["velocity"]

    def get_config(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum}


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        param -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1**t),
                                                    v_hat = v / (1 - beta2**t)

    computed in the paper's equivalent form with the corrections folded into the step size,
    ``lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)`` and ``eps_t = eps * sqrt(1 - beta2**t)``,
    which saves two passes over the parameters. L2 given to the training loop is the classic
    coupled kind (added to ``g``); this is not AdamW.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        super().__init__(params, lr)
        for name, beta in (("beta1", beta1), ("beta2", beta2)):
            if not (0.0 <= beta < 1.0):
                raise ValueError(f"{name} must lie in [0, 1); got {beta!r}")
        if not eps > 0:
            raise ValueError(f"eps must be positive; got {eps!r}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = np.zeros_like(self.flat.values)
        self.v = np.zeros_like(self.flat.values)

    def step(self) -> None:
        self.iterations += 1
        t = self.iterations
        beta1, beta2 = self.beta1, self.beta2
        correction2 = math.sqrt(1.0 - beta2**t)
        step_size = self.lr * correction2 / (1.0 - beta1**t)
        eps_t = self.eps * correction2
        values, grads, m, v, scratch = (
            self.flat.values,
            self.flat.grads,
            self.m,
            self.v,
            self._scratch,
        )
        for part in self._chunks:
            g, w, m_part, v_part = grads[part], values[part], m[part], v[part]
            tmp = scratch[: len(g)]
            m_part *= beta1
            np.multiply(g, 1.0 - beta1, out=tmp)
            m_part += tmp
            v_part *= beta2
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - beta2
            v_part += tmp
            np.sqrt(v_part, out=tmp)
            tmp += eps_t
            np.divide(m_part, tmp, out=tmp)
            tmp *= step_size
            w -= tmp
        if t % _FLUSH_EVERY == 0:
            _flush_tiny(values, _FLUSH_VALUE_BELOW, scratch)
            _flush_tiny(m, _FLUSH_MOMENT_BELOW, scratch)
            _flush_tiny(v, _FLUSH_SECOND_MOMENT_BELOW, scratch)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {**super().state_dict(), "m": self.m.copy(), "v": self.v.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        self.m[...] = state["m"]
        self.v[...] = state["v"]

    def get_config(self) -> dict:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "sgd": SGD}


def get_optimizer(name: str) -> type[Optimizer]:
    """Look an optimiser class up by name.

    Raises:
        ValueError: if ``name`` is not a key of ``OPTIMIZERS``.
    """
    try:
        return OPTIMIZERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {sorted(OPTIMIZERS)}"
        ) from None


def clip_by_global_norm(params: list[Parameter] | FlatParameters, clip_norm: float | None) -> float:
    """Scale all gradients together so that their joint L2 norm is at most ``clip_norm``.

    One norm over every gradient (Pascanu et al. 2013), not one per tensor: the update keeps
    its direction. Gradients already within the bound are left untouched.

    Args:
        params: The parameters whose ``grad`` to clip.
        clip_norm: The bound; ``None`` only measures.

    Returns:
        The global norm before clipping (``nan``/``inf`` if a gradient is not finite).
    """
    grads = flat_parameters_of(params).grads
    norm = math.sqrt(float(np.dot(grads, grads)))
    if clip_norm is not None and norm > clip_norm:
        grads *= grads.dtype.type(clip_norm / norm)
    return norm
