""":meth:`Optimizer.step` for parameters on a device, without reading a value back.

On the host, ``step`` returns the penalty and the gradient norm as Python floats and skips
the update when the norm is not finite: each of those is a wait for the device. Here the
penalty, the norm and the clipping factor stay on the device as 0-d arrays; the training
loop stores them and reads an epoch's worth at once, and decides about divergence then.

With CuPy the step is three fused kernels (:mod:`neural_network.optim.cuda_kernels`).
Elsewhere (a NumPy-backed stand-in in the tests) it is the optimiser's own code:
``add_l2_grad``, the global norm and the optimiser's ``_update``, all as array operations.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from ..core import devices
from ..core.losses import add_l2_grad
from . import cuda_kernels
from .optimizers import SGD, Adam, Optimizer

# The arrays of each optimiser's state, all of the flat buffers' size.
_STATE_ARRAYS = ("_scratch", "velocity", "m_sum", "v_sum")


def move_optimizer_state(optimizer: Optimizer, xp: ModuleType) -> None:
    """Copy the optimiser's state arrays (moments, velocity, scratch) to ``xp``'s memory, if
    they are not there already (``fit`` calls this, so an optimiser follows its model)."""
    for name in _STATE_ARRAYS:
        if hasattr(optimizer, name):
            setattr(optimizer, name, devices.to_device(getattr(optimizer, name), xp))


class DeviceStep:
    """Callable: one optimiser step on the device; returns ``(penalty, grad_norm)`` as 0-d
    device arrays (the penalty of the weights before the step, the norm before clipping).

    Called with ``scalars``, two 0-d device arrays (Adam's ``step_size`` and ``eps_t``, or
    SGD's ``lr`` and anything), the fused update reads them from the device and the step
    count is left to the caller: that is how a replayed CUDA graph steps
    (:mod:`neural_network.train.cuda_graphs`).

    Args:
        optimizer: An optimiser whose ``flat`` buffers live on ``xp``'s device; its state is
            moved there.
        xp: The device's array module.
    """

    def __init__(self, optimizer: Optimizer, xp: ModuleType):
        self.optimizer, self.xp = optimizer, xp
        move_optimizer_state(optimizer, xp)
        flat = optimizer.flat
        self.fused = cuda_kernels.has_kernels(xp) and isinstance(optimizer, (Adam, SGD))
        # 1 for weights, 0 for biases: the kernels' L2 mask.
        decay = np.zeros(len(flat), dtype=flat.dtype)
        decay[: flat.n_decay] = 1
        self.decay = xp.asarray(decay)
        self.zero = xp.zeros((), dtype=flat.dtype)

    def __call__(self, scalars: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
        optimizer = self.optimizer
        if scalars is None:
            optimizer.iterations += 1
            optimizer._prepare_step()
            if isinstance(optimizer, Adam):
                scalars = optimizer._step_size, optimizer._eps_t
            elif isinstance(optimizer, SGD):
                scalars = optimizer.lr, 0.0
        if self.fused:
            return self._fused_step(scalars)
        return self._array_step()

    def _array_step(self) -> tuple[Any, Any]:
        optimizer, flat = self.optimizer, self.optimizer.flat
        if optimizer.l2:
            weights = flat.decayed_values
            penalty = np.dot(weights, weights) * (0.5 * optimizer.l2)
        else:
            penalty = self.zero
        add_l2_grad(flat, optimizer.l2, scratch=optimizer._scratch)
        grad_norm = np.sqrt(np.dot(flat.grads, flat.grads))
        if optimizer.clip_norm is not None:
            flat.grads *= np.fmin(1.0, optimizer.clip_norm / grad_norm).astype(flat.dtype)
        optimizer._update(optimizer._scratch, flush=False)
        return penalty, grad_norm

    def _fused_step(self, scalars: tuple[Any, Any]) -> tuple[Any, Any]:
        optimizer, flat, xp = self.optimizer, self.optimizer.flat, self.xp
        w, grad, decay, l2 = flat.values, flat.grads, self.decay, optimizer.l2
        clip_norm = math.inf if optimizer.clip_norm is None else optimizer.clip_norm
        penalty = cuda_kernels.kernel(xp, "squared_weight_norm")(w, decay, l2)
        sq_norm = cuda_kernels.kernel(xp, "squared_grad_norm")(grad, w, decay, l2)
        if isinstance(optimizer, Adam):
            cuda_kernels.kernel(xp, "adam_update")(
                grad, decay, sq_norm, l2, clip_norm, optimizer.beta1, optimizer.beta2,
                *scalars, w, optimizer.m_sum, optimizer.v_sum,
            )  # fmt: skip
        else:
            update = "nesterov_update" if optimizer.nesterov else "sgd_update"
            cuda_kernels.kernel(xp, update)(
                grad, decay, sq_norm, l2, clip_norm, optimizer.momentum, scalars[0],
                w, optimizer.velocity,
            )  # fmt: skip
        return penalty, np.sqrt(sq_norm)
