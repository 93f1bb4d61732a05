"""``MLPClassifier`` in model files: what its ``save`` adds to the shared layout of
:mod:`.files` (the class labels and their dtype; for logistic outputs, the validation
accuracies, and for two classes both labels) and how ``load_model`` reads it back."""

from __future__ import annotations

import numpy as np

from ...io.archive import ModelFileError
from ...io.model_files import ModelFile
from .binary import BINARY_KEYS, file_labels
from .files import finish_restoring, restore_estimator
from .multilabel import restore_subset_accuracy

# Label dtypes a model file may restore ``classes_`` as: bool, integers, floats, strings.
_CLASS_DTYPE_KINDS = "biufUO"
# What a multilabel classifier's file adds to the config.
_MULTILABEL_KEYS = frozenset({"multilabel", "validation_scores"})


def classifier_file_config(estimator) -> tuple[dict, list]:
    """The classifier's own config entries and the file's class labels (one per output)."""
    config = {"classes_dtype": estimator.classes_.dtype.str}
    classes = estimator.classes_.tolist()
    if estimator._logistic:  # older files, and softmax ones, have neither key
        validated = bool(estimator.history_.val_loss)
        scores = estimator._subset_accuracy if validated else []
        config["validation_scores"] = list(scores)
        if estimator._multilabel:
            config["multilabel"] = True
        else:  # one label per output unit: the unit's is classes_[1]
            config["binary_classes"], classes = classes, classes[1:]
    return config, classes


def restore_classifier(cls, model_file: ModelFile):
    """Rebuild a saved classifier (the ``"mlp_classifier"`` loader of ``load_model``).

    Raises:
        ModelFileError: for settings that are invalid or do not describe the network.
    """
    n_classes = model_file.model.n_classes
    config = model_file.config
    multilabel = "multilabel" in config
    binary = "binary_classes" in config and not multilabel
    own_keys = frozenset({"classes_dtype"})
    if multilabel:
        own_keys |= _MULTILABEL_KEYS
    elif binary:
        own_keys |= BINARY_KEYS
    estimator, _ = restore_estimator(cls, model_file, n_outputs=n_classes, own_keys=own_keys)
    if multilabel and config["multilabel"] is not True:
        raise ModelFileError("a multilabel classifier's file says multilabel: true")
    labels = file_labels(model_file) if binary else model_file.classes
    if multilabel or binary:
        estimator._indicator_y, estimator._logistic_binary = multilabel, binary
        estimator._subset_accuracy = restore_subset_accuracy(model_file, estimator)
    dtype = config["classes_dtype"]
    if not isinstance(dtype, str) or np.dtype(dtype).kind not in _CLASS_DTYPE_KINDS:
        raise ModelFileError(f"classes dtype {dtype!r} is not a label dtype")
    classes = np.asarray(labels, dtype=np.dtype(dtype))
    if classes.ndim != 1 or classes.tolist() != labels:
        raise ModelFileError(f"classes {labels!r} do not fit dtype {dtype!r}")
    estimator.classes_ = classes
    score = model_file.config["best_validation_score"]
    if score is not None and not (isinstance(score, (int, float)) and 0 <= score <= 1):
        raise ModelFileError(f"best_validation_score {score!r} is not an accuracy")
    finish_restoring(estimator, model_file.config)
    return estimator
