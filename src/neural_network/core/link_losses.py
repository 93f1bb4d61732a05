"""Losses whose outputs pass through a link: binary cross-entropy on logits (multilabel
classification, sigmoid outputs) and half the Poisson deviance on log-means (a log link,
exponential outputs).

Both follow the interface of :mod:`neural_network.core.losses` (``check_targets``,
``per_sample``, ``forward(outputs, targets, sample_weight=None)``, ``backward``,
``classifies``, ``output_activation``, ``out_activation``), take real targets
``(n_samples, n_outputs)``, and *sum* each sample's loss over the outputs, as scikit-learn's
MLP does for these two, so the gradient with respect to an output is simply
``(prediction - target)`` times the sample's batch weight ``w_i / sum(w)``.
"""

from __future__ import annotations

import numpy as np

from .losses import HalfSquaredError, _batch_weights, _weighted_mean


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise ``1 / (1 + exp(-z))`` in the logits' dtype, without overflow: both
    branches use ``exp(-|z|) <= 1``."""
    small = np.exp(-np.abs(logits))
    out = np.where(logits >= 0, 1.0, small) / (1.0 + small)
    return out.astype(logits.dtype, copy=False)


def softplus(logits: np.ndarray) -> np.ndarray:
    """Element-wise ``log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|))``, finite for any
    finite ``z`` (the first form overflows for ``z > 88`` in float32)."""
    return np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits)))


class SigmoidBinaryCrossEntropy:
    """Binary cross-entropy of ``sigmoid(logits)`` against 0/1 targets, summed over the
    outputs: multilabel classification (one independent yes/no per output), or binary with
    one output.

    Per sample ``l_i = sum_j [softplus(z_ij) - y_ij * z_ij]``, which is
    ``-sum_j [y log p + (1 - y) log(1 - p)]`` with ``p = sigmoid(z)`` written from the logits,
    so it stays finite for any logits (no ``log(0)``). The sum over outputs, not a mean, is
    scikit-learn's ``binary_log_loss`` for multilabel ``MLPClassifier``. The batch loss is the
    (weighted) mean of ``l_i``, and its gradient with respect to the logits is
    ``(sigmoid(z) - y) * w_i / sum(w)`` (``1/n`` without weights).
    """

    classifies = False  # the targets are an indicator matrix, not class ids
    out_activation = "logistic"

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._targets: np.ndarray | None = None
        self._scale: np.ndarray | float = 1.0

    @staticmethod
    def check_targets(targets, n_outputs: int) -> np.ndarray:
        """``targets`` as a 2-D ``(n_samples, n_outputs)`` array of values in ``[0, 1]``
        (label indicators; a 1-D array is one output)."""
        targets = HalfSquaredError.check_targets(targets, n_outputs)
        if targets.size and (targets.min() < 0 or targets.max() > 1):
            raise ValueError(
                "targets of a binary cross-entropy must lie in [0, 1] (0/1 label indicators); "
                f"got values from {targets.min()} to {targets.max()}"
            )
        return targets

    @staticmethod
    def per_sample(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each sample's loss ``sum_j softplus(z_ij) - y_ij z_ij``, in float64."""
        logits = np.asarray(logits, dtype=np.float64)
        return (softplus(logits) - targets * logits).sum(axis=1)

    def forward(
        self, logits: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Return the (weighted) mean loss over the batch and cache what ``backward`` needs.

        Args:
            logits: ``(n_samples, n_outputs)`` scores.
            targets: ``(n_samples, n_outputs)`` values in ``[0, 1]``, in the logits' dtype.
            sample_weight: ``(n_samples,)`` non-negative weights with a positive sum, or
                ``None`` for the plain mean.
        """
        if logits.ndim != 2 or targets.shape != logits.shape:
            raise ValueError(
                f"logits and targets must both be (n_samples, n_outputs); got {logits.shape} "
                f"and {targets.shape}"
            )
        per_element = softplus(logits) - targets * logits
        loss = _weighted_mean(per_element.sum(axis=1, dtype=np.float64), sample_weight)
        self._scale = _batch_weights(sample_weight, len(logits), logits.dtype)
        self._probs, self._targets = sigmoid(logits), targets
        return loss

    def backward(self) -> np.ndarray:
        """Gradient of the last ``forward``'s loss with respect to its logits."""
        if self._probs is None or self._targets is None:
            raise RuntimeError("SigmoidBinaryCrossEntropy.backward called before forward")
        grad, self._probs = self._probs, None
        grad -= self._targets
        scale = self._scale
        grad *= grad.dtype.type(scale) if isinstance(scale, float) else scale
        return grad

    @property
    def probs(self) -> np.ndarray | None:
        """Sigmoid of the last ``forward``'s logits (before ``backward`` consumes it)."""
        return self._probs

    @staticmethod
    def output_activation(logits: np.ndarray) -> np.ndarray:
        """Each output's probability of being 1: the sigmoid of its logit."""
        return sigmoid(logits)

    def get_config(self) -> dict:
        return {}


class HalfPoissonDeviance:
    """Half the Poisson deviance, for counts or rates, with a log link: the network outputs
    ``z = log(mean)`` and predicts ``mean = exp(z)``, which is always positive.

    Per sample ``l_i = sum_j [exp(z_ij) - y_ij z_ij + y_ij log(y_ij) - y_ij]`` (with
    ``0 log 0 = 0``), which is ``sum_j [y log(y / mu) - y + mu]`` for ``mu = exp(z)``: zero
    when every prediction equals its target, and summed over the outputs. This is
    scikit-learn's ``MLPRegressor(loss="poisson")`` (output activation ``exp``). The last two
    terms do not depend on the network; they make a perfect fit cost 0. The batch loss is the
    (weighted) mean of ``l_i``; its gradient with respect to ``z`` is
    ``(exp(z) - y) * w_i / sum(w)``.
    """

    classifies = False
    out_activation = "exp"

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    @staticmethod
    def check_targets(targets, n_outputs: int) -> np.ndarray:
        """``targets`` as a 2-D ``(n_samples, n_outputs)`` array of finite values >= 0 (a
        1-D array is one output)."""
        targets = HalfSquaredError.check_targets(targets, n_outputs)
        if targets.size and targets.min() < 0:
            raise ValueError(
                f"targets of a Poisson loss must be >= 0; the smallest is {targets.min()}"
            )
        return targets

    @staticmethod
    def _element_loss(outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        positive = targets > 0
        y_log_y = np.where(positive, targets * np.log(np.where(positive, targets, 1)), 0)
        return np.exp(outputs) - targets * outputs + y_log_y - targets

    def per_sample(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each sample's loss, in float64."""
        return self._element_loss(np.asarray(outputs, dtype=np.float64), targets).sum(axis=1)

    def forward(
        self, outputs: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Return the (weighted) mean loss over the batch and cache what ``backward`` needs.

        Args:
            outputs: ``(n_samples, n_outputs)`` log-means.
            targets: ``(n_samples, n_outputs)`` counts or rates >= 0, in the outputs' dtype.
            sample_weight: ``(n_samples,)`` non-negative weights with a positive sum, or
                ``None`` for the plain mean.
        """
        if outputs.ndim != 2 or targets.shape != outputs.shape:
            raise ValueError(
                f"outputs and targets must both be (n_samples, n_outputs); got {outputs.shape} "
                f"and {targets.shape}"
            )
        loss = _weighted_mean(
            self._element_loss(outputs, targets).sum(axis=1, dtype=np.float64), sample_weight
        )
        scale = _batch_weights(sample_weight, len(outputs), outputs.dtype)
        grad = np.exp(outputs)
        grad -= targets
        grad *= outputs.dtype.type(scale) if isinstance(scale, float) else scale
        self._grad = grad
        return loss

    def backward(self) -> np.ndarray:
        """Gradient of the last ``forward``'s loss with respect to its outputs."""
        if self._grad is None:
            raise RuntimeError("HalfPoissonDeviance.backward called before forward")
        grad, self._grad = self._grad, None
        return grad

    @staticmethod
    def output_activation(outputs: np.ndarray) -> np.ndarray:
        """The predicted means ``exp(outputs)``."""
        return np.exp(outputs)

    def get_config(self) -> dict:
        return {}
