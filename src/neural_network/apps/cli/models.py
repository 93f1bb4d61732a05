"""The model a command was given: a file, or a run folder holding ``model.npz``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ...io.model_files import load_model
from ..predictor import pixel_classifier
from ..run_folder import MODEL_FILE
from .errors import CommandError


def load_model_file(path: str) -> Any:
    """``load_model``, with a folder or a missing file said plainly."""
    if Path(path).is_dir():
        candidate = Path(path) / MODEL_FILE
        if candidate.is_file():
            path = os.fspath(candidate)
        else:
            raise CommandError(f"{path}: a folder, and it holds no {MODEL_FILE}")
    if not Path(path).exists():
        raise CommandError(f"{path}: no such model file")
    return load_model(path)


def class_probabilities(model: Any, x: np.ndarray) -> tuple[np.ndarray, list]:
    """``(n, n_classes)`` probabilities and the class labels, for raw pixel rows ``x``
    (values 0-255), whatever ``load_model`` returned (see :mod:`neural_network.apps.predictor`).

    Raises:
        CommandError: for a model of another kind or of another input size.
    """
    try:
        classifier = pixel_classifier(model)
    except TypeError:
        raise CommandError(f"cannot predict with a {type(model).__name__}") from None
    try:
        return classifier.probabilities(x), classifier.classes
    except ValueError as error:
        raise CommandError(str(error)) from None
