"""scikit-learn's training rules that the estimators add to this library's loop: its
``ValueError`` when training diverges, the stop on a training-loss plateau (with the
``"adaptive"`` learning rate), the ``"invscaling"`` learning rate, this library's schedules
shifted to each fit, the ``"auto"`` batch size, ``partial_fit`` only for the stochastic
solvers, ``random_state``'s conventions, ``verbose`` output, and one fit of an estimator at
a time."""

from __future__ import annotations

import math
import numbers
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...core.devices import copy_into
from ...train.callbacks import Callback, EarlyStopping
from ...train.divergence import TrainingDivergedError

# The estimators (by id) being fitted now, so that a second fit of one estimator from another
# thread is refused instead of mixing two runs in one set of weights.
_FITTING: set[int] = set()
_FITTING_LOCK = threading.Lock()


@contextmanager
def one_fit_at_a_time(estimator):
    with _FITTING_LOCK:
        if id(estimator) in _FITTING:
            raise RuntimeError(
                f"this {type(estimator).__name__} is already being fitted in another thread; "
                "fit a clone (sklearn.base.clone) to train two at once"
            )
        _FITTING.add(id(estimator))
    try:
        yield
    finally:
        with _FITTING_LOCK:
            _FITTING.discard(id(estimator))


# scikit-learn's words when a solver's weights stop being finite.
NON_FINITE_WEIGHTS = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


class NonFiniteWeightsError(TrainingDivergedError, ValueError):
    """Training diverged inside an estimator: scikit-learn's ``ValueError`` and this
    library's :class:`~neural_network.TrainingDivergedError` at once, so code written for
    either catches it."""

    def __init__(self, error: TrainingDivergedError):
        self.epoch, self.step, self.loss, self.grad_norm = (
            error.epoch,
            error.step,
            error.loss,
            error.grad_norm,
        )
        FloatingPointError.__init__(self, f"{NON_FINITE_WEIGHTS} {error}")


class Plateau(Callback):
    """scikit-learn's stop on a training-loss plateau: an epoch counts as no improvement
    when its loss is above the best so far minus ``tol``; once more than
    ``n_iter_no_change`` epochs in a row did not improve, training stops, or with the
    ``"adaptive"`` learning rate the rate is divided by 5 and the count restarts, until the
    rate is at most 1e-6 (so the last epochs may train below it, as scikit-learn's do).

    ``wait`` (the epochs in a row without improvement) and ``best`` start from where the
    last fit of the same network left them (scikit-learn keeps both across warm starts and
    ``partial_fit`` calls)."""

    def __init__(self, settings: dict, *, adaptive: bool, wait: int = 0, best: float = math.inf):
        self.tol, self.patience, self.adaptive = (
            settings["min_delta"],
            settings["patience"],
            adaptive,
        )
        self.best, self.wait, self.stopped = best, wait, False

    def on_epoch_end(self, run) -> bool:
        loss = run.history.train_loss[-1]
        self.wait = self.wait + 1 if loss > self.best - self.tol else 0
        self.best = min(self.best, loss)
        if self.patience is None or self.wait < self.patience:
            return False
        if self.adaptive and run.optimizer.lr > 1e-6:
            run.optimizer.lr /= 5.0
            self.wait = 0
            return False
        self.stopped = True
        return True


class InverseScaling(Callback):
    """scikit-learn's ``"invscaling"`` rate: after each epoch the rate becomes
    ``learning_rate_init / (t + 1) ** power_t``, ``t`` the number of samples trained on so
    far. A ``fit`` starts at ``learning_rate_init`` (its optimiser is new); ``partial_fit``
    continues at the rate the last epoch left."""

    def __init__(self, lr: float, power_t: float, t: int):
        self.lr, self.power_t, self.t = lr, power_t, t

    def rate(self) -> float:
        return self.lr / (self.t + 1) ** self.power_t

    def on_epoch_end(self, run) -> bool:
        self.t += run.x.shape[0]
        run.optimizer.lr = self.rate()
        return False


