"""The training loop for a model on a device (``model.to("cuda")``): no host round-trip
inside an epoch.

The steps are those of :func:`neural_network.fit` on the host, with the data on the device:
the training set (and the validation set) are copied there once per ``fit``, each epoch's
shuffled order once per epoch (drawn from the same host generator, so a seed gives the same
batches on both devices), and each batch is gathered there. A GPU runs ahead of Python as long
as Python never waits for a value, so nothing is read inside an epoch: each step writes its
loss, its number of correct predictions and its gradient norm into one slot of a device array
(the L2 penalty, the norm and the clipping factor never leave the device either), and the
epoch reads that array once, at its end.

Divergence is therefore checked at the end of the epoch. If any step's loss or gradient norm,
or any weight, is not finite, the epoch is undone: the weights *and* the optimiser go back to
where the epoch began (finite, since the previous epoch was checked), and
:class:`TrainingDivergedError` names the first step that was not finite.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from ..core import devices
from ..core.losses import log_softmax
from ..core.model import Sequential
from ..optim.device_step import DeviceStep
from .callbacks import Callback
from .divergence import TrainingDivergedError
from .run import TrainingRun

# Probabilities below this are set to 0 in the gradient, as on the host
# (``neural_network.core.losses``).
_FLUSH_BELOW = 1e-30


def cross_entropy_sum(logits: Any, labels: Any, rows: Any) -> tuple[Any, Any]:
    """Summed softmax cross-entropy of a batch, as a 0-d array, and its gradient with respect
    to the logits, ``(softmax(z) - one_hot(y)) / n``; ``rows`` is ``arange(n)`` on the device.

    The same arithmetic as :class:`~neural_network.core.losses.SoftmaxCrossEntropy`, whose
    ``forward`` returns a Python float (a read) and so cannot be used here.
    """
    n = len(rows)
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp cannot overflow
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    loss_sum = (np.log(sums[:, 0]) - shifted[rows, labels]).sum()
    exp /= sums
    np.copyto(exp, 0, where=exp < _FLUSH_BELOW)
    exp[rows, labels] -= 1
    exp *= exp.dtype.type(1.0 / n)
    return loss_sum, exp


def evaluate_on_device(
    model: Sequential, x: Any, labels: Any, *, batch_size: int = 2048
) -> tuple[float, float]:
    """:func:`~neural_network.evaluate` for a model on a device: mean cross-entropy and
    accuracy, accumulated on the device and read once. ``x`` and ``labels`` may be host or
    device arrays."""
    xp = devices.array_module(model.device)
    x, labels = devices.to_device(x, xp), devices.to_device(labels, xp)
    sums = xp.zeros(2, dtype=np.float64)  # summed loss, correct predictions
    rows = xp.arange(batch_size)
    for start in range(0, len(x), batch_size):
        x_batch = x[start : start + batch_size].astype(model.dtype, copy=False)
        batch_labels = labels[start : start + batch_size]
        logits = model.forward(x_batch, training=False)
        sums[0] -= log_softmax(logits)[rows[: len(batch_labels)], batch_labels].sum()
        sums[1] += (logits.argmax(axis=1) == batch_labels).sum()
    loss_sum, correct = devices.to_host(sums)
    return float(loss_sum) / len(x), float(correct) / len(x)


class _EpochStart:
    """The weights and the optimiser's state when the epoch began (device copies)."""

    def __init__(self, run: TrainingRun):
        self.run = run
        self.values = run.model.flat.values.copy()
        self.state = {name: array.copy() for name, array in _state_arrays(run.optimizer).items()}
        self.iterations = run.optimizer.iterations

    def take(self) -> None:
        np.copyto(self.values, self.run.model.flat.values)
        for name, array in _state_arrays(self.run.optimizer).items():
            np.copyto(self.state[name], array)
        self.iterations = self.run.optimizer.iterations

    def restore(self) -> None:
        np.copyto(self.run.model.flat.values, self.values)
        for name, array in _state_arrays(self.run.optimizer).items():
            np.copyto(array, self.state[name])
        self.run.optimizer.iterations = self.iterations


def _state_arrays(optimizer) -> dict[str, Any]:
    return {
        name: getattr(optimizer, name)
        for name in ("velocity", "m_sum", "v_sum")
        if hasattr(optimizer, name)
    }


