"""The training losses and the L2 penalty.

Every loss is the (weighted) mean over a batch of a per-sample loss, with the same three
methods: ``forward(outputs, targets, sample_weight=None) -> float`` caches what
``backward() -> dL/doutputs`` needs, and ``check_targets`` validates a dataset's targets.

* :class:`SoftmaxCrossEntropy` takes logits and integer class ids (classification);
* :class:`HalfSquaredError` and :class:`Huber` take real targets ``(n_samples, n_outputs)``
  and a linear output (regression);
* :class:`~neural_network.core.link_losses.SigmoidBinaryCrossEntropy` (multilabel) and
  :class:`~neural_network.core.link_losses.HalfPoissonDeviance` (Poisson regression) live in
  :mod:`neural_network.core.link_losses`.

Each also says what its outputs mean: ``output_activation(outputs)`` turns the network's
raw outputs into predictions (softmax probabilities, the values themselves, sigmoid
probabilities, Poisson means), and ``out_activation`` names that map as scikit-learn's
``out_activation_`` does (``"softmax"``, ``"identity"``, ``"logistic"``, ``"exp"``).

With ``sample_weight`` the batch loss is ``sum_i w_i l_i / sum_i w_i``: a weight of 2 counts
a sample exactly as twice the sample would, and scaling all weights changes nothing. The
weights' sum must be positive (the training loop drops samples of weight 0 first).
"""

from __future__ import annotations

import numpy as np

from ..checks import as_class_ids
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


def _batch_weights(sample_weight: np.ndarray | None, n: int, dtype) -> np.ndarray | float:
    """What each sample's gradient is multiplied by: ``1/n``, or ``w_i / sum(w)`` as a column."""
    if sample_weight is None:
        return 1.0 / n
    if len(sample_weight) != n:
        raise ValueError(f"sample_weight has {len(sample_weight)} entries for {n} samples")
    total = float(np.sum(sample_weight, dtype=np.float64))
    if not total > 0:
        raise ValueError(f"the sample weights of a batch must sum to more than 0; got {total}")
    return (np.asarray(sample_weight, dtype=dtype) / dtype.type(total)).reshape(-1, 1)


def _weighted_mean(per_sample: np.ndarray, sample_weight: np.ndarray | None) -> float:
    if sample_weight is None:
        return float(np.mean(per_sample))
    weights = np.asarray(sample_weight, dtype=np.float64)
    return float(np.dot(weights, per_sample) / weights.sum())


