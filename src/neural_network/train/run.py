"""``TrainingRun``: the state of one ``fit`` call, which callbacks read and steer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.losses import SoftmaxCrossEntropy
from ..core.model import Sequential
from ..core.threads import ThreadChooser
from ..optim.optimizers import Optimizer
from .history import History

if TYPE_CHECKING:
    from .callbacks import Callback


@dataclass(eq=False)
class TrainingRun:
    """What :func:`~neural_network.fit` is doing, handed to every callback hook.

    Attributes:
        model: The network being trained.
        optimizer: Its optimiser; a callback may set ``optimizer.lr``.
        x: The training inputs, checked and in the model's dtype.
        labels: The training targets: integer class ids, or real values for a regression loss.
        validation_data: ``(x_val, labels_val[, weights_val])``, checked, or ``None``.
        batch_size: Samples per step.
        rng: The generator for shuffling (and for callbacks that draw, such as ``Augment``).
        history: The History so far; a callback restoring a checkpoint fills it.
        epochs: The epoch to stop after. A callback may lower it (``TimeBudget`` does).
        callbacks: The run's callbacks, in the order their hooks are called.
        epoch: The epoch being trained or just finished, from 1 (0 before the first).
        stop_training: Set when a callback asked to stop; no further epoch starts.
        loss: The criterion (``SoftmaxCrossEntropy`` unless ``fit`` was given another).
        sample_weight: The training samples' weights, or ``None``.
        threads: The chooser of BLAS thread counts (``threads.threads`` is the current one).
        shuffle: Whether each epoch's batches follow a permutation drawn from ``rng`` (else
            the data's order).
        batch_l2: ``None``, or the L2 strength each step divides by its batch's total sample
            weight (its size without weights) to set ``optimizer.l2`` (see ``fit``).
    """

    model: Sequential
    optimizer: Optimizer
    x: np.ndarray
    labels: np.ndarray
    validation_data: tuple[np.ndarray, np.ndarray] | None
    batch_size: int
    rng: np.random.Generator
    history: History
    epochs: int
    callbacks: Sequence[Callback] = field(default_factory=list)
    epoch: int = 0
    stop_training: bool = False
    loss: Any = field(default_factory=SoftmaxCrossEntropy)
    sample_weight: np.ndarray | None = None
    threads: ThreadChooser = field(default_factory=ThreadChooser)
    shuffle: bool = True
    batch_l2: float | None = None

    def set_batch_l2(self, n_samples: int, weights: np.ndarray | None) -> None:
        """With ``batch_l2``, set ``optimizer.l2`` for a batch of ``n_samples`` samples of
        these ``weights`` (``None``: unweighted)."""
        if self.batch_l2 is not None:
            total = n_samples if weights is None else float(weights.sum())
            self.optimizer.l2 = self.batch_l2 / total
