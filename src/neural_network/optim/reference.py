"""One training step in plain textbook arithmetic, for reading; the fast code does the same.

:func:`reference_step` is what :func:`neural_network.fit` does for one mini-batch, written
the way a textbook writes it: the loss and its gradient spelled out, a separate pass for L2,
another for clipping, and the optimiser's rule applied to one parameter array at a time,
with the moments of Adam kept exactly as the paper defines them. No flat buffers, no folded
constants, no flushing of tiny values. A test trains the same network with both
in float64 and holds them equal to 1e-10 over 50 steps, so this file is a faithful map of
:mod:`neural_network.optim.optimizers` and :mod:`neural_network.core.losses`.

    rng = np.random.default_rng(0)
    model = build_mlp(784, [128], 10, rng=rng, dtype=np.float64)
    adam = ReferenceAdam(model.parameters(), lr=1e-3)
    loss = reference_step(model, x_batch, labels, adam, l2=1e-4, clip_norm=5.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.model import Sequential
from ..core.parameters import Parameter


class ReferenceSGD:
    """SGD with momentum, one parameter array at a time, in either of its two usual forms.

    PyTorch's (``lr_in_velocity=False``), the velocity a sum of gradients::

        velocity = momentum * velocity + g
        W = W - lr * velocity                        (Nesterov: W - lr * (g + momentum * velocity))

    scikit-learn's, Keras' and Sutskever et al.'s (``lr_in_velocity=True``), the velocity a
    sum of steps, each taken at the learning rate of its time::

        v = momentum * v - lr * g
        W = W + v                                    (Nesterov: W + momentum * v - lr * g)
    """

    def __init__(
        self,
        params: Sequence[Parameter],
        lr: float,
        momentum: float = 0.9,
        *,
        nesterov: bool = False,
        lr_in_velocity: bool = False,
    ):
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.nesterov, self.lr_in_velocity = nesterov, lr_in_velocity
        self.velocity = [np.zeros_like(p.value) for p in self.params]

    def apply(self) -> None:
        """Update every parameter from its (already penalised and clipped) gradient."""
        momentum, lr = self.momentum, self.lr
        for p, velocity in zip(self.params, self.velocity, strict=True):
            g = p.grad
            if self.lr_in_velocity:
                velocity[...] = momentum * velocity - lr * g
                step = momentum * velocity - lr * g if self.nesterov else velocity
                p.value[...] = p.value + step
            else:
                velocity[...] = momentum * velocity + g
                direction = g + momentum * velocity if self.nesterov else velocity
                p.value[...] = p.value - lr * direction


class ReferenceAdam:
    """Adam with bias correction, exactly as Kingma & Ba write it (Algorithm 1)::

    t = t + 1
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    W = W - lr * m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(
        self,
        params: Sequence[Parameter],
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ):
        self.params, self.lr = list(params), lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m = [np.zeros_like(p.value) for p in self.params]
        self.v = [np.zeros_like(p.value) for p in self.params]

    def apply(self) -> None:
        """Update every parameter from its (already penalised and clipped) gradient."""
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            g = p.grad
            m[...] = self.beta1 * m + (1 - self.beta1) * g
            v[...] = self.beta2 * v + (1 - self.beta2) * g**2
            m_hat = m / (1 - self.beta1**self.t)
            v_hat = v / (1 - self.beta2**self.t)
            p.value[...] = p.value - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


def reference_step(
    model: Sequential,
    x_batch: np.ndarray,
    labels: np.ndarray,
    optimizer: ReferenceSGD | ReferenceAdam,
    *,
    l2: float = 0.0,
    clip_norm: float | None = None,
) -> float:
    """One mini-batch step; returns the loss (cross-entropy plus the L2 penalty).

    Args:
        model: The network; its parameters are updated in place.
        x_batch: Inputs ``(n, n_features)``.
        labels: Integer class ids ``(n,)``.
        optimizer: A :class:`ReferenceSGD` or :class:`ReferenceAdam` built on
            ``model.parameters()``.
        l2: Coupled L2 coefficient.
        clip_norm: Global gradient-norm bound, or ``None``.
    """
    n = len(labels)
    weights = [p for p in model.parameters() if p.decay]

    # Forward pass and the loss: mean cross-entropy of softmax(logits), plus L2.
    logits = model.forward(x_batch, training=True)
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp cannot overflow
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    one_hot = np.zeros_like(probs)
    one_hot[np.arange(n), labels] = 1.0
    cross_entropy = -np.mean(np.log(probs[np.arange(n), labels]))
    penalty = 0.5 * l2 * sum(float(np.sum(w.value**2)) for w in weights)

    # Backward pass: the loss gradient with respect to the logits is (p - y) / n.
    model.backward((probs - one_hot) / n)

    # L2: d(0.5 * l2 * W**2)/dW = l2 * W, on weights only.
    for w in weights:
        w.grad[...] = w.grad + l2 * w.value

    # Clipping: one norm over all gradients; scale them together if it is too large.
    norm = math.sqrt(sum(float(np.sum(p.grad**2)) for p in model.parameters()))
    if clip_norm is not None and norm > clip_norm:
        for p in model.parameters():
            p.grad[...] = p.grad * (clip_norm / norm)

    optimizer.apply()
    return float(cross_entropy) + penalty
