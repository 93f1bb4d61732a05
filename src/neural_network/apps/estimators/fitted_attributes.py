"""The fitted attributes with scikit-learn's names that are read from the network itself
(``coefs_``, ``intercepts_``, ``n_layers_``, ``loss_``) and its private ``_optimizer``."""

from __future__ import annotations

import numpy as np

from ...core.layers import Dense
from .rules import LearningRateView


class FittedAttributes:
    """Mixed into the estimators: each attribute reads ``model_`` (or ``optimizer_``)."""

    @property
    def _optimizer(self) -> LearningRateView:
        """scikit-learn's private name for the optimiser, which code written for it reads
        (``_optimizer.learning_rate``, the rate the next epoch starts at)."""
        if "optimizer_" not in self.__dict__:
            raise AttributeError("the estimator has no optimiser yet: fit it first")
        return LearningRateView(self.optimizer_)

    def _dense_layers(self) -> list[Dense]:
        if "model_" not in self.__dict__:
            raise AttributeError("the estimator is not fitted yet")
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)`` of layer ``i``, as
        in scikit-learn (views of the network's weights: read them, do not resize them)."""
        return [layer.weight.value for layer in self._dense_layers()]

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, ``intercepts_[i]`` of shape ``(n_out,)`` of layer ``i``."""
        return [layer.bias.value for layer in self._dense_layers()]

    @property
    def n_layers_(self) -> int:
        """Number of layers, input and output included, as scikit-learn counts them."""
        return len(self._dense_layers()) + 1

    @property
    def loss_(self) -> float:
        """The training loss of the last epoch (L2 penalty included)."""
        self._dense_layers()
        return self.loss_curve_[-1]
