"""``TrainingDivergedError``, raised by both training loops (host and device)."""

from __future__ import annotations


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradient stopped being finite; names the epoch and step where."""

    def __init__(
        self,
        epoch: int,
        step: int,
        loss: float,
        grad_norm: float,
        *,
        largest_weight: float | None = None,
    ):
        self.epoch, self.step, self.loss, self.grad_norm = epoch, step, loss, grad_norm
        if largest_weight is not None:
            # Not finite before any update: no learning rate is to blame.
            super().__init__(
                f"Training could not start: the loss at epoch {epoch}, step {step} is {loss} "
                f"before any update, with weights of magnitude up to {largest_weight:.3g}; the "
                "weights or the data are so large that the arithmetic overflows (a smaller lr "
                "would not help): scale the data down or start from smaller weights."
            )
            return
        super().__init__(
            f"Training diverged at epoch {epoch}, step {step}: loss={loss}, "
            f"gradient norm={grad_norm}. The model keeps its last finite weights "
            "(the best ones if early stopping tracked them); try a smaller lr or clip_norm."
        )

    def __reduce__(self):
        # Pickled as it is (message and fields), so that it crosses to and from the worker
        # processes of joblib (GridSearchCV, cross_val_score); __init__ takes other arguments.
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type, args: tuple, state: dict) -> TrainingDivergedError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error
