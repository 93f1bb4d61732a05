"""Softmax, log-softmax, softmax cross-entropy from logits, and the L2 penalty."""

from __future__ import annotations

import numpy as np

from .parameters import FlatParameters

# Probabilities below this are set to exactly 0 in the gradient. They are far below float32
# resolution next to the other terms, and left alone they underflow into denormals, which make
# every later matrix product that touches them many times slower.
_FLUSH_BELOW = 1e-30


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise ``log(softmax(logits))``, finite for any finite logits.

    Subtracting the row max first means ``exp`` sees only values <= 0 and cannot overflow.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of ``logits`` (n_samples, n_classes); rows sum to 1."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    exp /= exp.sum(axis=1, keepdims=True)
    return exp


class SoftmaxCrossEntropy:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels.

    ``loss = mean_i( logsumexp(z_i) - z_i[y_i] )``; its gradient with respect to the logits is
    ``(softmax(z) - one_hot(y)) / n``. The batch mean's ``1/n`` appears here and nowhere else.
    :func:`neural_network.optim.reference.reference_step` computes the same without the
    in-place tricks (and without setting probabilities under 1e-30 to 0).
    """

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None

    def forward(self, logits: np.ndarray, labels: np.ndarray) -> float:
        """Return the mean loss over the batch and cache what ``backward`` needs.

        Args:
            logits: ``(n_samples, n_classes)`` scores.
            labels: ``(n_samples,)`` integer class ids; validated by ``fit``, not here,
                since this runs once per step.
        """
        if logits.ndim != 2 or len(labels) != len(logits):
            raise ValueError(
                f"logits must be (n_samples, n_classes) with one label per row; got logits "
                f"{logits.shape} and {len(labels)} labels"
            )
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        rows = np.arange(len(labels))
        loss = float(np.mean(np.log(sums[:, 0]) - shifted[rows, labels]))
        exp /= sums
        exp[exp < _FLUSH_BELOW] = 0
        self._probs, self._labels = exp, labels
        return loss

    def backward(self) -> np.ndarray:
        """Gradient of the last ``forward``'s loss with respect to its logits."""
        if self._probs is None or self._labels is None:
            raise RuntimeError("SoftmaxCrossEntropy.backward called before forward")
        grad = self._probs
        n = len(self._labels)
        grad[np.arange(n), self._labels] -= 1
        grad *= grad.dtype.type(1.0 / n)
        self._probs = None
        return grad

    @property
    def probs(self) -> np.ndarray | None:
        """Softmax of the last ``forward``'s logits (before ``backward`` consumes it)."""
        return self._probs


def l2_penalty(flat: FlatParameters, l2: float) -> float:
    """Coupled L2 penalty ``0.5 * l2 * sum(W**2)`` over the decayed parameters (weights)."""
    if l2 == 0:
        return 0.0
    weights = flat.decayed_values
    return 0.5 * l2 * float(np.dot(weights, weights))


def add_l2_grad(flat: FlatParameters, l2: float, *, scratch: np.ndarray | None = None) -> None:
    """Add the penalty's gradient ``l2 * W`` to the weights' gradients, in place.

    This is the classic coupled L2 (the penalty goes through Adam's scaling), not AdamW's
    decoupled weight decay.

    Args:
        flat: The model's parameters.
        l2: The coefficient.
        scratch: A buffer of at least ``flat.n_decay`` elements to compute ``l2 * W`` in,
            instead of a new array.
    """
    if l2 != 0:
        product = None if scratch is None else scratch[: flat.n_decay]
        product = np.multiply(flat.decayed_values, flat.dtype.type(l2), out=product)
        grads = flat.decayed_grads  # a view: adding in place updates the flat buffer
        grads += product