def _overriding(callbacks, hook: str) -> list:
    """The callbacks that implement ``hook`` (the others are not called in the loop)."""
    return [cb for cb in callbacks if getattr(type(cb), hook) is not getattr(Callback, hook)]


def train_on_device(run: TrainingRun) -> None:
    """Run ``run``'s epochs with its model, optimiser and data on the model's device."""
    model, optimizer, flat = run.model, run.optimizer, run.model.flat
    xp = devices.array_module(model.device)
    step_on_device = DeviceStep(optimizer, xp)
    x, labels = xp.asarray(run.x), xp.asarray(run.labels)
    validation = None
    if run.validation_data is not None:
        validation = tuple(xp.asarray(array) for array in run.validation_data)
    n_samples, batch_size = len(run.x), run.batch_size
    n_steps = math.ceil(n_samples / batch_size)
    batch_hooks = _overriding(run.callbacks, "on_batch_begin")
    step_hooks = _overriding(run.callbacks, "on_step_end")
    x_batch_buffer = xp.empty((min(batch_size, n_samples), x.shape[1]), dtype=x.dtype)
    rows = xp.arange(batch_size)
    # One slot per step for its summed loss, its correct predictions and its gradient norm,
    # then one for "all weights finite": the epoch's single read.
    records = xp.zeros(3 * n_steps + 1, dtype=np.float64)
    losses, correct = records[:n_steps], records[n_steps : 2 * n_steps]
    norms, weights_finite = records[2 * n_steps : 3 * n_steps], records[3 * n_steps :]
    epoch_start = _EpochStart(run)

    while not run.stop_training and len(run.history) < run.epochs:
        run.epoch = epoch = len(run.history) + 1
        epoch_start.take()
        for callback in run.callbacks:
            callback.on_epoch_begin(run)
        started = time.perf_counter()
        order = xp.asarray(run.rng.permutation(n_samples))
        for step, start in enumerate(range(0, n_samples, batch_size)):
            batch = order[start : start + batch_size]
            n_batch = min(batch_size, n_samples - start)
            x_batch = np.take(x, batch, axis=0, out=x_batch_buffer[:n_batch])
            for callback in batch_hooks:  # e.g. Augment: it runs on the host
                x_batch = xp.asarray(callback.on_batch_begin(devices.to_host(x_batch), run))
            y_batch = labels[batch]
            logits = model.forward(x_batch, training=True)
            loss_sum, grad = cross_entropy_sum(logits, y_batch, rows[:n_batch])
            correct[step] = (logits.argmax(axis=1) == y_batch).sum()
            model.backward(grad)
            penalty, grad_norm = step_on_device()
            for callback in step_hooks:
                callback.on_step_end(run)
            losses[step] = loss_sum + penalty * n_batch
            norms[step] = grad_norm
        weights_finite[0] = np.isfinite(flat.values).all()
        summary = devices.to_host(records)
        _check_finite(summary, n_steps, epoch, epoch_start)
        _record_epoch(run, time.perf_counter() - started, summary, n_steps, validation)
        for callback in run.callbacks:
            if callback.on_epoch_end(run):
                run.stop_training = True


def _check_finite(summary: np.ndarray, n_steps: int, epoch: int, epoch_start) -> None:
    losses, norms = summary[:n_steps], summary[2 * n_steps : 3 * n_steps]
    bad = ~(np.isfinite(losses) & np.isfinite(norms))
    if bad.any() or summary[3 * n_steps] != 1:
        step = int(np.argmax(bad)) if bad.any() else n_steps - 1
        epoch_start.restore()
        raise TrainingDivergedError(epoch, step + 1, float(losses[step]), float(norms[step]))


def _record_epoch(run: TrainingRun, seconds: float, summary, n_steps: int, validation) -> None:
    history, n_samples = run.history, len(run.x)
    history.epoch_time.append(seconds)
    history.epoch.append(run.epoch)
    history.train_loss.append(float(summary[:n_steps].sum()) / n_samples)
    history.train_accuracy.append(float(summary[n_steps : 2 * n_steps].sum()) / n_samples)
    history.lr.append(run.optimizer.lr)
    history.grad_norm.append(float(summary[2 * n_steps : 3 * n_steps].sum()) / n_steps)
    if validation is not None:
        val_loss, val_accuracy = evaluate_on_device(run.model, *validation)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
