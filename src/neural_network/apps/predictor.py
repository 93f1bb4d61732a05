"""Class probabilities for raw pixels, whatever kind of model a file held.

The command line (``evaluate``, ``predict``) and the demo server both take pixels in 0-255
and a model from ``load_model``. A ``NeuralNetwork`` and an ``MLPClassifier`` scale inputs
with the scaler they were fitted with; a bare ``Sequential`` (a layered model, a preset's
model, a checkpoint) holds none, so pixels are divided by 255, which is what a min-max
scaler fitted on MNIST does to all but a few edge pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.model import Sequential, check_finite_outputs
from .classic import NeuralNetwork

DIGITS = tuple(str(k) for k in range(10))
"""The class names of a model that reads digits: ``"0"`` to ``"9"``."""


@dataclass(frozen=True)
class PixelClassifier:
    """A model seen as a function of raw pixel rows.

    Attributes:
        n_features: Pixels per image the model takes.
        classes: Its class labels, one per output.
        model: The model itself.
    """

    n_features: int
    classes: list
    model: Any
    _compute: Callable[[np.ndarray], np.ndarray]

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """``(n, n_classes)`` float64 probabilities for pixel rows ``(n, n_features)``, 0-255.

        Raises:
            ValueError: for rows of another width, or if the model's outputs are not finite
                (a model with huge weights gives NaN rather than a wrong answer).
        """
        pixels = np.asarray(pixels, dtype=np.float64)
        if pixels.ndim != 2 or pixels.shape[1] != self.n_features:
            raise ValueError(
                f"the model takes {self.n_features} inputs, but the images have "
                f"{pixels.shape[-1]} pixels"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            probs = np.asarray(self._compute(pixels), dtype=np.float64)
        check_finite_probabilities(probs)
        return probs


def check_finite_probabilities(probs: np.ndarray) -> None:
    """Refuse probabilities that are not all finite.

    Raises:
        ValueError: naming the cause, a model whose weights overflow the arithmetic.
    """
    check_finite_outputs(probs)  # the same sentence as the Python API's


def pixel_classifier(model: Any) -> PixelClassifier:
    """The :class:`PixelClassifier` of a ``NeuralNetwork``, ``Sequential`` or
    ``MLPClassifier``.

    Raises:
        TypeError: for any other object.
    """
    if isinstance(model, NeuralNetwork):
        return PixelClassifier(
            len(model.scaler.min_),
            list(range(model.num_labels)),
            model,
            lambda x: model.predict_proba(x.T).T,
        )
    if isinstance(model, Sequential):
        return PixelClassifier(
            model.n_features,
            list(range(model.n_classes)),
            model,
            lambda x: model.predict_proba(x / 255.0),
        )
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):  # an MLPClassifier
        return PixelClassifier(
            int(model.n_features_in_),
            list(model.classes_),
            model,
            lambda x: model.predict_proba(x),
        )
    raise TypeError(
        "model must be a NeuralNetwork, a Sequential or an MLPClassifier; "
        f"got {type(model).__name__}"
    )
