"""Binary classification in ``MLPClassifier``: two classes, one logistic output unit (the
logit of ``classes_[1]``) trained on binary cross-entropy, as scikit-learn's MLP has them.

It is the multilabel path (:mod:`.multilabel`) with one label: the same loss
(:class:`~neural_network.core.link_losses.SigmoidBinaryCrossEntropy`) on a 0/1 column, and
the same validation score (the accuracy, recorded by ``SubsetAccuracy``). What differs is
the edge: ``classes_`` holds the two labels, :meth:`predict` returns labels,
:meth:`predict_proba` ``[1 - p, p]``. A model file lists one label per output unit, so it
holds ``classes_[1]`` there and both labels under ``binary_classes`` in its config; a file
written before, with two softmax units for two classes, has no such key and is read as it
was trained.
"""

from __future__ import annotations

import numpy as np

from ...io.archive import ModelFileError
from ...io.model_files import ModelFile
from .multilabel import log_probabilities, predict_indicators, probabilities

# What a binary classifier's file adds to the config: both labels, and the validation
# accuracies (its History records none, as for multilabel y).
BINARY_KEYS = frozenset({"binary_classes", "validation_scores"})


def binary_targets(labels: np.ndarray) -> np.ndarray:
    """Class ids 0/1 as the float64 ``(n_samples, 1)`` column the one output trains on."""
    return (labels == 1).astype(np.float64).reshape(-1, 1)


def predict_labels(classes: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """``classes[1]`` where its probability ``sigmoid(z)`` is above 0.5, else ``classes[0]``
    (scikit-learn's threshold)."""
    return classes[predict_indicators(logits)[:, 0]]


def binary_probabilities(logits: np.ndarray) -> np.ndarray:
    """scikit-learn's ``[1 - p, p]`` for ``p = sigmoid(z)``, shape ``(n_samples, 2)``."""
    positive = probabilities(logits)
    return np.hstack([1 - positive, positive])


def binary_log_probabilities(logits: np.ndarray) -> np.ndarray:
    """``[log(1 - p), log(p)]`` from the logit: ``log(1 - p) = log(sigmoid(-z))``, so each
    side is exact (finite) where ``1 - p`` or ``p`` would round off."""
    return log_probabilities(np.hstack([-logits, logits]))


def file_labels(model_file: ModelFile) -> list:
    """Both class labels of a binary classifier's file.

    Raises:
        ModelFileError: unless ``binary_classes`` is two different labels, the second the
            output unit's.
    """
    labels = model_file.config["binary_classes"]
    if not (
        isinstance(labels, list)
        and len(labels) == 2
        and labels[1:] == model_file.classes
        and labels[0] != labels[1]
    ):
        raise ModelFileError(
            "binary_classes must be the two class labels, the second the output's "
            f"({model_file.classes!r}); got {labels!r}"
        )
    return labels
