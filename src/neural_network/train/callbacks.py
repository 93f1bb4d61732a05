"""Callbacks: everything that watches or steers a training run, outside the loop itself.

:func:`~neural_network.fit` calls every callback's hooks at fixed points, passing the
:class:`~neural_network.train.run.TrainingRun`::

    on_train_begin(run)
    for each epoch:
        on_epoch_begin(run)                     LRSchedule sets the learning rate here
        for each mini-batch:
            x_batch = on_batch_begin(x_batch, run)    Augment distorts the batch
            ... forward, backward, optimizer.step() ...
            on_step_end(run)                    MaxNorm constrains the weights
        on_epoch_end(run) -> stop?              EarlyStopping, TimeBudget, Checkpoint
    on_train_end(run)                           always, also after an error

Callbacks run in ascending ``order`` (then in the order given), so a checkpoint (order 100)
is written after every other callback has updated its state for the epoch. A callback that
holds state a resumed run needs returns it from ``state_dict()`` and takes it back in
``load_state_dict()``; one whose settings change the run's outcome returns them from
``get_config()``, and a checkpoint resumes only a run with the same settings.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..checks import check_positive_int, check_real, is_finite_number
from ..core.devices import copy_into, host_copy
from ..optim.constraints import apply_max_norm
from ..optim.schedules import Cosine
from .run import TrainingRun


class Callback:
    """Base class: every hook does nothing. Override the ones you need."""

    order = 0

    def on_train_begin(self, run: TrainingRun) -> None:
        """Before the first epoch (and before a checkpoint is restored into the run)."""

    def on_epoch_begin(self, run: TrainingRun) -> None:
        """Before epoch ``run.epoch``'s first step."""

    def on_batch_begin(self, x_batch: np.ndarray, run: TrainingRun) -> np.ndarray:
        """Before each step; returns the batch to train on (``x_batch`` or a new array)."""
        return x_batch

    def on_step_end(self, run: TrainingRun) -> None:
        """After each optimiser step."""

    def on_epoch_end(self, run: TrainingRun) -> bool | None:
        """After epoch ``run.epoch`` is recorded in ``run.history``; True stops training."""
        return None

    def on_train_end(self, run: TrainingRun) -> None:
        """After training, whether it finished, stopped early or raised."""

    def get_config(self) -> dict | None:
        """Settings a resumed run must share with the one that wrote the checkpoint (JSON),
        or ``None`` if this callback's settings do not change the run's outcome."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep: JSON values, and NumPy arrays that are copies of the
        model's flat weights."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state_dict`; raise ``ValueError`` for one that does not fit."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state; got {sorted(state)}")


class EarlyStopping(Callback):
    """Stop when a monitored metric has not improved for ``patience`` epochs, and go back to
    the best epoch's weights.

    After each epoch, :meth:`update` is given the monitored value. The *best* epoch is the
    one with the best value so far (lower for losses, higher for accuracies; NaN is never
    best), whatever ``min_delta`` is. An epoch *improves* when its value beats the best before
    it by more than ``min_delta``. Training stops at the end of the ``patience``-th
    consecutive epoch without improvement; when it ends, however it ends, ``restore_best``
    copies the best epoch's weights back. So ``min_delta`` only decides when to stop, as in
    scikit-learn's ``tol``. ``best_epoch`` is the one place the library
    decides which epoch was best. A run that starts afresh starts its count afresh; one that
    continues a History or a checkpoint continues it.

    Args:
        patience: Epochs without improvement to tolerate (>= 1), or ``None`` never to stop
            early, only to keep and restore the best epoch.
        min_delta: Smallest change that counts as improvement (>= 0).
        monitor: A ``History`` field: ``"val_loss"``, ``"val_accuracy"``, ``"train_loss"``
            or ``"train_accuracy"``.
        restore_best: Copy the best epoch's weights back when training ends.
    """

    MONITORS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy")

    def __init__(
        self,
        patience: int | None = 8,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
        restore_best: bool = True,
    ):
        if patience is not None:
            check_positive_int("patience", patience)
        if monitor not in self.MONITORS:
            raise ValueError(f"Unknown monitor {monitor!r}; expected one of {list(self.MONITORS)}")
        self.patience = patience
        self.min_delta = check_real("min_delta", min_delta, "[0, inf)")
        self.monitor = monitor
        self.restore_best = bool(restore_best)
        self.mode = "max" if monitor.endswith("accuracy") else "min"
        self.reset()

    def reset(self) -> None:
        """Forget every epoch seen: a new run starts."""
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped = False
        self.best_values: np.ndarray | None = None

    def improves(self, value: float) -> bool:
        """Whether ``value`` beats the best so far by more than ``min_delta``."""
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def is_best(self, value: float) -> bool:
        """Whether ``value`` beats the best so far at all."""
        return value < self.best if self.mode == "min" else value > self.best

    def update(self, value: float, epoch: int, weights: np.ndarray | None = None) -> bool:
        """Record ``value`` for ``epoch``; return True when training should stop.

        Args:
            value: The monitored metric for this epoch.
            epoch: The epoch number (from 1).
            weights: The model's flat weights, copied when this epoch is the best.
        """
        if self.improves(value):
            self.wait = 0
        else:
            self.wait += 1
            self.stopped = self.patience is not None and self.wait >= self.patience
        if self.is_best(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best and weights is not None:
                if self.best_values is None:
                    self.best_values = weights.copy()
                else:
                    self.best_values[...] = weights
        return self.stopped

    def restore(self, weights: np.ndarray) -> bool:
        """Copy the best weights into ``weights`` (in place); False if none were kept."""
        if not self.restore_best or self.best_values is None:
            return False
        copy_into(weights, self.best_values)
        return True

    def on_train_begin(self, run: TrainingRun) -> None:
        if self.monitor.startswith("val_") and run.validation_data is None:
            raise ValueError(f"early stopping monitors {self.monitor!r} but no validation_data")
        if not len(run.history):  # a new run (a checkpoint, if resumed, loads the state next)
            self.reset()
        elif self.best_values is not None and self.best_values.shape != run.model.flat.values.shape:
            raise ValueError("this EarlyStopping kept the weights of another model")

    def on_epoch_end(self, run: TrainingRun) -> bool:
        value = getattr(run.history, self.monitor)[-1]
        return self.update(value, run.epoch, run.model.flat.values)

    def on_train_end(self, run: TrainingRun) -> None:
        self.restore(run.model.flat.values)

    def get_config(self) -> dict:
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "monitor": self.monitor,
            "restore_best": self.restore_best,
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best if self.best_epoch > 0 else None,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped": self.stopped,
            "best_values": None if self.best_values is None else host_copy(self.best_values),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        keys = {"best", "best_epoch", "wait", "stopped", "best_values"}
        if set(state) != keys:
            raise ValueError(f"early stopping state must have keys {sorted(keys)}")
        best, best_epoch, wait = state["best"], state["best_epoch"], state["wait"]
        for name, count in (("best_epoch", best_epoch), ("wait", wait)):
            if type(count) is not int or count < 0:
                raise ValueError(f"early stopping {name} {count!r} is not a count of epochs")
        if (best is None) != (best_epoch == 0) or not (best is None or is_finite_number(best)):
            raise ValueError(f"early stopping best {best!r} does not fit best_epoch {best_epoch}")
        if type(state["stopped"]) is not bool:
            raise ValueError("early stopping 'stopped' must be true or false")
        values = state["best_values"]
        if values is not None and not isinstance(values, np.ndarray):
            raise ValueError("early stopping best_values must be an array or absent")
        default = math.inf if self.mode == "min" else -math.inf
        self.best = default if best is None else float(best)
        self.best_epoch, self.wait, self.stopped = best_epoch, wait, state["stopped"]
        self.best_values = None if values is None else values.copy()


class LRSchedule(Callback):
    """Set the optimiser's learning rate at the start of every epoch: ``schedule(epoch)``,
    epochs counted from 0.

    A :class:`~neural_network.optim.schedules.Cosine` without ``epochs`` is stretched over
    the run: ``fit``'s epochs, or as many as a :class:`TimeBudget` plans.

    Args:
        schedule: ``epoch -> lr``, e.g. ``StepDecay(1e-3, 0.5, 10)``.
    """

    def __init__(self, schedule: Callable[[int], float]):
        if not callable(schedule):
            raise TypeError(f"schedule must be callable; got {type(schedule).__name__}")
        self.schedule = schedule

    def on_epoch_begin(self, run: TrainingRun) -> None:
        schedule = self.schedule
        if isinstance(schedule, Cosine) and schedule.epochs is None:
            schedule = schedule.spanning(run.epochs)
        run.optimizer.lr = float(schedule(run.epoch - 1))

    def get_config(self) -> dict | None:
        get_config = getattr(self.schedule, "get_config", None)
        return None if get_config is None else {"schedule": get_config()}


class Augment(Callback):
    """Transform every training batch before its forward pass, e.g. with random distortions.

    Validation data is never augmented. The transform draws from the run's generator, so a
    seeded run repeats.

    Args:
        transform: ``transform(x_batch, rng) -> x_batch``, e.g.
            :class:`~neural_network.data.augmentation.RandomDistortion`.
    """

    def __init__(self, transform: Callable[[np.ndarray, np.random.Generator], np.ndarray]):
        if not callable(transform):
            raise TypeError(f"transform must be callable; got {type(transform).__name__}")
        self.transform = transform

    def on_batch_begin(self, x_batch: np.ndarray, run: TrainingRun) -> np.ndarray:
        return self.transform(x_batch, run.rng)

    def get_config(self) -> dict | None:
        get_config = getattr(self.transform, "get_config", None)
        return None if get_config is None else {"transform": get_config()}


class MaxNorm(Callback):
    """After every step, cap each hidden unit's incoming weight norm at ``max_norm``
    (:func:`~neural_network.optim.constraints.apply_max_norm`)."""

    def __init__(self, max_norm: float):
        self.max_norm = check_real("max_norm", max_norm, "(0, inf)")

    def on_step_end(self, run: TrainingRun) -> None:
        apply_max_norm(run.model, self.max_norm)

    def get_config(self) -> dict:
        return {"max_norm": self.max_norm}


class TimeBudget(Callback):
    """End training when the next epoch would not fit in a wall-time budget.

    After every epoch it plans how many epochs fit in the time left, at the mean wall time
    of an epoch so far (validation included), keeping half an epoch for what follows
    training (a test evaluation, a save); it never plans more than ``fit``'s epochs. The
    plan becomes ``run.epochs``, over which a ``Cosine`` schedule without ``epochs`` is
    stretched (this callback runs first, ``order`` -10, so the schedule sees the plan). A run
    ended by its budget counts as stopped: resuming its checkpoint trains no further. A run
    interrupted before its budget was spent resumes with the time already spent and the
    plan it had. Such runs do not repeat bit for bit, as they depend on timings.

    Args:
        seconds: The budget.
        started: The ``time.perf_counter()`` reading the budget counts from; by default, the
            start of training. Pass an earlier one to count, say, loading the data.
    """

    order = -10

    def __init__(self, seconds: float, *, started: float | None = None):
        self.seconds = check_real("seconds", seconds, "(0, inf)")
        self.started = started
        self.spent_before = 0.0
        self.planned: int | None = None
        self._clock_start: float | None = None

    def on_train_begin(self, run: TrainingRun) -> None:
        if not len(run.history):  # a new run (a checkpoint, if resumed, loads the state next)
            self.spent_before, self.planned = 0.0, None
        self._clock_start = time.perf_counter() if self.started is None else self.started
        self._first_epoch: int | None = None

    def on_epoch_begin(self, run: TrainingRun) -> None:
        if self._first_epoch is None:  # here, after a checkpoint may have been restored
            self._first_epoch, self._loop_start = run.epoch, time.perf_counter()
            self._max_epochs = run.epochs
            if self.planned is not None:
                run.epochs = min(run.epochs, self.planned)

    def _spent(self) -> float:
        if self._clock_start is None:
            return self.spent_before
        return self.spent_before + time.perf_counter() - self._clock_start

    def on_epoch_end(self, run: TrainingRun) -> bool:
        epochs_timed = run.epoch - self._first_epoch + 1
        per_epoch = max((time.perf_counter() - self._loop_start) / epochs_timed, 1e-9)
        left = self.seconds - self._spent() - per_epoch / 2
        self.planned = min(self._max_epochs, run.epoch + max(0, math.floor(left / per_epoch)))
        run.epochs = self.planned
        return self.planned < self._max_epochs and self.planned <= run.epoch

    def state_dict(self) -> dict[str, Any]:
        return {"spent": self._spent(), "planned": self.planned}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        spent, planned = state.get("spent"), state.get("planned")
        valid = (
            set(state) == {"spent", "planned"}
            and is_finite_number(spent)
            and spent >= 0
            and (planned is None or (type(planned) is int and planned >= 1))
        )
        if not valid:
            raise ValueError(
                f"time budget state must be {{'spent': seconds, 'planned': epochs}}; got {state!r}"
            )
        self.spent_before, self.planned = float(spent), planned


class ProgressBar(Callback):
    """A tqdm bar over epochs on stderr, with the latest loss and accuracies (if measured).

    Args:
        desc: A label in front of the bar.
    """

    order = 90

    def __init__(self, desc: str | None = None) -> None:
        self.desc = desc
        self._bar = None

    def on_epoch_begin(self, run: TrainingRun) -> None:
        if self._bar is None:  # here, after a checkpoint may have been restored
            self._bar = tqdm(
                total=run.epochs, initial=len(run.history), unit="epoch", desc=self.desc
            )
        self._bar.total = run.epochs

    def on_epoch_end(self, run: TrainingRun) -> None:
        last = run.history.last()
        postfix = {"loss": f"{last['train_loss']:.4f}"}
        if run.history.train_accuracy:  # a regression run measures none
            postfix["acc"] = f"{last['train_accuracy']:.4f}"
        if run.history.val_accuracy:
            postfix["val_acc"] = f"{last['val_accuracy']:.4f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update()

    def on_train_end(self, run: TrainingRun) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
