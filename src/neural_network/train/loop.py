"""The training loop: mini-batches, History, EarlyStopping, ``fit`` and ``evaluate``.

One training step is, in the math's order::

    logits = model.forward(x_batch, training=True)
    loss = criterion.forward(logits, y_batch) + l2_penalty(params, l2)
    model.backward(criterion.backward())
    add_l2_grad(params, l2)
    grad_norm = clip_by_global_norm(params, clip_norm)
    optimizer.step()

``fit`` runs the last three lines as ``optimizer.update(l2=..., clip_norm=...)``, which does
the same arithmetic in two cache-friendly passes over the flat buffers.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm.auto import tqdm

from ..core.losses import SoftmaxCrossEntropy, as_class_ids, log_softmax
from ..core.model import Sequential
from ..io.model_files import TrainingRun, resume_checkpoint, save_checkpoint, training_settings
from ..optim.constraints import apply_max_norm
from ..optim.optimizers import Optimizer

EpochCallback = Callable[[int, "History"], None]
Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradient stopped being finite; names the epoch and step where."""

    def __init__(self, epoch: int, step: int, loss: float, grad_norm: float):
        self.epoch, self.step, self.loss, self.grad_norm = epoch, step, loss, grad_norm
        super().__init__(
            f"Training diverged at epoch {epoch}, step {step}: loss={loss}, "
            f"gradient norm={grad_norm}. The model keeps its last finite weights "
            "(the best ones if early stopping tracked them); try a smaller lr or clip_norm."
        )


@dataclass
class History:
    """Per-epoch records of a training run. Epochs count from 1.

    Train loss and accuracy are running means over the epoch's mini-batches (with dropout
    on, before each step), as Keras reports them: free to compute, slightly pessimistic.
    The loss includes the L2 penalty. ``grad_norm`` is the mean global gradient norm before
    clipping; ``epoch_time`` is the wall time of the epoch's training steps in seconds.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    def last(self) -> dict[str, float]:
        """The most recent epoch's record (``nan`` for metrics not measured)."""
        return {key: (values[-1] if values else math.nan) for key, values in self.to_dict().items()}


