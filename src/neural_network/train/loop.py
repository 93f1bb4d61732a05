"""The training loop: ``fit`` with mini-batches, and ``evaluate``.

One training step is, in the math's order::

    logits = model.forward(x_batch, training=True)
    loss = criterion.forward(logits, y_batch)          # mean cross-entropy (by default)
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
from typing import Any

import numpy as np

from ..checks import check_bool, check_positive_int, check_real
from ..core.devices import array_module
from ..core.layers import Dense
from ..core.link_losses import SigmoidBinaryCrossEntropy
from ..core.losses import SoftmaxCrossEntropy
from ..core.model import Sequential
from ..core.sparse import is_sparse, mean_absolute_value, sparse_rows
from ..core.threads import ThreadChooser, ThreadsSetting, inference_threads, timed_batches
from ..optim.device_step import move_optimizer_state
from ..optim.optimizers import Optimizer
from .callbacks import Callback
from .device_loop import evaluate_on_device, train_on_device
from .divergence import TrainingDivergedError
from .history import History
from .run import TrainingRun


def minibatches(
    n_samples: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays of consecutive batches over a permutation of ``range(n_samples)``
    (in order when ``rng`` is None). The last batch may be smaller."""
    order = rng.permutation(n_samples) if rng is not None else np.arange(n_samples)
    for start in range(0, n_samples, batch_size):
        yield order[start : start + batch_size]


