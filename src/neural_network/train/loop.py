"""The training loop: ``fit`` with mini-batches, and ``evaluate``.

One training step is, in the math's order::

    logits = model.forward(x_batch, training=True)
    loss = criterion.forward(logits, y_batch)          # mean cross-entropy
    model.backward(criterion.backward())               # fills every Parameter.grad
    penalty, grad_norm = optimizer.step()              # + L2, clipping, the update rule

``optimizer.step()`` adds the L2 gradient, clips all gradients by their global norm and
applies SGD or Adam, over the model's flat buffers
(:mod:`neural_network.optim.reference` writes the same step out plainly). Everything that
watches or steers a run (early stopping, schedules, checkpoints, progress, time budgets) is
a callback (:mod:`neural_network.train.callbacks`); this loop knows none of them.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator, Sequence

import numpy as np

from ..checks import as_class_ids, check_positive_int
from ..core.losses import SoftmaxCrossEntropy, log_softmax
from ..core.model import Sequential
from ..core.threads import ThreadChooser, ThreadsSetting, inference_threads, timed_batches
from ..optim.optimizers import Optimizer
from .callbacks import Callback
from .history import History
from .run import TrainingRun


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradient stopped being finite; names the epoch and step where."""

    def __init__(self, epoch: int, step: int, loss: float, grad_norm: float):
        self.epoch, self.step, self.loss, self.grad_norm = epoch, step, loss, grad_norm
        super().__init__(
            f"Training diverged at epoch {epoch}, step {step}: loss={loss}, "
            f"gradient norm={grad_norm}. The model keeps its last finite weights "
            "(the best ones if early stopping tracked them); try a smaller lr or clip_norm."
        )


def minibatches(
    n_samples: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches over a permutation of ``range(n_samples)``
    (in order when ``rng`` is None). The last batch may be smaller."""
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


def check_dataset(
    model: Sequential, x, labels, *, what: str = "x"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a dataset for ``model`` and return it as (float array, int labels).

    Raises:
        ValueError: wrong dimensions, sample counts that disagree, non-finite values, or
            labels that are not integers in ``[0, n_classes)``.
    """
    x = np.asarray(x)
    labels = np.asarray(labels)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features); got shape {x.shape}")
    if x.shape[1] != model.n_features:
        raise ValueError(
            f"{what} has {x.shape[1]} features but the model expects {model.n_features}"
        )
    if labels.ndim != 1 or len(labels) != len(x):
        raise ValueError(
            f"labels must be 1-D with one entry per row of {what} ({len(x)}); "
            f"got shape {labels.shape}"
        )
    if len(x) == 0:
        raise ValueError(f"{what} holds no samples")
    labels = as_class_ids(labels, model.n_classes)
    x = np.ascontiguousarray(x, dtype=model.dtype)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return x, labels


def evaluate(
    model: Sequential,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 2048,
    threads: ThreadsSetting = "auto",
) -> tuple[float, float]:
    """Mean cross-entropy (without L2) and accuracy of ``model`` on ``(x, labels)``,
    forward only, in batches, on ``threads`` BLAS threads (``"auto"``: as training chose,
    see :mod:`neural_network.core.threads`)."""
    with inference_threads(threads) as chooser:
        return _evaluate(model, x, labels, batch_size, chooser)


def _evaluate(model, x, labels, batch_size: int, chooser: ThreadChooser) -> tuple[float, float]:
    total_loss, correct = 0.0, 0
    rows = np.arange(batch_size)
    for start in timed_batches(chooser, range(0, len(x), batch_size), batch_size, len(x)):
        x_batch = x[start : start + batch_size].astype(model.dtype, copy=False)
        batch_labels = labels[start : start + batch_size]
        logits = model.forward(x_batch, training=False)
        log_probs = log_softmax(logits)
        total_loss -= float(log_probs[rows[: len(batch_labels)], batch_labels].sum())
        correct += int(np.count_nonzero(logits.argmax(axis=1) == batch_labels))
    return total_loss / len(x), correct / len(x)


def fit(
    model: Sequential,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    optimizer: Optimizer,
    epochs: int,
    batch_size: int = 128,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    rng: np.random.Generator | None = None,
    callbacks: Sequence[Callback] = (),
    history: History | None = None,
    threads: ThreadsSetting = "auto",
) -> History:
    """Train ``model`` with mini-batch gradient descent on softmax cross-entropy.

    Args:
        model: The network; its parameters are updated in place.
        x: Inputs (n_samples, n_features), already scaled.
        labels: Integer class ids (n_samples,).
        optimizer: An optimiser built on ``model.flat``; it holds the learning rate, L2 and
            clipping (``Adam(model.flat, lr=1e-3, l2=1e-4, clip_norm=5.0)``).
        epochs: The epoch to stop after, counting the epochs of a ``history`` given or of a
            checkpoint resumed.
        batch_size: Samples per step; the last batch of an epoch may be smaller.
        validation_data: ``(x_val, labels_val)`` evaluated after every epoch.
        rng: Generator for shuffling (and for callbacks that draw); same seed, same run.
        callbacks: :class:`~neural_network.train.callbacks.Callback` objects, e.g.
            ``[LRSchedule(StepDecay(1e-3, 0.5, 10)), EarlyStopping(patience=8),
            ProgressBar()]``; see that module for the order of their hooks.
        history: Continue this History (its length is the number of epochs already done,
            with the same model, optimiser and generator).
        threads: BLAS threads for the matrix products: ``"auto"`` times steps with each
            count and keeps the fastest, checking again as the step time drifts
            (reproducible to rounding); an integer pins the count (bit-identical runs and
            resumes). See :mod:`neural_network.core.threads`.

    Returns:
        The History of the run (``history`` itself when given).

    Raises:
        ValueError: for invalid data or settings, or a callback that refuses the run (a
            checkpoint of another run, early stopping without validation data, ...).
        TrainingDivergedError: when the loss, the gradient norm or a weight is no longer
            finite. The model keeps its last finite weights: the best ones if early stopping
            kept them, else the current ones if finite, else those of the start of the epoch.
    """
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    chooser = ThreadChooser(threads)
    if optimizer.flat is not model.flat:
        raise ValueError("optimizer was not built on this model's parameters")
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances; got {type(callback).__name__}")
    x, labels = check_dataset(model, x, labels)
    if validation_data is not None:
        validation_data = check_dataset(model, *validation_data, what="validation x")
    run = TrainingRun(
        model=model,
        optimizer=optimizer,
        x=x,
        labels=labels,
        validation_data=validation_data,
        batch_size=batch_size,
        rng=rng if rng is not None else np.random.default_rng(),
        history=history if history is not None else History(),
        epochs=epochs,
        callbacks=sorted(callbacks, key=lambda callback: callback.order),
        threads=chooser,
    )
    with chooser:
        try:
            for callback in run.callbacks:
                callback.on_train_begin(run)
            _train(run)
        except BaseException:
            _end_training(run, failing=True)
            raise
        _end_training(run, failing=False)
    return run.history