class LearningRateView:
    """scikit-learn's optimiser as code written for it reads it (``_optimizer.learning_rate``):
    a view of this library's optimiser, whose rate is ``lr``."""

    def __init__(self, optimizer):
        self._optimizer = optimizer

    @property
    def learning_rate(self) -> float:
        return self._optimizer.lr


def not_lbfgs(estimator) -> bool:
    """``partial_fit`` exists for the stochastic solvers only, as in scikit-learn."""
    if estimator.solver == "lbfgs":
        raise AttributeError('partial_fit is not available with solver="lbfgs"')
    return True


def batch_size_for(batch_size: int | str, n_samples: int) -> int:
    """scikit-learn's batch size: ``"auto"`` is ``min(200, n_samples)``, and a larger one is
    capped at ``n_samples``."""
    return min(200 if batch_size == "auto" else batch_size, n_samples)


@dataclass(frozen=True)
class Shifted:
    """A schedule that starts at epoch ``start`` of the network: each ``fit`` call runs its
    schedule afresh, and ``partial_fit`` continues the last one."""

    schedule: Any
    start: int

    def __call__(self, epoch: int) -> float:
        return self.schedule(max(epoch - self.start, 0))


class BestScore(EarlyStopping):
    """scikit-learn's early stopping: watch the validation *score* (accuracy, or R² from
    ``scores``, the list a validation callback appends to), keep the epoch with the highest,
    and stop once more than ``n_iter_no_change`` epochs in a row did not beat the best by
    ``tol`` (``patience`` and ``min_delta``, set by the estimator before each fit)."""

    def __init__(self, scores: list[float] | None):
        super().__init__(monitor="val_accuracy")
        self.scores = scores

    def on_epoch_end(self, run) -> bool:
        value = run.history.val_accuracy[-1] if self.scores is None else self.scores[-1]
        return self.update(value, run.epoch, run.model.flat.values)


def check_random_state_kind(random_state) -> None:
    """Raise ``ValueError`` unless ``random_state`` is one of scikit-learn's kinds: ``None``,
    an int, a ``RandomState`` or (this library's addition) a ``Generator``."""
    integer = isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    generators = (np.random.RandomState, np.random.Generator)
    if not (random_state is None or integer or isinstance(random_state, generators)):
        raise ValueError(
            "random_state must be None, an int, a numpy RandomState or a numpy Generator; "
            f"got {random_state!r}"
        )


def make_rng(random_state) -> np.random.Generator:
    """One ``np.random.Generator`` from scikit-learn's ``random_state`` conventions.

    ``None`` gives fresh entropy, an int a fixed seed; a ``RandomState`` is consumed (one draw
    seeds the generator, so successive fits differ), and a ``Generator`` is used as it is.
    """
    check_random_state_kind(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


class PrintIterations(Callback):
    """``verbose``: print each epoch's training loss to stdout, in scikit-learn's words
    (``Iteration 3, loss = 0.12345678``), and the validation score with early stopping."""

    def on_epoch_end(self, run) -> bool:
        history = run.history
        print(f"Iteration {len(history)}, loss = {history.train_loss[-1]:.8f}")
        if history.val_accuracy:
            print(f"Validation accuracy: {history.val_accuracy[-1]:.6f}")
        return False


def finish_diverged_fit(estimator, epochs: int, start: np.ndarray) -> int:
    """End a fit with early stopping whose weights stopped being finite as scikit-learn ends
    it: without an error, on the best epoch's weights (the early-stopping callback has put
    them back; ``start``, the weights the fit began from, if no epoch was scored), with a
    NaN training loss and validation score for the epoch that diverged and each one after it
    up to ``max_iter``. scikit-learn trains those epochs on NaN weights, whose scores are all
    NaN and never stop it early; here they are counted, not computed, and the History keeps
    the epochs actually trained. Returns how many NaN epochs to record."""
    if estimator._early_stopping.best_values is None:
        copy_into(estimator.model_.flat.values, start)
    return epochs - len(estimator.history_)
