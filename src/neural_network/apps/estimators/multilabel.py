"""Multilabel classification in ``MLPClassifier``: ``y`` a 0/1 label-indicator matrix
``(n_samples, n_labels)``, one sigmoid output per label trained on binary cross-entropy
(:class:`~neural_network.core.link_losses.SigmoidBinaryCrossEntropy`), as scikit-learn does.

As in scikit-learn, ``classes_`` is ``arange(n_labels)``, :meth:`predict` returns the
indicator matrix (integers: a label is on where its probability is above 0.5),
``predict_proba`` each label's probability (rows need not sum to 1), and the score that
``score`` and early stopping use is the subset accuracy (a sample counts only when all its
labels are right). A model file marks a multilabel classifier and keeps those scores.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score

from ...core.link_losses import sigmoid
from ...io.archive import ModelFileError
from ...io.model_files import ModelFile
from ...train.callbacks import Callback


def indicator_targets(y, *, n_labels: int | None) -> np.ndarray:
    """``y`` as a float64 0/1 matrix; ``n_labels`` is the fitted count, or ``None`` on a
    first fit.

    Raises:
        ValueError: if ``y`` has another number of labels than the fitted classifier.
    """
    targets = np.asarray(y, dtype=np.float64)
    if n_labels is not None and targets.shape[1] != n_labels:
        raise ValueError(
            f"y has {targets.shape[1]} labels but the classifier was fitted on {n_labels}"
        )
    return targets


def check_multilabel_options(class_weight, device: str) -> None:
    """Refuse the options that only single-label classification has.

    Raises:
        ValueError: for a ``class_weight`` or a GPU ``device``.
    """
    if class_weight is not None:
        raise ValueError(
            f"class_weight={class_weight!r} weighs classes of single-label y; with a "
            "label-indicator y pass sample_weight instead"
        )
    if device != "cpu":
        raise ValueError(
            f"multilabel y trains on the CPU only; got device={device!r}: set device='cpu'"
        )


def predict_indicators(logits: np.ndarray) -> np.ndarray:
    """The label-indicator matrix: 1 where the probability ``sigmoid(logit)`` is above 0.5."""
    return (logits > 0).astype(np.int64)


def log_probabilities(logits: np.ndarray) -> np.ndarray:
    """The logarithm of :func:`probabilities`, as scikit-learn takes it: ``-inf`` where a
    probability rounds to 0 (logits below about -745), and ties where probabilities round
    to 1 stay ties, so that the arg-max of both agrees."""
    with np.errstate(divide="ignore"):
        return np.log(probabilities(logits))


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Each label's probability ``sigmoid(z)``."""
    return sigmoid(logits)


class SubsetAccuracy(Callback):
    """Append the subset accuracy of the run's validation data to ``scores`` after every
    epoch (weighted when the validation data has weights): early stopping's score for
    multilabel ``y``, as in scikit-learn."""

    def __init__(self, scores: list[float]):
        self.scores = scores

    def on_epoch_end(self, run) -> None:
        x_val, targets, *weights = run.validation_data
        if run.model.device == "cpu":
            logits = run.model.forward(x_val, training=False)
        else:  # a binary classifier on a GPU: its logits, back on the host
            logits = run.model.predict_logits(x_val)
        predicted = predict_indicators(logits)
        score = accuracy_score(targets, predicted, sample_weight=next(iter(weights), None))
        self.scores.append(float(score))


def restore_subset_accuracy(model_file: ModelFile, estimator) -> list[float]:
    """The validation (subset) accuracies in the file of a classifier with logistic outputs
    (multilabel, or binary with one output).

    Raises:
        ModelFileError: unless the file holds one accuracy in ``[0, 1]`` per validated epoch.
    """
    config = model_file.config
    scores, epochs = config["validation_scores"], len(estimator.history_.val_loss)
    if not isinstance(scores, list) or len(scores) != epochs:
        raise ModelFileError(f"a classifier's file holds {epochs} validation scores")
    if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in scores):
        raise ModelFileError("validation_scores must be accuracies in [0, 1]")
    return [float(v) for v in scores]
