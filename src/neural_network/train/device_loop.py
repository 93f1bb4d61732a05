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
from ..core.link_losses import sigmoid, softplus
from ..core.losses import _FLUSH_BELOW, log_softmax
from ..core.model import Sequential
from ..optim.device_step import DeviceStep
from . import cuda_graphs
from .callbacks import Callback
from .divergence import TrainingDivergedError
from .run import TrainingRun


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


def binary_cross_entropy_sum(logits: Any, targets: Any) -> tuple[Any, Any]:
    """Summed binary cross-entropy of ``sigmoid(logits)`` against 0/1 ``targets`` ``(n,
    n_outputs)``, as a 0-d array, and its gradient ``(sigmoid(z) - y) / n``: the arithmetic
    of :class:`~neural_network.core.link_losses.SigmoidBinaryCrossEntropy` (a binary
    classifier's one logistic output), without a read."""
    loss_sum = (softplus(logits) - targets * logits).sum()
    grad = sigmoid(logits) - targets
    grad *= grad.dtype.type(1.0 / len(logits))
    return loss_sum, grad


def evaluate_on_device(
    model: Sequential, x: Any, labels: Any, *, batch_size: int = 2048, logistic: bool = False
) -> tuple[float, float | None]:
    """:func:`~neural_network.evaluate` for a model on a device: mean cross-entropy and
    accuracy, accumulated on the device and read once (with ``logistic``, the binary
    cross-entropy of sigmoid outputs against 0/1 targets, and no accuracy, as on the host).
    ``x`` and ``labels`` may be host or device arrays."""
    xp = devices.array_module(model.device)
    x, labels = devices.to_device(x, xp), devices.to_device(labels, xp)
    sums = xp.zeros(2, dtype=np.float64)  # summed loss, correct predictions
    rows = xp.arange(batch_size)
    for start in range(0, len(x), batch_size):
        x_batch = x[start : start + batch_size].astype(model.dtype, copy=False)
        batch_labels = labels[start : start + batch_size]
        logits = model.forward(x_batch, training=False)
        if logistic:
            sums[0] += binary_cross_entropy_sum(logits, batch_labels)[0]
            continue
        sums[0] -= log_softmax(logits)[rows[: len(batch_labels)], batch_labels].sum()
        sums[1] += (logits.argmax(axis=1) == batch_labels).sum()
    loss_sum, correct = devices.to_host(sums)
    return float(loss_sum) / len(x), None if logistic else float(correct) / len(x)


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
    _DeviceTraining(run).run_epochs()


class _DeviceTraining:
    """The state of one ``fit`` on a device: the data and buffers there, and the step."""

    def __init__(self, run: TrainingRun):
        self.run, self.model = run, run.model
        self.xp = xp = devices.array_module(run.model.device)
        self.step_on_device = DeviceStep(run.optimizer, xp)
        self.x, self.labels = xp.asarray(run.x), xp.asarray(run.labels)
        self.validation = None
        if run.validation_data is not None:
            self.validation = tuple(xp.asarray(array) for array in run.validation_data)
        n_samples, batch_size = len(run.x), run.batch_size
        self.n_steps = n_steps = math.ceil(n_samples / batch_size)
        self.batch_hooks = _overriding(run.callbacks, "on_batch_begin")
        self.step_hooks = _overriding(run.callbacks, "on_step_end")
        self.x_batch_buffer = xp.empty(
            (min(batch_size, n_samples), self.x.shape[1]), dtype=self.x.dtype
        )
        self.rows = xp.arange(batch_size)
        # One slot per step for its summed loss, its correct predictions and its gradient
        # norm, then one for "all weights finite": the epoch's single read.
        self.records = xp.zeros(3 * n_steps + 1, dtype=np.float64)
        self.losses = self.records[:n_steps]
        self.correct = self.records[n_steps : 2 * n_steps]
        self.norms = self.records[2 * n_steps : 3 * n_steps]
        self.graphed = None
        hooks = self.batch_hooks + self.step_hooks
        if cuda_graphs.can_capture(run, xp, self.step_on_device.fused, hooks):
            self.graphed = cuda_graphs.GraphedEpochs(
                xp, run.optimizer, n_samples, batch_size, self.step
            )

    def step(self, batch: Any, slot: Any, scalars: tuple[Any, Any] | None = None) -> None:
        """One training step on the samples ``batch`` (device indices); its records go to
        ``slot`` (a step number, or a 0-d device array in a CUDA graph)."""
        run, model, xp = self.run, self.model, self.xp
        x_batch = np.take(self.x, batch, axis=0, out=self.x_batch_buffer[: len(batch)])
        for callback in self.batch_hooks:  # e.g. Augment: it runs on the host
            x_batch = xp.asarray(callback.on_batch_begin(devices.to_host(x_batch), run))
        y_batch = self.labels[batch]
        logits = model.forward(x_batch, training=True)
        if run.loss.classifies:
            loss_sum, grad = cross_entropy_sum(logits, y_batch, self.rows[: len(batch)])
            self.correct[slot] = (logits.argmax(axis=1) == y_batch).sum()
        else:  # a logistic output (binary cross-entropy); no accuracy, as on the host
            loss_sum, grad = binary_cross_entropy_sum(logits, y_batch)
        model.backward(grad)
        run.set_batch_l2(len(batch), None)  # weights stay on the host: the run has none
        penalty, grad_norm = self.step_on_device(scalars)
        for callback in self.step_hooks:
            callback.on_step_end(run)
        self.losses[slot] = loss_sum + penalty * len(batch)
        self.norms[slot] = grad_norm

    def run_epochs(self) -> None:
        if self.graphed is None:
            self._run_epochs()
        else:
            with self.graphed:
                self._run_epochs()

    def _run_epochs(self) -> None:
        run, xp, batch_size = self.run, self.xp, self.run.batch_size
        n_samples, graphed = len(self.x), self.graphed
        epoch_start = _EpochStart(run)
        while not run.stop_training and len(run.history) < run.epochs:
            run.epoch = epoch = len(run.history) + 1
            epoch_start.take()
            for callback in run.callbacks:
                callback.on_epoch_begin(run)
            started = time.perf_counter()
            permutation = run.rng.permutation(n_samples) if run.shuffle else np.arange(n_samples)
            if graphed is None:
                order, first = xp.asarray(permutation), 0
            else:
                graphed.run_epoch(permutation)
                order, first = graphed.order, graphed.n_full
            for step in range(first, self.n_steps):
                self.step(order[step * batch_size : (step + 1) * batch_size], step)
            self.records[3 * self.n_steps] = np.isfinite(run.model.flat.values).all()
            summary = devices.to_host(self.records)
            _check_finite(summary, self.n_steps, epoch, epoch_start)
            seconds = time.perf_counter() - started
            _record_epoch(run, seconds, summary, self.n_steps, self.validation)
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
    if run.loss.classifies:
        history.train_accuracy.append(float(summary[n_steps : 2 * n_steps].sum()) / n_samples)
    history.lr.append(run.optimizer.lr)
    history.grad_norm.append(float(summary[2 * n_steps : 3 * n_steps].sum()) / n_steps)
    if validation is not None:
        logistic = not run.loss.classifies
        val_loss, val_accuracy = evaluate_on_device(run.model, *validation, logistic=logistic)
        history.val_loss.append(val_loss)
        if val_accuracy is not None:
            history.val_accuracy.append(val_accuracy)
