"""``TrainingDivergedError``, raised by both training loops (host and device)."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradient stopped being finite; names the epoch and step where."""

    def __init__(self, epoch: int, step: int, loss: float, grad_norm: float):
        self.epoch, self.step, self.loss, self.grad_norm = epoch, step, loss, grad_norm
        super().__init__(
            f"Training diverged at epoch {epoch}, step {step}: loss={loss}, "
            f"gradient norm={grad_norm}. The model keeps its last finite weights "
            "(the best ones if early stopping tracked them); try a smaller lr or clip_norm."
        )