def _end_training(run: TrainingRun, *, failing: bool) -> None:
    """Every callback's ``on_train_end``, each whatever the others do. While an error is on its
    way out, theirs become warnings; otherwise the first one is raised after all have run."""
    errors = []
    for callback in run.callbacks:
        try:
            callback.on_train_end(run)
        except Exception as error:
            if failing:
                warnings.warn(
                    f"{type(callback).__name__}.on_train_end failed: {error!r}",
                    RuntimeWarning,
                    stacklevel=3,
                )
            errors.append(error)
    if errors and not failing:
        raise errors[0]


def _overriding(callbacks: Sequence[Callback], hook: str) -> list[Callback]:
    """The callbacks that implement ``hook``: the others are not called in the hot loop."""
    return [cb for cb in callbacks if getattr(type(cb), hook) is not getattr(Callback, hook)]


def _train(run: TrainingRun) -> None:
    model, optimizer, flat, chooser = run.model, run.optimizer, run.model.flat, run.threads
    x, labels, n_samples = run.x, run.labels, len(run.x)
    criterion = SoftmaxCrossEntropy()
    batch_hooks = _overriding(run.callbacks, "on_batch_begin")
    step_hooks = _overriding(run.callbacks, "on_step_end")
    # The weights at the start of the epoch, restored if a step makes them non-finite.
    last_finite = flat.values.copy()
    # One batch buffer, filled by a gather per step: batches stay contiguous without a second
    # shuffled copy of the whole training set.
    x_batch_buffer = np.empty((min(run.batch_size, n_samples), x.shape[1]), dtype=x.dtype)

    while not run.stop_training and len(run.history) < run.epochs:
        run.epoch = epoch = len(run.history) + 1
        np.copyto(last_finite, flat.values)
        for callback in run.callbacks:
            callback.on_epoch_begin(run)
        chooser.begin_epoch()
        started = time.perf_counter()
        loss_sum = norm_sum = 0.0
        correct = steps = 0
        for step, batch in enumerate(minibatches(n_samples, run.batch_size, run.rng), start=1):
            chooser.before_step()
            step_started = time.perf_counter()
            x_batch = np.take(x, batch, axis=0, out=x_batch_buffer[: len(batch)])
            for callback in batch_hooks:
                x_batch = callback.on_batch_begin(x_batch, run)
            y_batch = labels[batch]
            logits = model.forward(x_batch, training=True)
            loss = criterion.forward(logits, y_batch)
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y_batch))
            if not math.isfinite(loss):
                _diverged(flat, last_finite, epoch, step, loss, math.nan)
            model.backward(criterion.backward())
            penalty, grad_norm = optimizer.step()
            for callback in step_hooks:
                callback.on_step_end(run)
            loss += penalty
            if not math.isfinite(grad_norm):
                _diverged(flat, last_finite, epoch, step, loss, grad_norm)
            loss_sum += loss * len(batch)
            norm_sum += grad_norm
            steps += 1
            full = len(batch) == run.batch_size
            chooser.after_step(time.perf_counter() - step_started, comparable=full)
        # A finite gradient can still step a weight to infinity (SGD with a huge lr).
        if not np.isfinite(flat.values).all():
            _diverged(flat, last_finite, epoch, steps, loss, grad_norm)
        _record_epoch(run, time.perf_counter() - started, loss_sum, norm_sum, correct, steps)
        for callback in run.callbacks:
            if callback.on_epoch_end(run):
                run.stop_training = True


def _record_epoch(
    run: TrainingRun, seconds: float, loss_sum: float, norm_sum: float, correct: int, steps: int
) -> None:
    history, n_samples = run.history, len(run.x)
    history.epoch_time.append(seconds)
    history.epoch.append(run.epoch)
    history.train_loss.append(loss_sum / n_samples)
    history.train_accuracy.append(correct / n_samples)
    history.lr.append(run.optimizer.lr)
    history.grad_norm.append(norm_sum / steps)
    history.record_threads(*run.threads.epoch_summary())
    if run.validation_data is not None:
        val_loss, val_accuracy = evaluate(run.model, *run.validation_data)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)


def _diverged(flat, last_finite: np.ndarray, epoch: int, step: int, loss, grad_norm):
    """Put back the last finite weights if the current ones are not, then raise; callbacks'
    ``on_train_end`` runs next (early stopping then restores its best weights)."""
    if not np.isfinite(flat.values).all():
        flat.values[...] = last_finite
    raise TrainingDivergedError(epoch, step, loss, grad_norm)
