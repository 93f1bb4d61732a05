"""Optimisers over a model's flat parameter buffer: SGD with momentum, and Adam.

One step, as a textbook writes it (:mod:`neural_network.optim.reference` does exactly this,
parameter by parameter, and a test holds the two equal to 1e-10 over 50 steps)::

    g = dL/dW + l2 * W                    coupled L2, on weights only (this is not AdamW)
    g = g * min(1, clip_norm / ||g||)     one norm over every gradient, not one per tensor
    SGD:   velocity = momentum * velocity + g
           W -= lr * velocity                 (Nesterov: W -= lr * (g + momentum * velocity))
    Adam:  m = beta1 * m + (1 - beta1) * g
           v = beta2 * v + (1 - beta2) * g**2
           W -= lr * m_hat / (sqrt(v_hat) + eps),   m_hat = m / (1 - beta1**t)
                                                    v_hat = v / (1 - beta2**t)

Here the same arithmetic runs over two vectors that hold every parameter and every gradient
of the model (its :class:`~neural_network.core.parameters.FlatParameters`), so a step is a
handful of whole-vector NumPy operations for the whole network instead of a Python loop
over tensors: :meth:`Optimizer.step` is ``add_l2_grad``, ``clip_by_global_norm`` and the
update rule, in that order. Adam folds its constants into two scalars per step (see
:class:`Adam`), and :mod:`neural_network.optim.denormals` keeps float32 values out of the
slow denormal range.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_bool, check_optional_real, check_real
from ..core.devices import copy_into, host_copy
from ..core.losses import add_l2_grad, l2_penalty
from ..core.parameters import FlatParameters, Parameter, flat_parameters_of
from . import cpu_kernels, denormals


class Optimizer:
    """Base class: a learning rate, coupled L2 and global-norm clipping over flat buffers.

    ``lr`` is a plain attribute that a training loop may set every epoch. Subclasses
    implement ``_update``, their update rule over the flat buffers.

    Args:
        params: A model's parameters (its ``model.flat``, or a list of them).
        lr: Learning rate.
        l2: Coupled L2 coefficient: the loss gains ``0.5 * l2 * sum(W**2)`` over the weights
            (not the biases), the gradient ``l2 * W``, before the update rule sees it.
        clip_norm: Scale all gradients together so that their joint L2 norm is at most
            this; ``None`` never clips.
    """

    def __init__(
        self,
        params: list[Parameter] | FlatParameters,
        lr: float,
        *,
        l2: float = 0.0,
        clip_norm: float | None = None,
    ):
        self.flat = flat_parameters_of(params)
        self.lr = check_real("lr", lr, "(0, inf)")
        self.l2 = check_real("l2", l2, "[0, inf)")
        self.clip_norm = check_optional_real("clip_norm", clip_norm, "(0, inf)")
        self.iterations = 0
        self._scratch = np.empty_like(self.flat.values)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.flat.rebind()

    def step(self) -> tuple[float, float]:
        """Update the parameters from their gradients: L2, clipping and the update rule.

        If the gradient norm is not finite, no update is made (the weights stay as they are)
        and the caller decides what to do.

        Returns:
            ``(penalty, grad_norm)``: the L2 penalty ``0.5 * l2 * sum(W**2)`` of the weights
            before the step, and the global gradient norm (L2 included) before clipping.
        """
        flat = self.flat
        penalty = l2_penalty(flat, self.l2)
        kernels = cpu_kernels.kernels_for(flat.values, flat.grads)
        if kernels is not None and self.l2 != 0:
            kernels.add_scaled(flat.decayed_grads, flat.decayed_values, flat.dtype.type(self.l2))
        else:
            add_l2_grad(flat, self.l2, scratch=self._scratch)
        grad_norm = clip_by_global_norm(flat, self.clip_norm)
        if not math.isfinite(grad_norm):
            return penalty, grad_norm
        self.iterations += 1
        self._prepare_step()
        self._update(self._scratch, flush=self.iterations % denormals.FLUSH_EVERY == 0)
        return penalty, grad_norm

    def _prepare_step(self) -> None:
        """Compute what the update rule needs for step ``self.iterations``."""

    def _update(self, tmp: np.ndarray, flush: bool) -> None:
        """Apply the update rule to every parameter; ``tmp`` is a scratch vector."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimiser's state as arrays (for checkpoints)."""
        return {"iterations": np.array(self.iterations, dtype=np.int64)}

    def check_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Raise ``ValueError`` unless ``state`` is one this optimiser could have reached."""
        current = self.state_dict()
        if set(state) != set(current):
            raise ValueError(f"expected the keys {sorted(current)}; got {sorted(state)}")
        for key, value in current.items():
            if np.shape(state[key]) != np.shape(value):
                raise ValueError(f"{key} has shape {np.shape(state[key])}, not {np.shape(value)}")
        if int(state["iterations"]) < 0:
            raise ValueError(f"iterations must be >= 0; got {int(state['iterations'])}")

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.check_state_dict(state)
        self.iterations = int(state["iterations"])

    def get_config(self) -> dict:
        return {"lr": self.lr, "l2": self.l2, "clip_norm": self.clip_norm}


class SGD(Optimizer):
    """Stochastic gradient descent with (heavy-ball) momentum, as in PyTorch::

        velocity = momentum * velocity + g
        W -= lr * velocity                          (nesterov=False)
        W -= lr * (g + momentum * velocity)         (nesterov=True)

    The Nesterov form is Sutskever et al.'s (2013,
    https://proceedings.mlr.press/v28/sutskever13.html) look-ahead, written at the current
    weights as PyTorch and scikit-learn write it.

    scikit-learn (like Keras and Sutskever et al.) keeps the learning rate *inside* its velocity
    ``v``: ``v = momentum * v - lr * g``, then ``W += v`` (Nesterov: ``W += momentum * v - lr *
    g``). With a constant ``lr`` the two forms make the same steps (``v = -lr * velocity``).
    They differ when ``lr`` changes: here the whole velocity moves at the new rate at once;
    there the past steps keep the rate they were taken at. ``lr_in_velocity=True`` gives
    scikit-learn's behaviour: when ``lr`` has changed since the last step, the velocity is
    first multiplied by ``old_lr / new_lr``, which makes ``-lr * velocity`` equal to
    scikit-learn's ``v`` again (one scalar product per change, nothing per step).

    Args:
        params: A model's parameters.
        lr: Learning rate.
        momentum: In ``[0, 1)``; 0 gives plain SGD.
        nesterov: Nesterov's momentum instead of the heavy ball.
        lr_in_velocity: Keep past steps at the rate they were taken at when ``lr`` changes
            (scikit-learn's and Keras' velocity), see above.
        l2: Coupled L2 coefficient (see :class:`Optimizer`).
        clip_norm: Global gradient-norm bound, or ``None``.
    """

    # Class defaults, which optimisers pickled before these options existed read back.
    nesterov = False
    lr_in_velocity = False
    _velocity_lr: float | None = None

    def __init__(
        self,
        params: list[Parameter] | FlatParameters,
        lr: float = 0.01,
        momentum: float = 0.9,
        *,
        nesterov: bool = False,
        lr_in_velocity: bool = False,
        l2: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(params, lr, l2=l2, clip_norm=clip_norm)
        self.momentum = check_real("momentum", momentum, "[0, 1)")
        self.nesterov = check_bool("nesterov", nesterov)
        self.lr_in_velocity = check_bool("lr_in_velocity", lr_in_velocity)
        self.velocity = np.zeros_like(self.flat.values)
        if self.lr_in_velocity:
            self._velocity_lr = self.lr

    def _prepare_step(self) -> None:
        # Idempotent for one lr, so callers that prepare several steps ahead may repeat it.
        if self.lr_in_velocity and self.lr != self._velocity_lr:
            if self.momentum:
                self.velocity *= self.velocity.dtype.type(self._velocity_lr / self.lr)
            self._velocity_lr = self.lr

    def _update(self, tmp: np.ndarray, flush: bool) -> None:
        w, g, velocity = self.flat.values, self.flat.grads, self.velocity
        kernels = cpu_kernels.kernels_for(w, g, velocity)
        if kernels is None:
            self._update_arrays(tmp)
        else:  # the same arithmetic in one compiled pass, with the same bits
            kind = w.dtype.type
            kernels.sgd_update(w, g, velocity, kind(self.momentum), kind(self.lr), self.nesterov)
        if flush:
            denormals.flush_tiny(w, denormals.VALUE_BELOW, tmp)
            denormals.flush_tiny(velocity, denormals.MOMENT_BELOW, tmp)

    def _update_arrays(self, tmp: np.ndarray) -> None:
        """The update as whole-vector NumPy operations (``tmp`` is scratch)."""
        w, g, velocity = self.flat.values, self.flat.grads, self.velocity
        if self.momentum:
            velocity *= self.momentum
            velocity += g
            if self.nesterov:
                np.multiply(velocity, self.momentum, out=tmp)
                tmp += g
                g = tmp
            else:
                g = velocity
        np.multiply(g, self.lr, out=tmp)
        w -= tmp

    def state_dict(self) -> dict[str, np.ndarray]:
        state = {**super().state_dict(), "velocity": host_copy(self.velocity)}
        if self.lr_in_velocity:  # the rate the velocity is kept at
            state["velocity_lr"] = np.array(self._velocity_lr, dtype=np.float64)
        return state

    def check_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().check_state_dict(state)
        if "velocity_lr" in state and not float(state["velocity_lr"]) > 0:
            raise ValueError(f"velocity_lr must be positive; got {float(state['velocity_lr'])}")

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        copy_into(self.velocity, state["velocity"])
        if self.lr_in_velocity:
            self._velocity_lr = float(state["velocity_lr"])

    def get_config(self) -> dict:
        config = {**super().get_config(), "momentum": self.momentum}
        # Only when set, so the settings of runs from before these options stay the same.
        if self.nesterov:
            config["nesterov"] = True
        if self.lr_in_velocity:
            config["lr_in_velocity"] = True
        return config


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        W -= lr * m_hat / (sqrt(v_hat) + eps),  m_hat = m / (1 - beta1**t),
                                                v_hat = v / (1 - beta2**t)

    With ``l2``, this is Adam on the L2-penalised loss (PyTorch's ``Adam(weight_decay=)``),
    not AdamW's decoupled weight decay.

    How the code folds the constants: the moments are kept as plain exponentially weighted
    *sums*, ``m_sum = m / (1 - beta1)`` and ``v_sum = v / (1 - beta2)``, updated as
    ``m_sum = beta1 * m_sum + g``. The constant factors and both bias corrections then fold
    into two scalars per step (as the paper's "efficient version" does with the
    corrections)::

        c = sqrt((1 - beta2) / (1 - beta2**t))
        W -= lr * (1 - beta1) / ((1 - beta1**t) * c) * m_sum / (sqrt(v_sum) + eps / c)

    which is the same update in ten vector operations instead of fourteen.
    :class:`neural_network.optim.reference.ReferenceAdam` keeps ``m`` and ``v`` as the
    paper does; ``m`` and ``v`` are also available here, as properties.

    Args:
        params: A model's parameters.
        lr: Learning rate.
        beta1: Decay of the first moment, in ``[0, 1)``.
        beta2: Decay of the second moment, in ``[0, 1)``.
        eps: Added to ``sqrt(v_hat)``; positive.
        l2: Coupled L2 coefficient (see :class:`Optimizer`).
        clip_norm: Global gradient-norm bound, or ``None``.
    """

    def __init__(
        self,
        params: list[Parameter] | FlatParameters,
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        *,
        l2: float = 0.0,
        clip_norm: float | None = None,
    ):
        super().__init__(params, lr, l2=l2, clip_norm=clip_norm)
        self.beta1 = check_real("beta1", beta1, "[0, 1)")
        self.beta2 = check_real("beta2", beta2, "[0, 1)")
        self.eps = check_real("eps", eps, "(0, inf)")
        self.m_sum = np.zeros_like(self.flat.values)
        self.v_sum = np.zeros_like(self.flat.values)

    @property
    def m(self) -> np.ndarray:
        """First moment estimate (a copy), before bias correction."""
        return self.m_sum * self.m_sum.dtype.type(1.0 - self.beta1)

    @property
    def v(self) -> np.ndarray:
        """Second moment estimate (a copy), before bias correction."""
        return self.v_sum * self.v_sum.dtype.type(1.0 - self.beta2)

    def _prepare_step(self) -> None:
        t = self.iterations
        c = math.sqrt((1.0 - self.beta2) / (1.0 - self.beta2**t))
        self._step_size = self.lr * (1.0 - self.beta1) / ((1.0 - self.beta1**t) * c)
        self._eps_t = self.eps / c

    def _update(self, tmp: np.ndarray, flush: bool) -> None:
        w, g, m_sum, v_sum = self.flat.values, self.flat.grads, self.m_sum, self.v_sum
        kernels = cpu_kernels.kernels_for(w, g, m_sum, v_sum)
        if kernels is None:
            self._update_arrays(tmp)
        else:  # the same arithmetic in one compiled pass, with the same bits
            kind = w.dtype.type
            kernels.adam_update(
                w, g, m_sum, v_sum, kind(self.beta1), kind(self.beta2),
                kind(self._eps_t), kind(self._step_size),
            )  # fmt: skip
        if flush:
            denormals.flush_tiny(w, denormals.VALUE_BELOW, tmp)
            denormals.flush_tiny(m_sum, denormals.MOMENT_BELOW / (1.0 - self.beta1), tmp)
            denormals.flush_tiny(v_sum, denormals.SECOND_MOMENT_BELOW / (1.0 - self.beta2), tmp)

    def _update_arrays(self, tmp: np.ndarray) -> None:
        """The update as ten whole-vector NumPy operations (``tmp`` is scratch)."""
        w, g, m_sum, v_sum = self.flat.values, self.flat.grads, self.m_sum, self.v_sum
        m_sum *= self.beta1
        m_sum += g
        v_sum *= self.beta2
        np.multiply(g, g, out=tmp)
        v_sum += tmp
        np.sqrt(v_sum, out=tmp)
        tmp += self._eps_t
        np.divide(m_sum, tmp, out=tmp)
        tmp *= self._step_size
        w -= tmp

    def state_dict(self) -> dict[str, np.ndarray]:
        return {
            **super().state_dict(),
            "m_sum": host_copy(self.m_sum),
            "v_sum": host_copy(self.v_sum),
        }

    def check_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().check_state_dict(state)
        if np.any(state["v_sum"] < 0):
            raise ValueError("v_sum, a sum of squares, holds negative values")

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        super().load_state_dict(state)
        copy_into(self.m_sum, state["m_sum"])
        copy_into(self.v_sum, state["v_sum"])

    def get_config(self) -> dict:
        config = super().get_config()
        return {**config, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


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

    One norm over every gradient (Pascanu et al. 2013, https://arxiv.org/abs/1211.5063), not
    one per tensor: the update keeps its direction. Gradients already within the bound are
    left untouched. :meth:`Optimizer.step` calls this with its ``clip_norm``.

    Args:
        params: The parameters whose ``grad`` to clip.
        clip_norm: The bound; ``None`` only measures.

    Returns:
        The global norm before clipping (``nan``/``inf`` if a gradient is not finite, and
        then nothing is scaled).
    """
    flat = flat_parameters_of(params)
    weight_grads, bias_grads = flat.decayed_grads, flat.grads[flat.n_decay :]
    # The weights' and the biases' parts, each reduced on its own, then summed in float64.
    norm = math.sqrt(
        float(np.dot(weight_grads, weight_grads)) + float(np.dot(bias_grads, bias_grads))
    )
    if clip_norm is not None and math.isfinite(norm) and norm > clip_norm:
        flat.grads *= flat.dtype.type(clip_norm / norm)
    return norm