def check_dataset(
    model: Sequential, x, labels, *, what: str = "x", loss: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a dataset for ``model`` and return it as (float array, targets).

    The targets are what ``loss`` takes (its ``check_targets``): integer class ids in
    ``[0, n_classes)`` for the default cross-entropy, real ``(n_samples, n_outputs)`` values
    in the model's dtype for a regression loss.

    Raises:
        ValueError: wrong dimensions, sample counts that disagree, non-finite values, or
            targets the loss does not take.
    """
    loss = SoftmaxCrossEntropy if loss is None else loss
    sparse = is_sparse(x)
    x = _check_sparse_input(model, x, what) if sparse else np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D (n_samples, n_features); got shape {x.shape}")
    if x.shape[1] != model.n_features:
        raise ValueError(
            f"{what} has {x.shape[1]} features but the model expects {model.n_features}"
        )
    if np.shape(labels)[:1] != (x.shape[0],):
        raise ValueError(
            f"labels must have one entry per row of {what} ({x.shape[0]}); got shape "
            f"{np.shape(labels)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{what} holds no samples")
    labels = loss.check_targets(labels, model.n_classes)
    if not loss.classifies:
        labels = _in_dtype(labels, model.dtype, "targets")
    if sparse:
        return x, labels  # CSR rows in the model's dtype, checked finite
    if x.dtype.kind in "biuf" and not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    x = _in_dtype(x, model.dtype, what)
    if not np.isfinite(x).all():
        raise ValueError(f"{what} holds NaN or infinite values")
    return x, labels


def _in_dtype(values: np.ndarray, dtype: np.dtype, what: str) -> np.ndarray:
    """``values`` as a contiguous array of the model's dtype; finite values beyond its range
    are refused by name (they would become infinite, and the loss NaN)."""
    with np.errstate(over="ignore"):  # checked just below, by name
        converted = np.ascontiguousarray(values, dtype=dtype)
    if np.issubdtype(dtype, np.floating) and not np.isfinite(converted).all():
        original = np.asarray(values)
        if original.dtype.kind in "iuf" and np.isfinite(original).all():
            verb = "hold" if what == "targets" else "holds"
            raise ValueError(
                f"{what} {verb} values beyond the model's {np.dtype(dtype)} (largest magnitude "
                f"{float(np.abs(original).max()):.3g}; {np.dtype(dtype)} holds up to "
                f"{np.finfo(dtype).max:.3g}); scale them down first"
            )
    return converted


def _check_sparse_input(model: Sequential, x, what: str):
    """A scipy.sparse ``x`` as CSR rows in the model's dtype: only the first layer sees it,
    and only a ``Dense`` one multiplies it without densifying (on the CPU)."""
    if not isinstance(model.layers[0], Dense):
        raise ValueError(
            f"sparse {what} needs a model whose first layer is Dense; it is "
            f"{type(model.layers[0]).__name__}: pass {what}.toarray()"
        )
    if model.device != "cpu":
        raise ValueError(
            f"sparse {what} trains on the CPU only; the model is on {model.device!r}: call "
            f"model.to('cpu'), or pass {what}.toarray()"
        )
    return sparse_rows(x, model.dtype, what=what)


def check_sample_weight(sample_weight, n_samples: int, *, what: str = "sample_weight"):
    """``sample_weight`` as a float64 ``(n_samples,)`` array, or ``None`` for ``None``.

    Raises:
        ValueError: unless the weights are finite, non-negative, one per sample, and not all 0.
    """
    if sample_weight is None:
        return None
    weights = np.asarray(sample_weight)
    if weights.ndim != 1 or len(weights) != n_samples or weights.dtype.kind not in "biuf":
        raise ValueError(
            f"{what} must be {n_samples} real numbers, one per sample; got shape "
            f"{weights.shape} of dtype {weights.dtype}"
        )
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError(f"{what} must be finite and non-negative")
    if not weights.any():
        raise ValueError(f"{what} is zero for every sample: nothing to train on")
    return weights


def _check_device_run(
    loss: Any, sample_weight: np.ndarray | None, weighted_validation: bool = False
) -> None:
    """The device loop trains and evaluates unweighted classifiers only: softmax
    cross-entropy, or binary cross-entropy of one logistic output (a binary classifier)."""
    softmax = loss is None or loss is SoftmaxCrossEntropy or isinstance(loss, SoftmaxCrossEntropy)
    if not (softmax or type(loss) is SigmoidBinaryCrossEntropy):
        raise ValueError(
            f"a model on a GPU trains with softmax or binary cross-entropy only, not {loss!r}; "
            "train a regression model on the CPU (device='cpu')"
        )
    if sample_weight is not None or weighted_validation:
        raise ValueError(
            "sample weights are not supported for a model on a GPU yet; train it on the CPU "
            "(device='cpu')"
        )


def evaluate(
    model: Sequential,
    x: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int = 2048,
    loss: Any = None,
    sample_weight: np.ndarray | None = None,
    threads: ThreadsSetting = "auto",
) -> tuple[float, float | None]:
    """Mean loss (without L2) and accuracy of ``model`` on ``(x, labels)``, forward only,
    in batches; weighted means with ``sample_weight``.

    ``loss`` is the criterion, cross-entropy by default; for a regression loss the accuracy
    is ``None``. The products run on ``threads`` BLAS threads (``"auto"``: as training
    chose, see :mod:`neural_network.core.threads`).
    """
    if model.device != "cpu":
        _check_device_run(loss, sample_weight)
        logistic = loss is not None and not loss.classifies
        return evaluate_on_device(model, x, labels, batch_size=batch_size, logistic=logistic)
    with inference_threads(threads) as chooser:
        return _evaluate(model, x, labels, batch_size, chooser, loss, sample_weight)


def _evaluate(
    model, x, labels, batch_size: int, chooser: ThreadChooser, loss, sample_weight
) -> tuple[float, float | None]:
    loss = SoftmaxCrossEntropy if loss is None else loss
    n = x.shape[0]
    weights = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    total_loss = correct = 0.0
    for start in timed_batches(chooser, range(0, n, batch_size), batch_size, n):
        x_batch = x[start : start + batch_size].astype(model.dtype, copy=False)
        batch_labels = labels[start : start + batch_size]
        batch_weights = weights[start : start + batch_size]
        outputs = model.forward(x_batch, training=False)
        per_sample = loss.per_sample(outputs, batch_labels)
        if sample_weight is None:
            total_loss += float(per_sample.sum())
        else:
            total_loss += float(np.dot(batch_weights, per_sample))
        if loss.classifies:
            correct += float(batch_weights[outputs.argmax(axis=1) == batch_labels].sum())
    total = float(weights.sum())
    return total_loss / total, (correct / total if loss.classifies else None)


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
    loss: Any = None,
    sample_weight: np.ndarray | None = None,
    threads: ThreadsSetting = "auto",
    shuffle: bool = True,
    batch_l2: float | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent on softmax cross-entropy (or ``loss``).

    Args:
        model: The network; its parameters are updated in place.
        x: Inputs (n_samples, n_features), already scaled.
        labels: Integer class ids (n_samples,).
        optimizer: An optimiser built on ``model.flat``; it holds the learning rate, L2 and
            clipping (``Adam(model.flat, lr=1e-3, l2=1e-4, clip_norm=5.0)``).
        epochs: The epoch to stop after, counting the epochs of a ``history`` given or of a
            checkpoint resumed.
        batch_size: Samples per step; the last batch of an epoch may be smaller.
        validation_data: ``(x_val, labels_val)`` evaluated after every epoch, or
            ``(x_val, labels_val, weights_val)`` for weighted validation means.
        rng: Generator for shuffling (and for callbacks that draw); same seed, same run.
        callbacks: :class:`~neural_network.train.callbacks.Callback` objects, e.g.
            ``[LRSchedule(StepDecay(1e-3, 0.5, 10)), EarlyStopping(patience=8),
            ProgressBar()]``; see that module for the order of their hooks.
        history: Continue this History (its length is the number of epochs already done,
            with the same model, optimiser and generator).
        loss: The criterion: ``SoftmaxCrossEntropy()`` by default, or a regression loss
            (``HalfSquaredError()``, ``Huber(delta)``) with real targets
            ``(n_samples, n_outputs)`` in place of labels; then no accuracy is recorded.
        sample_weight: ``(n_samples,)`` non-negative weights: each batch's loss is the
            weighted mean of its samples' losses, and the History's train loss and accuracy
            are weighted means. Samples of weight 0 are left out of training; equal weights
            train exactly as no weights.
        threads: BLAS threads for the matrix products: ``"auto"`` times steps with each
            count and keeps the fastest, checking again as the step time drifts
            (reproducible to rounding); an integer pins the count (bit-identical runs and
            resumes). See :mod:`neural_network.core.threads`.
        shuffle: Shuffle the samples every epoch (with ``rng``); ``False`` takes the batches
            in the data's order every epoch and draws nothing from ``rng`` for them.
        batch_l2: ``None`` keeps ``optimizer.l2`` as it is. A number is scikit-learn's
            ``alpha``: before each step ``optimizer.l2`` becomes ``batch_l2`` divided by the
            batch's total sample weight (its size without weights), so the batch's penalty
            is ``0.5 * batch_l2 * sum(W**2) / sum(w)``; a smaller last batch is penalised more.

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
    shuffle = check_bool("shuffle", shuffle)
    chooser = ThreadChooser(threads)
    if optimizer.flat is not model.flat:
        raise ValueError("optimizer was not built on this model's parameters")
    move_optimizer_state(optimizer, array_module(model.device))  # it follows model.to(...)
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"callbacks must be Callback instances; got {type(callback).__name__}")
    loss = SoftmaxCrossEntropy() if loss is None else loss
    x, labels = check_dataset(model, x, labels, loss=loss)
    if batch_l2 is not None:
        batch_l2 = check_real("batch_l2", batch_l2, "[0, inf)")
    sample_weight = check_sample_weight(sample_weight, x.shape[0])
    if sample_weight is not None and not sample_weight.all():
        kept = np.flatnonzero(sample_weight)
        x, labels, sample_weight = x[kept], labels[kept], sample_weight[kept]
    if sample_weight is not None and (sample_weight == sample_weight[0]).all():
        if batch_l2 is not None:  # a batch's weight is then its size times that weight
            batch_l2 /= float(sample_weight[0])
        sample_weight = None  # equal weights are the plain mean: take its exact arithmetic
    _warn_if_unscaled(x)
    if validation_data is not None:
        validation_data = _check_validation_data(model, validation_data, loss)
    if model.device != "cpu":
        weighted_validation = validation_data is not None and len(validation_data) == 3
        _check_device_run(loss, sample_weight, weighted_validation)
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
        loss=loss,
        sample_weight=sample_weight,
        threads=chooser,
        shuffle=shuffle,
        batch_l2=batch_l2,
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


def _check_validation_data(model: Sequential, validation_data, loss) -> tuple:
    if len(validation_data) not in (2, 3):
        raise ValueError("validation_data must be (x_val, labels_val[, weights_val])")
    x_val, labels_val = check_dataset(model, *validation_data[:2], what="validation x", loss=loss)
    if len(validation_data) == 2:
        return x_val, labels_val
    weights = check_sample_weight(validation_data[2], x_val.shape[0], what="validation weights")
    return x_val, labels_val, weights


UNSCALED_MEAN = 10.0  # inputs whose mean size is above this are surely not scaled


def _warn_if_unscaled(x: np.ndarray) -> None:
    """One warning when the inputs are far outside [0, 1], as raw 0-255 pixels are.

    The mean absolute value decides, not the largest: standardised features can have a
    few huge values (a pixel that is almost always 0), raw pixels are large on average.
    """
    sample = x[:: max(1, x.shape[0] // 1024)]  # about 1024 rows: no copy of the whole set
    if is_sparse(sample):
        size = mean_absolute_value(sample)
    else:
        size = float(np.abs(sample).mean(dtype=np.float64))
    if size > UNSCALED_MEAN:
        warnings.warn(
            f"x looks unscaled: its values are {size:.3g} on average, far outside [0, 1]; "
            "divide raw 0-255 pixels by 255 (or fit a MinMaxScaler) for the network to learn",
            UserWarning,
            stacklevel=3,
        )


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
    if run.model.device != "cpu":
        return train_on_device(run)
    model, optimizer, flat, chooser = run.model, run.optimizer, run.model.flat, run.threads
    x, labels, n_samples = run.x, run.labels, run.x.shape[0]
    criterion, weights = run.loss, run.sample_weight
    batch_hooks = _overriding(run.callbacks, "on_batch_begin")
    step_hooks = _overriding(run.callbacks, "on_step_end")
    # The weights at the start of the epoch, restored if a step makes them non-finite.
    last_finite = flat.values.copy()
    # One batch buffer, filled by a gather per step: batches stay contiguous without a second
    # shuffled copy of the whole training set.
    # A sparse x is gathered as CSR rows instead (a sparse batch, never a dense one).
    sparse = is_sparse(x)
    x_batch_buffer = (
        None if sparse else np.empty((min(run.batch_size, n_samples), x.shape[1]), dtype=x.dtype)
    )
    updated = False  # whether a step has changed the weights given

    while not run.stop_training and len(run.history) < run.epochs:
        run.epoch = epoch = len(run.history) + 1
        np.copyto(last_finite, flat.values)
        for callback in run.callbacks:
            callback.on_epoch_begin(run)
        chooser.begin_epoch()
        started = time.perf_counter()
        loss_sum = norm_sum = correct = 0.0
        steps = 0
        order_rng = run.rng if run.shuffle else None
        for step, batch in enumerate(minibatches(n_samples, run.batch_size, order_rng), start=1):
            chooser.before_step()
            step_started = time.perf_counter()
            if sparse:
                x_batch = x[batch]
            else:
                x_batch = np.take(x, batch, axis=0, out=x_batch_buffer[: len(batch)])
            for callback in batch_hooks:
                x_batch = callback.on_batch_begin(x_batch, run)
            y_batch = labels[batch]
            w_batch = None if weights is None else weights[batch]
            run.set_batch_l2(len(batch), w_batch)
            logits = model.forward(x_batch, training=True)
            loss = criterion.forward(logits, y_batch, w_batch)
            if criterion.classifies:
                hits = logits.argmax(axis=1) == y_batch
                correct += np.count_nonzero(hits) if w_batch is None else w_batch[hits].sum()
            if not math.isfinite(loss):
                if not updated:
                    raise TrainingDivergedError(
                        epoch, step, loss, math.nan, largest_weight=float(np.abs(flat.values).max())
                    )
                _diverged(flat, last_finite, epoch, step, loss, math.nan)
            model.backward(criterion.backward())
            penalty, grad_norm = optimizer.step()
            updated = True
            for callback in step_hooks:
                callback.on_step_end(run)
            loss += penalty
            if not math.isfinite(grad_norm):
                _diverged(flat, last_finite, epoch, step, loss, grad_norm)
            loss_sum += loss * (len(batch) if w_batch is None else w_batch.sum())
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
    history = run.history
    total = run.x.shape[0] if run.sample_weight is None else float(run.sample_weight.sum())
    history.epoch_time.append(seconds)
    history.epoch.append(run.epoch)
    history.train_loss.append(float(loss_sum / total))
    if run.loss.classifies:
        history.train_accuracy.append(float(correct / total))
    history.lr.append(run.optimizer.lr)
    history.grad_norm.append(norm_sum / steps)
    history.record_threads(*run.threads.epoch_summary())
    if run.validation_data is not None:
        x_val, labels_val, *weights_val = run.validation_data
        val_loss, val_accuracy = evaluate(
            run.model, x_val, labels_val, loss=run.loss, sample_weight=next(iter(weights_val), None)
        )
        history.val_loss.append(val_loss)
        if val_accuracy is not None:
            history.val_accuracy.append(val_accuracy)


def _diverged(flat, last_finite: np.ndarray, epoch: int, step: int, loss, grad_norm):
    """Put back the last finite weights if the current ones are not, then raise; callbacks'
    ``on_train_end`` runs next (early stopping then restores its best weights)."""
    if not np.isfinite(flat.values).all():
        flat.values[...] = last_finite
    raise TrainingDivergedError(epoch, step, loss, grad_norm)