class EarlyStopping:
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    After each epoch call :meth:`update`. An epoch *improves* when the value beats the best
    so far by more than ``min_delta`` (lower for losses, higher for accuracies). Training stops
    at the end of the ``patience``-th consecutive epoch without improvement, and, with
    ``restore_best``, the weights of the best epoch are copied back.

    Args:
        patience: Epochs without improvement to tolerate (>= 1).
        min_delta: Smallest change that counts as improvement (>= 0).
        monitor: A ``History`` field: ``"val_loss"``, ``"val_accuracy"``, ``"train_loss"``
            or ``"train_accuracy"``.
        restore_best: Copy the best epoch's weights back when training ends.
    """

    MONITORS = ("val_loss", "val_accuracy", "train_loss", "train_accuracy")

    def __init__(
        self,
        patience: int = 8,
        min_delta: float = 0.0,
        monitor: str = "val_loss",
        restore_best: bool = True,
    ):
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"patience must be a positive integer; got {patience!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"min_delta must be a non-negative number; got {min_delta!r}")
        if monitor not in self.MONITORS:
            raise ValueError(f"Unknown monitor {monitor!r}; expected one of {list(self.MONITORS)}")
        self.patience, self.min_delta, self.monitor = patience, float(min_delta), monitor
        self.restore_best = restore_best
        self.mode = "max" if monitor.endswith("accuracy") else "min"
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped = False
        self.best_values: np.ndarray | None = None

    def improves(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def update(self, value: float, epoch: int, weights: np.ndarray | None = None) -> bool:
        """Record ``value`` for ``epoch``; return True when training should stop.

        Args:
            value: The monitored metric for this epoch.
            epoch: The epoch number (from 1).
            weights: The model's flat weights, copied when this epoch is the best.
        """
        if self.improves(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best and weights is not None:
                if self.best_values is None:
                    self.best_values = weights.copy()
                else:
                    self.best_values[...] = weights
        else:
            self.wait += 1
            self.stopped = self.wait >= self.patience
        return self.stopped

    def restore(self, weights: np.ndarray) -> bool:
        """Copy the best weights into ``weights`` (in place); False if none were kept."""
        if not self.restore_best or self.best_values is None:
            return False
        weights[...] = self.best_values
        return True


def minibatches(
    n_samples: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches over a permutation of ``range(n_samples)``
    (in order when ``rng`` is None). The last batch may be smaller."""
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


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
    model: Sequential, x: np.ndarray, labels: np.ndarray, *, batch_size: int = 2048
) -> tuple[float, float]:
    """Mean cross-entropy (without L2) and accuracy of ``model`` on ``(x, labels)``,
    forward only, in batches."""
    total_loss, correct = 0.0, 0
    rows = np.arange(batch_size)
    for start in range(0, len(x), batch_size):
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
    l2: float = 0.0,
    clip_norm: float | None = None,
    schedule: Callable[[int], float] | None = None,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping: EarlyStopping | None = None,
    rng: np.random.Generator | None = None,
    progress: bool = False,
    callbacks: Sequence[EpochCallback] = (),
    history: History | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume_from: str | os.PathLike | None = None,
    augment: Augmentation | None = None,
    max_norm: float | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent on softmax cross-entropy.

    Args:
        model: The network; its parameters are updated in place.
        x: Inputs (n_samples, n_features), already scaled.
        labels: Integer class ids (n_samples,).
        optimizer: An optimiser built on ``model.parameters()``.
        epochs: Number of passes over the data (the total, counting a ``history`` given).
        batch_size: Samples per step; the last batch of an epoch may be smaller.
        l2: Coupled L2 coefficient: ``loss += 0.5 * l2 * sum(W**2)`` over weights, not biases.
        clip_norm: Clip all gradients together to this global norm; ``None`` disables.
        schedule: ``epoch -> lr`` (epochs from 0); ``None`` keeps ``optimizer.lr``.
        validation_data: ``(x_val, labels_val)`` evaluated after every epoch.
        early_stopping: Stops training and restores the best weights; needs
            ``validation_data`` when it monitors a ``val_`` metric.
        rng: Generator for shuffling (and ``augment``, if given); same seed, same run.
        progress: Show a tqdm bar over epochs with the latest metrics.
        callbacks: Called as ``callback(epoch, history)`` after every epoch (from 1).
        history: Continue this History (its length is the number of epochs already done).
        checkpoint_path: Write a checkpoint here (exactly this path, atomically) every
            ``checkpoint_every`` epochs and after the last epoch: weights, optimiser state,
            History, early-stopping state and the state of every random generator involved.
            ``load_model`` reads it as a ``Sequential``.
        checkpoint_every: Epochs between checkpoints.
        resume_from: Continue the run that wrote this checkpoint. Pass the same model
            architecture, data and settings (``epochs`` may grow), with the generators shared
            as before; the weights then end bit-identical to an uninterrupted run's.
            Not together with ``history``.
        augment: ``augment(x_batch, rng) -> x_batch``, applied to every training batch
            before the forward pass with the same ``rng`` as the shuffling (so a seeded run
            repeats), e.g. :class:`~neural_network.augmentation.RandomDistortion`.
            Validation data is never augmented.
        max_norm: After every step, cap each hidden unit's incoming weight norm at this
            value (:func:`~neural_network.constraints.apply_max_norm`); ``None`` disables.

    Returns:
        The History of the run.

    Raises:
        ValueError: for invalid data or settings, or a checkpoint of another run.
        ModelFileError: for a checkpoint that is corrupt or not a checkpoint.
        TrainingDivergedError: when the loss, the gradient norm or a weight is no longer
            finite. The model keeps its last finite weights: the best ones if early stopping
            kept them, else the current ones if finite, else those of the start of the epoch.
            No checkpoint is written from that state.
    """
    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    if not (isinstance(l2, (int, float)) and math.isfinite(l2) and l2 >= 0):
        raise ValueError(f"l2 must be a non-negative number; got {l2!r}")
    if clip_norm is not None and not (isinstance(clip_norm, (int, float)) and clip_norm > 0):
        raise ValueError(f"clip_norm must be a positive number or None; got {clip_norm!r}")
    if max_norm is not None and not (
        isinstance(max_norm, (int, float)) and math.isfinite(max_norm) and max_norm > 0
    ):
        raise ValueError(f"max_norm must be a positive number or None; got {max_norm!r}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be callable or None; got {type(augment).__name__}")
    if optimizer.flat is not model.flat:
        raise ValueError("optimizer was not built on this model's parameters")
    checkpoint_every = _check_positive_int("checkpoint_every", checkpoint_every)
    if resume_from is not None and history is not None:
        raise ValueError("pass history or resume_from, not both: a checkpoint holds its History")
    x, labels = check_dataset(model, x, labels)
    if validation_data is not None:
        x_val, labels_val = check_dataset(model, *validation_data, what="validation x")
    elif early_stopping is not None and early_stopping.monitor.startswith("val_"):
        raise ValueError(
            f"early stopping monitors {early_stopping.monitor!r} but no validation_data"
        )
    rng = rng if rng is not None else np.random.default_rng()
    history = history if history is not None else History()
    run = None
    if checkpoint_path is not None or resume_from is not None:
        run = TrainingRun(
            model,
            optimizer,
            rng,
            early_stopping,
            training_settings(
                optimizer=optimizer,
                batch_size=batch_size,
                l2=l2,
                clip_norm=clip_norm,
                schedule=schedule,
                early_stopping=early_stopping,
                data=(x, labels),
                validation_data=None if validation_data is None else (x_val, labels_val),
            ),
        )
    first_epoch = len(history)
    if resume_from is not None:
        resume_checkpoint(resume_from, run, history)
        stopped = early_stopping is not None and early_stopping.stopped
        first_epoch = max(epochs, len(history)) if stopped else len(history)
    flat, criterion = model.flat, SoftmaxCrossEntropy()
    # The weights at the start of the epoch, restored if a step makes them non-finite.
    last_finite = flat.values.copy()
    n_samples = len(x)
    # One batch buffer, filled by a gather per step: batches stay contiguous without a second
    # shuffled copy of the whole training set.
    x_batch_buffer = np.empty((min(batch_size, n_samples), x.shape[1]), dtype=x.dtype)

    bar = tqdm(range(first_epoch, epochs), disable=not progress, unit="epoch", leave=True)
    for epoch_index in bar:
        epoch = epoch_index + 1
        np.copyto(last_finite, flat.values)
        if schedule is not None:
            optimizer.lr = float(schedule(epoch_index))
        started = time.perf_counter()
        loss_sum = norm_sum = 0.0
        correct = steps = 0
        for step, batch in enumerate(minibatches(n_samples, batch_size, rng), start=1):
            x_batch = np.take(x, batch, axis=0, out=x_batch_buffer[: len(batch)])
            if augment is not None:
                x_batch = augment(x_batch, rng)
            y_batch = labels[batch]
            logits = model.forward(x_batch, training=True)
            loss = criterion.forward(logits, y_batch)
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y_batch))
            if not math.isfinite(loss):
                _diverged(early_stopping, flat, last_finite, epoch, step, loss, math.nan)
            model.backward(criterion.backward())
            # add_l2_grad + clip_by_global_norm + optimizer.step(), fused chunk by chunk.
            penalty, grad_norm = optimizer.update(l2=l2, clip_norm=clip_norm)
            if max_norm is not None:
                apply_max_norm(model, max_norm)
            loss += penalty
            if not math.isfinite(grad_norm):
                _diverged(early_stopping, flat, last_finite, epoch, step, loss, grad_norm)
            loss_sum += loss * len(batch)
            norm_sum += grad_norm
            steps += 1
        # A finite gradient can still step a weight to infinity (SGD with a huge lr).
        if not np.isfinite(flat.values).all():
            _diverged(early_stopping, flat, last_finite, epoch, steps, loss, grad_norm)
        history.epoch_time.append(time.perf_counter() - started)
        history.epoch.append(epoch)
        history.train_loss.append(loss_sum / n_samples)
        history.train_accuracy.append(correct / n_samples)
        history.lr.append(optimizer.lr)
        history.grad_norm.append(norm_sum / steps)
        if validation_data is not None:
            val_loss, val_accuracy = evaluate(model, x_val, labels_val)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_accuracy)
        if progress:
            bar.set_postfix(_postfix(history))
        for callback in callbacks:
            callback(epoch, history)
        stop = False
        if early_stopping is not None:
            value = getattr(history, early_stopping.monitor)[-1]
            stop = early_stopping.update(value, epoch, flat.values)
        if checkpoint_path is not None and (
            epoch % checkpoint_every == 0 or stop or epoch == epochs
        ):
            save_checkpoint(checkpoint_path, run, history)
        if stop:
            break
    if early_stopping is not None:
        early_stopping.restore(flat.values)
    bar.close()
    return history


def _diverged(
    early_stopping, flat, last_finite: np.ndarray, epoch: int, step: int, loss, grad_norm
):
    """Put back the best weights (early stopping) or the last finite ones, then raise."""
    restored = early_stopping is not None and early_stopping.restore(flat.values)
    if not restored and not np.isfinite(flat.values).all():
        flat.values[...] = last_finite
    raise TrainingDivergedError(epoch, step, loss, grad_norm)


def _postfix(history: History) -> dict[str, str]:
    last = history.last()
    postfix = {"loss": f"{last['train_loss']:.4f}", "acc": f"{last['train_accuracy']:.4f}"}
    if history.val_accuracy:
        postfix["val_acc"] = f"{last['val_accuracy']:.4f}"
    return postfix