class SoftmaxCrossEntropy:
    """Mean cross-entropy of ``softmax(logits)`` against integer labels.

    ``loss = mean_i( logsumexp(z_i) - z_i[y_i] )``; its gradient with respect to the logits is
    ``(softmax(z) - one_hot(y)) / n``. The batch mean's ``1/n`` appears here and nowhere else
    (``w_i / sum(w)`` in its place with sample weights).
    :func:`neural_network.optim.reference.reference_step` computes the same without the
    in-place tricks (and without setting probabilities under 1e-30 to 0).
    """

    classifies = True
    out_activation = "softmax"

    def __init__(self) -> None:
        self._probs: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._scale: np.ndarray | float = 1.0

    @staticmethod
    def check_targets(labels, n_outputs: int) -> np.ndarray:
        """``labels`` as integer class ids in ``[0, n_outputs)``, shape ``(n_samples,)``."""
        labels = np.asarray(labels)
        if labels.ndim != 1:
            raise ValueError(f"labels must be 1-D (n_samples,); got shape {labels.shape}")
        return as_class_ids(labels, n_outputs)

    @staticmethod
    def per_sample(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each sample's cross-entropy ``logsumexp(z_i) - z_i[y_i]``, in the logits' dtype."""
        log_probs = log_softmax(logits)
        return -log_probs[np.arange(len(labels)), labels]

    def forward(
        self, logits: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Return the (weighted) mean loss over the batch and cache what ``backward`` needs.

        Args:
            logits: ``(n_samples, n_classes)`` scores.
            labels: ``(n_samples,)`` integer class ids; validated by ``fit``, not here,
                since this runs once per step.
            sample_weight: ``(n_samples,)`` non-negative weights with a positive sum, or
                ``None`` for the plain mean.
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
        self._scale = _batch_weights(sample_weight, len(labels), exp.dtype)
        loss = _weighted_mean(np.log(sums[:, 0]) - shifted[rows, labels], sample_weight)
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
        scale = self._scale
        grad *= grad.dtype.type(scale) if isinstance(scale, float) else scale
        self._probs = None
        return grad

    @property
    def probs(self) -> np.ndarray | None:
        """Softmax of the last ``forward``'s logits (before ``backward`` consumes it)."""
        return self._probs

    @staticmethod
    def output_activation(logits: np.ndarray) -> np.ndarray:
        """The class probabilities the logits stand for: their row-wise softmax."""
        return softmax(logits)

    def get_config(self) -> dict:
        return {}


class HalfSquaredError:
    """Half the squared error, averaged over the outputs, for regression (linear outputs).

    Per sample ``l_i = (1/2k) * sum_j (z_ij - y_ij)**2`` for ``k`` outputs, and the batch
    loss is their (weighted) mean: with one output and no weights, half the mean squared
    error, the loss scikit-learn's ``MLPRegressor`` reports. Its gradient with respect to
    the outputs is ``(z - y) * w_i / (k * sum(w))`` (``w_i = 1`` without weights).
    """

    classifies = False
    out_activation = "identity"

    def __init__(self) -> None:
        self._grad: np.ndarray | None = None

    @staticmethod
    def output_activation(outputs: np.ndarray) -> np.ndarray:
        """The predictions: the outputs themselves (a linear output)."""
        return outputs

    @staticmethod
    def check_targets(targets, n_outputs: int) -> np.ndarray:
        """Real ``targets`` as a 2-D ``(n_samples, n_outputs)`` array (a 1-D one is taken as
        one output), finite."""
        targets = np.asarray(targets)
        if targets.ndim == 1:
            targets = targets.reshape(-1, 1)
        if targets.ndim != 2 or targets.shape[1] != n_outputs:
            raise ValueError(
                f"targets must have shape (n_samples, {n_outputs}); got {targets.shape}"
            )
        if targets.dtype.kind not in "biuf":
            raise ValueError(f"targets must be real numbers; got dtype {targets.dtype}")
        if not np.isfinite(targets).all():
            raise ValueError("targets hold NaN or infinite values")
        return targets

    def element_loss(self, residual: np.ndarray) -> np.ndarray:
        """The loss of each residual ``z - y``."""
        return 0.5 * residual**2

    def element_grad(self, residual: np.ndarray) -> np.ndarray:
        """Its derivative with respect to ``z``, in place of ``residual``."""
        return residual

    def per_sample(self, outputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Each sample's loss, in float64."""
        residual = np.asarray(outputs, dtype=np.float64) - targets
        return self.element_loss(residual).mean(axis=1)

    def forward(
        self, outputs: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> float:
        """Return the (weighted) mean loss over the batch and cache what ``backward`` needs.

        Args:
            outputs: ``(n_samples, n_outputs)`` predictions.
            targets: ``(n_samples, n_outputs)`` true values, in the outputs' dtype.
            sample_weight: ``(n_samples,)`` non-negative weights with a positive sum, or
                ``None`` for the plain mean.
        """
        if outputs.ndim != 2 or targets.shape != outputs.shape:
            raise ValueError(
                f"outputs and targets must both be (n_samples, n_outputs); got {outputs.shape} "
                f"and {targets.shape}"
            )
        n, k = outputs.shape
        residual = outputs - targets
        scale = _batch_weights(sample_weight, n, residual.dtype)
        loss = _weighted_mean(self.element_loss(residual).mean(axis=1), sample_weight)
        grad = self.element_grad(residual)
        grad *= residual.dtype.type(scale / k) if isinstance(scale, float) else scale / k
        self._grad = grad
        return loss

    def backward(self) -> np.ndarray:
        """Gradient of the last ``forward``'s loss with respect to its outputs."""
        if self._grad is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        grad, self._grad = self._grad, None
        return grad

    def get_config(self) -> dict:
        return {}


class Huber(HalfSquaredError):
    """The Huber loss: half the squared error for residuals up to ``delta``, linear beyond.

    Per residual ``r = z - y``: ``r**2 / 2`` if ``|r| <= delta``, else
    ``delta * (|r| - delta / 2)`` (the two meet with equal slope at ``|r| = delta``), so an
    outlier pulls on the fit with a force of at most ``delta``. Averaged over the outputs and
    the batch like :class:`HalfSquaredError`; the gradient is ``clip(r, -delta, delta)``
    times the same weights. See Huber, "Robust Estimation of a Location Parameter" (1964).

    Args:
        delta: Where the loss turns from quadratic to linear, in the targets' units.
    """

    def __init__(self, delta: float = 1.0) -> None:
        super().__init__()
        delta = float(delta)
        if not delta > 0 or not np.isfinite(delta):
            raise ValueError(f"delta must be a positive finite number; got {delta!r}")
        self.delta = delta

    def element_loss(self, residual: np.ndarray) -> np.ndarray:
        size = np.abs(residual)
        quadratic = np.minimum(size, self.delta)
        # = r**2/2 inside, and delta*|r| - delta**2/2 outside, written without a branch.
        return quadratic * (size - 0.5 * quadratic)

    def element_grad(self, residual: np.ndarray) -> np.ndarray:
        return np.clip(residual, -self.delta, self.delta, out=residual)

    def get_config(self) -> dict:
        return {"delta": self.delta}


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
