"""Experiments in which each technique visibly matters, each over several seeds.

The ablation (``benchmarks/ablation.py``) trains the full network on all of MNIST for at
most 12 epochs: there nothing overfits, and after input scaling every technique moves the
accuracy by tenths of a point. These experiments put each technique where it has work to do,
and keep every run small (1,000 to 5,000 training images, small networks, seconds per run):

1. ``overfitting``: a 784-100-10 network trained on 1,000 images for many epochs, alone and
   with L2, with dropout and with early stopping; train and validation curves per epoch.
2. ``learning_rates``: the same small network on 5,000 images with plain SGD, SGD with
   momentum and Adam, each over a grid of learning rates (too small, right, too large),
   the loss of every step recorded; the best rate of each optimiser is the comparison.
3. ``naive``: the ablation's naive baseline (784-512-256-128-10, raw pixels 0-255, weights of
   standard deviation 0.01, plain SGD at a learning rate of 0.1) watched step by step for its
   first epoch, beside the same network with smaller learning rates and with scaled inputs.

It writes ``benchmarks/results/experiments.json``, which the book's experiment chapters read
and assert on when the documentation is built (they draw their figures from it too):

    python benchmarks/experiments.py                    # everything, a few minutes on 2 cores
    python benchmarks/experiments.py --only naive       # one experiment, merged into the JSON
    python benchmarks/experiments.py --quick --out /tmp/experiments   # a smoke test: seconds
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
EXPERIMENTS = ("overfitting", "learning_rates", "naive")


@dataclass(frozen=True)
class Settings:
    seeds: int = 3
    # 1. overfitting
    overfit_train: int = 1000
    overfit_val: int = 2000
    overfit_hidden: tuple[int, ...] = (100,)
    overfit_epochs: int = 150
    overfit_batch: int = 10
    overfit_lr: float = 0.1  # plain SGD in batches of 10
    overfit_momentum: float = 0.0
    overfit_l2: float = 1e-2
    overfit_l2_sweep: tuple[float, ...] = (1e-3, 3e-3, 3e-2, 1e-1)  # besides overfit_l2
    overfit_dropout: float = 0.5
    overfit_patience: int = 10  # early stopping on the validation loss
    # 2. learning rates
    lr_train: int = 5000
    lr_val: int = 2000
    lr_hidden: tuple[int, ...] = (100,)
    lr_epochs: int = 4
    lr_batch: int = 64
    lr_grids: dict = field(
        default_factory=lambda: {
            # half-decades: from clearly too small to clearly too large for each
            "sgd": [round(10**e, 6) for e in [x / 2 for x in range(-6, 3)]],  # 1e-3 .. 10
            "momentum": [round(10**e, 7) for e in [x / 2 for x in range(-8, 2)]],  # 1e-4 .. 3
            "adam": [round(10**e, 7) for e in [x / 2 for x in range(-10, 1)]],  # 1e-5 .. 1
        }
    )
    # 3. the naive baseline
    naive_hidden: tuple[int, ...] = (512, 256, 128)
    naive_batch: int = 128
    naive_std: float = 0.01
    naive_val: int = 1000
    # (inputs, initial weights, learning rate, steps): the baseline and its neighbours
    naive_runs: tuple = (
        ("raw", "sd 0.01", 0.1, 430),
        ("raw", "sd 0.01", 0.01, 430),
        ("raw", "sd 0.01", 0.001, 430),
        ("scaled", "sd 0.01", 0.1, 1290),  # the ablation's "+ input scaling", three epochs
        ("scaled", "He", 0.1, 430),
    )
    limit_test: int | None = None


FULL = Settings()
QUICK = Settings(
    seeds=2,
    overfit_train=200,
    overfit_val=200,
    overfit_hidden=(16,),
    overfit_epochs=6,
    overfit_patience=2,
    lr_train=300,
    lr_val=200,
    lr_hidden=(16,),
    lr_epochs=2,
    lr_grids={"sgd": [0.01, 100.0], "momentum": [0.01], "adam": [1e-3]},
    naive_hidden=(32, 16),
    naive_runs=(("raw", "sd 0.01", 0.1, 12), ("scaled", "He", 0.1, 12)),
    naive_val=200,
    limit_test=300,
)


@functools.cache
def _mnist():
    from neural_network import load_mnist

    return load_mnist()


def splits(settings: Settings):
    """The ablation's split of MNIST: (train, validation, test) as raw uint8 pixels; 5,000
    training images held out (the same generator as the ablation), the test set apart."""
    import numpy as np

    (x_train, y_train), (x_test, y_test) = _mnist()
    order = np.random.default_rng(2024).permutation(len(x_train))
    held, kept = np.sort(order[:5000]), np.sort(order[5000:])
    if settings.limit_test is not None:
        x_test, y_test = x_test[: settings.limit_test], y_test[: settings.limit_test]
    return (x_train[kept], y_train[kept]), (x_train[held], y_train[held]), (x_test, y_test)


def scaled(x):
    """Pixels 0-255 to 0-1 (what MinMaxScaler does on MNIST, without fitting anything)."""
    import numpy as np

    return (x / np.float32(255)).astype(np.float32)


def sig(value: float, digits: int = 4) -> float:
    """``value`` rounded to a few significant digits (the JSON stays small); inf and NaN
    become None."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")


# ----------------------------------------------------------------------------- 1. overfitting


def overfit_one(settings: Settings, technique: str, seed: int, l2: float | None = None) -> dict:
    """One run of the overfitting experiment: ``technique`` is none, l2, dropout or
    early_stopping. Train and validation loss and accuracy are measured after every epoch
    with the network in inference mode (no dropout), the loss without the L2 term."""
    import numpy as np

    import neural_network as nn

    (x, y), (x_val, y_val), (x_test, y_test) = splits(settings)
    x, y = scaled(x[: settings.overfit_train]), y[: settings.overfit_train]
    x_val, y_val = scaled(x_val[: settings.overfit_val]), y_val[: settings.overfit_val]
    x_test = scaled(x_test)
    rng = np.random.default_rng(seed)
    model = nn.build_mlp(
        784,
        list(settings.overfit_hidden),
        10,
        dropout=settings.overfit_dropout if technique == "dropout" else None,
        rng=rng,
    )
    optimizer = nn.SGD(
        model.flat,
        lr=settings.overfit_lr,
        momentum=settings.overfit_momentum,
        l2=(settings.overfit_l2 if l2 is None else l2) if technique == "l2" else 0.0,
    )
    curves = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": []}

    class Measure(nn.Callback):
        def on_epoch_end(self, run):
            loss, accuracy = nn.evaluate(model, x, y, threads=1)
            curves["train_loss"].append(sig(loss))
            curves["train_accuracy"].append(sig(accuracy))
            curves["val_loss"].append(sig(run.history.val_loss[-1]))
            curves["val_accuracy"].append(sig(run.history.val_accuracy[-1]))

    callbacks = [Measure()]
    stopper = None
    if technique == "early_stopping":
        stopper = nn.EarlyStopping(patience=settings.overfit_patience, monitor="val_loss")
        callbacks.append(stopper)
    nn.fit(
        model,
        x,
        y,
        optimizer=optimizer,
        epochs=settings.overfit_epochs,
        batch_size=settings.overfit_batch,
        validation_data=(x_val, y_val),
        rng=rng,
        callbacks=callbacks,
        threads=1,
    )
    # The model's final weights: the last epoch's, or the best epoch's that early stopping
    # restored; the gap is measured on them.
    train_loss, train_accuracy = nn.evaluate(model, x, y, threads=1)
    val_loss, val_accuracy = nn.evaluate(model, x_val, y_val, threads=1)
    _, test_accuracy = nn.evaluate(model, x_test, y_test, threads=1)
    return {
        "technique": technique,
        "l2": optimizer.l2,
        "seed": seed,
        "epochs_run": len(curves["val_loss"]),
        "best_epoch": stopper.best_epoch if stopper is not None else len(curves["val_loss"]),
        "final": {
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "test_accuracy": test_accuracy,
            "gap": train_accuracy - val_accuracy,
        },
        "curves": curves,
    }


OVERFIT_TECHNIQUES = ("none", "l2", "dropout", "early_stopping")


def run_overfitting(settings: Settings) -> dict:
    runs = []
    for technique in OVERFIT_TECHNIQUES:
        for seed in range(settings.seeds):
            started = time.perf_counter()
            run = overfit_one(settings, technique, seed)
            run["time_s"] = time.perf_counter() - started
            log({k: v for k, v in run.items() if k != "curves"})
            runs.append(run)
    # How the gap and the validation accuracy move with the strength of L2.
    sweep = []
    for l2 in settings.overfit_l2_sweep:
        for seed in range(settings.seeds):
            run = overfit_one(settings, "l2", seed, l2=l2)
            log({k: v for k, v in run.items() if k != "curves"})
            sweep.append({k: v for k, v in run.items() if k != "curves"})
    return {"runs": runs, "l2_sweep": sweep}


# -------------------------------------------------------------------------- 2. learning rates


def lr_one(settings: Settings, optimizer_name: str, lr: float, seed: int) -> dict:
    """One run of the learning-rate sweep; the loss of every training step is kept. A run
    stops at the first step whose loss or gradient is not finite (it diverged)."""
    import numpy as np

    import neural_network as nn

    (x, y), (x_val, y_val), (x_test, y_test) = splits(settings)
    x, y = scaled(x[: settings.lr_train]), y[: settings.lr_train]
    x_val, y_val = scaled(x_val[: settings.lr_val]), y_val[: settings.lr_val]
    x_test = scaled(x_test)
    rng = np.random.default_rng(seed)
    model = nn.build_mlp(784, list(settings.lr_hidden), 10, rng=rng)
    if optimizer_name == "adam":
        optimizer = nn.Adam(model.flat, lr=lr)
    else:
        optimizer = nn.SGD(model.flat, lr=lr, momentum=0.9 if optimizer_name == "momentum" else 0.0)
    criterion = nn.SoftmaxCrossEntropy()
    from neural_network.train.loop import minibatches

    losses, val_accuracy = [], []
    diverged_at = None
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for _ in range(settings.lr_epochs):
            for batch in minibatches(len(x), settings.lr_batch, rng):
                logits = model.forward(x[batch], training=True)
                loss = float(criterion.forward(logits, y[batch]))
                model.backward(criterion.backward())
                _, grad_norm = optimizer.step()
                if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                    diverged_at = len(losses)
                    break
                losses.append(sig(loss))
            if diverged_at is not None:
                break
            val_accuracy.append(sig(nn.evaluate(model, x_val, y_val, threads=1)[1]))
        finite = bool(np.isfinite(model.flat.values).all())
        test_accuracy = nn.evaluate(model, x_test, y_test, threads=1)[1] if finite else None
        if test_accuracy is not None and not math.isfinite(test_accuracy):
            test_accuracy = None
    return {
        "optimizer": optimizer_name,
        "lr": lr,
        "seed": seed,
        "diverged_at_step": diverged_at,
        "steps_per_epoch": math.ceil(len(x) / settings.lr_batch),
        "losses": losses,
        "val_accuracy": val_accuracy,
        "test_accuracy": test_accuracy,
    }


def run_learning_rates(settings: Settings) -> dict:
    runs = []
    for name, grid in settings.lr_grids.items():
        for lr in grid:
            for seed in range(settings.seeds):
                started = time.perf_counter()
                run = lr_one(settings, name, lr, seed)
                run["time_s"] = time.perf_counter() - started
                log({k: v for k, v in run.items() if k not in ("losses",)})
                runs.append(run)
    return {"runs": runs}


# ------------------------------------------------------------------------ 3. the naive baseline


def naive_one(
    settings: Settings, inputs: str, init: str, lr: float, n_steps: int, seed: int
) -> dict:
    """The ablation's baseline network (weights of standard deviation 0.01, plain SGD)
    watched at every step of its first epoch: the batch loss, the scale of the logits, how
    many hidden units are dead (zero for every image of the batch) in each layer, the global
    gradient norm, how far the step moved the first layer's weights relative to their size,
    and the validation accuracy with the number of distinct classes the network predicts."""
    import numpy as np

    import neural_network as nn
    from neural_network.core.activations import ReLU
    from neural_network.core.layers import Dense

    (x, y), (x_val, y_val), _ = splits(settings)
    x_val, y_val = x_val[: settings.naive_val], y_val[: settings.naive_val]
    if inputs == "scaled":
        x, x_val = scaled(x), scaled(x_val)
    else:
        x, x_val = x.astype(np.float32), x_val.astype(np.float32)
    rng = np.random.default_rng(seed)
    model = nn.build_mlp(784, list(settings.naive_hidden), 10, rng=rng)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if init != "He":
        for layer in dense:  # in place: the weights are views of model.flat
            shape = layer.weight.value.shape
            layer.weight.value[...] = rng.standard_normal(shape) * settings.naive_std
    optimizer = nn.SGD(model.flat, lr=lr, momentum=0.0)
    criterion = nn.SoftmaxCrossEntropy()
    from neural_network.train.loop import minibatches

    keys = ("loss", "max_abs_logit", "grad_norm", "update_ratio_1", "saturated")
    steps: dict[str, list] = {key: [] for key in keys}
    steps["dead"], steps["layer_grad_norms"] = [], []
    checks: dict[str, list] = {"step": [], "val_accuracy": [], "classes": []}
    first_nonfinite = None
    w1 = dense[0].weight.value
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):

        def check(step: int) -> None:
            logits = model.forward(x_val, training=False)
            predicted = logits.argmax(axis=1)
            checks["step"].append(step)
            checks["val_accuracy"].append(float((predicted == y_val).mean()))
            checks["classes"].append(len(np.unique(predicted)))

        check(0)
        batches = (
            batch
            for _ in range(math.ceil(n_steps * settings.naive_batch / len(x)))
            for batch in minibatches(len(x), settings.naive_batch, rng)
        )
        for step, batch in enumerate(batches, start=1):
            if step > n_steps:
                break
            h = x[batch]
            dead = []
            for layer in model.layers:
                h = layer.forward(h, training=True)
                if isinstance(layer, ReLU):
                    dead.append(sig(float((h.max(axis=0) <= 0).mean()), 3))
            loss = float(criterion.forward(h, y[batch]))
            probabilities = np.exp(h - h.max(axis=1, keepdims=True))
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            before = w1.copy()
            model.backward(criterion.backward())
            layer_norms = [sig(float(np.linalg.norm(layer.weight.grad)), 3) for layer in dense]
            _, grad_norm = optimizer.step()
            ratio = float(np.linalg.norm(w1 - before) / max(np.linalg.norm(before), 1e-30))
            steps["loss"].append(sig(loss))
            steps["max_abs_logit"].append(sig(float(np.abs(h).max())))
            steps["grad_norm"].append(sig(grad_norm))
            steps["update_ratio_1"].append(sig(ratio))
            steps["saturated"].append(sig(float((probabilities.max(axis=1) > 0.999).mean()), 3))
            steps["dead"].append(dead)
            steps["layer_grad_norms"].append(layer_norms)
            if not (math.isfinite(loss) and math.isfinite(grad_norm)):
                first_nonfinite = step
                break
            if step <= 30 or step % 10 == 0:
                check(step)
        finite = bool(np.isfinite(model.flat.values).all())
    return {
        "inputs": inputs,
        "init": init,
        "lr": lr,
        "seed": seed,
        "first_nonfinite_step": first_nonfinite,
        "weights_finite": finite,
        "steps": steps,
        "checks": checks,
        "initial": {
            # the scale of what goes in and of each layer's pre-activation at the start
            "input_norm_mean": float(np.linalg.norm(x[:256], axis=1).mean()),
        },
    }


def run_naive(settings: Settings) -> dict:
    runs = []
    for inputs, init, lr, n_steps in settings.naive_runs:
        for seed in range(settings.seeds):
            started = time.perf_counter()
            run = naive_one(settings, inputs, init, lr, n_steps, seed)
            run["time_s"] = time.perf_counter() - started
            log({k: v for k, v in run.items() if k not in ("steps", "checks")})
            runs.append(run)
    return {"runs": runs}


# ------------------------------------------------------------------------ summaries, figures


def mean_sd(values: list[float]) -> tuple[float, float]:
    values = list(values)
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def overfitting_summary(result: dict) -> dict[str, dict]:
    """Per technique: mean and sd over seeds of the final gap (train minus validation
    accuracy, in points), the validation and test accuracy (%), and the epochs run."""
    out = {}
    for technique in OVERFIT_TECHNIQUES:
        runs = [r for r in result["runs"] if r["technique"] == technique]
        if not runs:
            continue
        row = {"n_runs": len(runs)}
        for key in ("gap", "train_accuracy", "val_accuracy", "test_accuracy", "val_loss"):
            scale = 1 if key == "val_loss" else 100
            row[key] = mean_sd([scale * r["final"][key] for r in runs])
        row["epochs_run"] = mean_sd([r["epochs_run"] for r in runs])
        row["best_epoch"] = mean_sd([r["best_epoch"] for r in runs])
        out[technique] = row
    return out


def lr_summary(result: dict) -> dict[str, list[dict]]:
    """Per optimiser, per learning rate: the runs that diverged, and the mean and sd over
    seeds of the final validation accuracy (%; a run that diverged counts as 10%, chance)
    and of the mean loss of the last epoch's steps."""
    out: dict[str, list[dict]] = {}
    for run in result["runs"]:
        out.setdefault(run["optimizer"], [])
    for name in out:
        lrs = sorted({r["lr"] for r in result["runs"] if r["optimizer"] == name})
        rows = []
        for lr in lrs:
            runs = [r for r in result["runs"] if r["optimizer"] == name and r["lr"] == lr]
            accuracies, last_losses = [], []
            for r in runs:
                finished = r["diverged_at_step"] is None and r["test_accuracy"] is not None
                accuracies.append(100 * r["val_accuracy"][-1] if finished else 10.0)
                tail = [v for v in r["losses"][-r["steps_per_epoch"] :] if v is not None]
                last_losses.append(statistics.fmean(tail) if finished and tail else math.inf)
            rows.append(
                {
                    "lr": lr,
                    "diverged": sum(r["diverged_at_step"] is not None for r in runs),
                    "n_runs": len(runs),
                    "val_accuracy": mean_sd(accuracies),
                    "last_epoch_loss": (
                        mean_sd(last_losses)
                        if all(math.isfinite(v) for v in last_losses)
                        else (math.inf, math.inf)
                    ),
                    "test_accuracy": mean_sd(
                        [100 * r["test_accuracy"] if r["test_accuracy"] else 10.0 for r in runs]
                    ),
                }
            )
        out[name] = rows
    return out


def best_lr(rows: list[dict]) -> dict:
    """The row of the highest mean validation accuracy among those without divergence."""
    return max((r for r in rows if r["diverged"] == 0), key=lambda r: r["val_accuracy"][0])


OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum 0.9", "adam": "Adam"}
TECHNIQUE_NAMES = {
    "none": "nothing",
    "l2": "L2",
    "dropout": "dropout",
    "early_stopping": "early stopping",
}


def _mean_curve(curves: list[list[float]]) -> tuple[list[int], list[float], list[float]]:
    """Epochs, mean and sd across runs of curves that may stop at different lengths (each
    epoch averages the runs that reached it)."""
    length = max(len(c) for c in curves)
    epochs, means, sds = [], [], []
    for i in range(length):
        values = [c[i] for c in curves if i < len(c) and c[i] is not None]
        if not values:
            continue
        epochs.append(i + 1)
        m, s = mean_sd(values)
        means.append(m)
        sds.append(s)
    return epochs, means, sds


def draw_overfitting_curves(result: dict, techniques=OVERFIT_TECHNIQUES):
    """One panel per technique: train and validation accuracy per epoch, mean over seeds
    with a band of one sd. Returns the Figure."""
    from matplotlib.figure import Figure

    n = len(techniques)
    fig = Figure(figsize=(3.3 * min(n, 2), 2.8 * math.ceil(n / 2)), layout="constrained")
    axes = fig.subplots(math.ceil(n / 2), min(n, 2), sharex=True, sharey=True, squeeze=False)
    for ax, technique in zip(axes.flat, techniques, strict=False):
        runs = [r for r in result["runs"] if r["technique"] == technique]
        for key, colour, label in (
            ("train_accuracy", "#1f77b4", "train"),
            ("val_accuracy", "#d62728", "validation"),
        ):
            epochs, means, sds = _mean_curve([[100 * v for v in r["curves"][key]] for r in runs])
            ax.plot(epochs, means, color=colour, label=label)
            ax.fill_between(
                epochs,
                [m - s for m, s in zip(means, sds, strict=True)],
                [m + s for m, s in zip(means, sds, strict=True)],
                color=colour,
                alpha=0.2,
            )
        if technique == "early_stopping":
            for r in runs:
                ax.axvline(r["best_epoch"], color="grey", lw=0.8, ls=":")
        ax.set_title(TECHNIQUE_NAMES[technique], fontsize=10)
        ax.set_ylim(75, 101)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (%)")
    axes.flat[0].legend(loc="lower right", fontsize=8)
    return fig


def draw_overfitting_losses(result: dict):
    """Train and validation loss per epoch, no technique against each: the clearest sign of
    overfitting is a validation loss that climbs while the train loss falls."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.0, 3.4), layout="constrained")
    ax = fig.add_subplot()
    colours = {
        "none": "#000000",
        "l2": "#1f77b4",
        "dropout": "#2ca02c",
        "early_stopping": "#d62728",
    }
    for technique in OVERFIT_TECHNIQUES:
        runs = [r for r in result["runs"] if r["technique"] == technique]
        for key, style in (("train_loss", "--"), ("val_loss", "-")):
            epochs, means, _ = _mean_curve([r["curves"][key] for r in runs])
            ax.plot(
                epochs,
                means,
                ls=style,
                color=colours[technique],
                label=f"{TECHNIQUE_NAMES[technique]}, {key.split('_')[0]}",
            )
    ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel="cross-entropy (log scale)")
    ax.set_title("Train (dashed) and validation (solid) loss, mean over seeds", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return fig


def draw_overfitting_bars(result: dict):
    """The final gap and the validation accuracy per technique, mean ± sd over seeds, with
    each seed's value as a dot."""
    from matplotlib.figure import Figure

    summary = overfitting_summary(result)
    fig = Figure(figsize=(7.0, 2.8), layout="constrained")
    axes = fig.subplots(1, 2)
    names = [TECHNIQUE_NAMES[t] for t in summary]
    for ax, key, label in (
        (axes[0], "gap", "train - validation accuracy (points)"),
        (axes[1], "val_accuracy", "validation accuracy (%)"),
    ):
        means = [row[key][0] for row in summary.values()]
        sds = [row[key][1] for row in summary.values()]
        ax.barh(names[::-1], means[::-1], xerr=sds[::-1], color="#9ecae1", capsize=3)
        for i, technique in enumerate(list(summary)[::-1]):
            values = [100 * r["final"][key] for r in result["runs"] if r["technique"] == technique]
            ax.plot(values, [i] * len(values), "k.", ms=4)
        ax.set_xlabel(label, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    lows = [
        row["val_accuracy"][0] - 3 * max(row["val_accuracy"][1], 0.3) for row in summary.values()
    ]
    axes[1].set_xlim(min(lows), 100 * max(r["final"]["val_accuracy"] for r in result["runs"]) + 1)
    axes[1].set_yticklabels([])
    return fig


def _smooth(values: list[float], width: int) -> list[float]:
    out, total, window = [], 0.0, []
    for v in values:
        window.append(v)
        total += v
        if len(window) > width:
            total -= window.pop(0)
        out.append(total / len(window))
    return out


def draw_lr_losses(result: dict, optimizers=("sgd", "adam")):
    """The training loss per step (smoothed over 10 steps, seed 0) at each learning rate of
    the grid, one panel per optimiser; a cross marks where a run diverged."""
    import matplotlib
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    axes = fig.subplots(1, len(optimizers), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, optimizers, strict=True):
        runs = [r for r in result["runs"] if r["optimizer"] == name and r["seed"] == 0]
        runs.sort(key=lambda r: r["lr"])
        cmap = matplotlib.colormaps["viridis"]
        for i, r in enumerate(runs):
            colour = cmap(i / max(len(runs) - 1, 1))
            losses = [v for v in r["losses"] if v is not None]
            ax.plot(
                range(1, len(losses) + 1),
                _smooth(losses, 10),
                color=colour,
                lw=1,
                label=f"{r['lr']:.3g}",
            )
            if r["diverged_at_step"] is not None:
                ax.plot(r["diverged_at_step"] + 1, 20, "x", color=colour, ms=8, mew=2)
        ax.axhline(math.log(10), color="grey", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_ylim(0.01, 30)
        ax.set_title(f"{OPTIMIZER_NAMES[name]}: loss per step", fontsize=10)
        ax.set_xlabel("step")
        ax.legend(title="learning rate", fontsize=6, title_fontsize=7, ncol=2, loc="lower left")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("train loss (log; x = diverged)")
    return fig


def draw_lr_sweep(result: dict):
    """Final validation accuracy against the learning rate for each optimiser, mean ± sd
    over seeds; a diverged run counts as 10% (chance)."""
    from matplotlib.figure import Figure

    summary = lr_summary(result)
    fig = Figure(figsize=(7.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    for name, rows in summary.items():
        lrs = [r["lr"] for r in rows]
        means = [r["val_accuracy"][0] for r in rows]
        sds = [r["val_accuracy"][1] for r in rows]
        line = ax.errorbar(
            lrs, means, yerr=sds, marker="o", ms=4, capsize=3, label=OPTIMIZER_NAMES[name]
        )
        for r in rows:
            if r["diverged"]:
                ax.plot(r["lr"], r["val_accuracy"][0], "x", color=line[0].get_color(), ms=9, mew=2)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="validation accuracy (%)", ylim=(0, 100))
    ax.set_title("After the same epochs: too small, right, too large (x = diverged)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def draw_optimizers(result: dict):
    """Each optimiser at its best learning rate: the loss per step (mean over seeds,
    smoothed) and the validation accuracy after each epoch."""
    from matplotlib.figure import Figure

    summary = lr_summary(result)
    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    for name, rows in summary.items():
        lr = best_lr(rows)["lr"]
        runs = [r for r in result["runs"] if r["optimizer"] == name and r["lr"] == lr]
        _, means, _ = _mean_curve([r["losses"] for r in runs])
        label = f"{OPTIMIZER_NAMES[name]}, lr {lr:.3g}"
        left.plot(range(1, len(means) + 1), _smooth(means, 10), lw=1, label=label)
        epochs, accs, sds = _mean_curve([[100 * v for v in r["val_accuracy"]] for r in runs])
        right.errorbar(epochs, accs, yerr=sds, marker="o", ms=4, capsize=3, label=label)
    left.set_yscale("log")
    left.set(xlabel="step", ylabel="train loss (log)")
    left.grid(alpha=0.3, which="both")
    left.legend(fontsize=7)
    right.set(xlabel="epoch", ylabel="validation accuracy (%)")
    right.grid(alpha=0.3)
    fig.suptitle("Each optimiser at its best learning rate of the grid", fontsize=10)
    return fig


NAIVE_COLOURS = {
    ("raw", "sd 0.01", 0.1): "#d62728",
    ("raw", "sd 0.01", 0.01): "#ff7f0e",
    ("raw", "sd 0.01", 0.001): "#bcbd22",
    ("scaled", "sd 0.01", 0.1): "#1f77b4",
    ("scaled", "He", 0.1): "#2ca02c",
}


def naive_key(run: dict) -> tuple:
    return run["inputs"], run["init"], run["lr"]


def naive_label(run: dict) -> str:
    pixels = "pixels 0-255" if run["inputs"] == "raw" else "pixels 0-1"
    return f"{pixels}, {run['init']}, lr {run['lr']:g}"


def draw_naive_steps(result: dict, seed: int = 0, last_step: int = 60):
    """The first steps of the network with weights of sd 0.01 and plain SGD, one seed, for
    each input scale and learning rate: the batch loss, the largest logit, the first layer's
    step relative to its weights, the share of dead units in the first and the last hidden
    layers, and the validation accuracy. Returns the Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 6.4), layout="constrained")
    axes = fig.subplots(3, 2, sharex=True).flat
    panels = (
        ("loss", "batch loss (log)", True),
        ("max_abs_logit", "largest |logit| (log)", True),
        ("update_ratio_1", "|dW1| / |W1| per step (log)", True),
        ("dead0", "dead units, hidden layer 1 (%)", False),
        ("dead-1", "dead units, last hidden layer (%)", False),
        ("val", "validation accuracy (%)", False),
    )
    runs = [r for r in result["runs"] if r["seed"] == seed and r["init"] == "sd 0.01"]
    for ax, (key, label, log_axis) in zip(axes, panels, strict=True):
        for run in runs:
            colour = NAIVE_COLOURS.get(naive_key(run), "k")
            if key == "val":
                pairs = [
                    (s, 100 * a)
                    for s, a in zip(
                        run["checks"]["step"], run["checks"]["val_accuracy"], strict=True
                    )
                    if s <= last_step
                ]
            elif key.startswith("dead"):
                layer = int(key[4:])
                pairs = [
                    (i + 1, 100 * d[layer])
                    for i, d in enumerate(run["steps"]["dead"])
                    if i < last_step and d[layer] is not None
                ]
            else:
                pairs = [(i + 1, v) for i, v in enumerate(run["steps"][key]) if i < last_step and v]
            if pairs:
                ax.plot(*zip(*pairs, strict=True), color=colour, lw=1.2, label=naive_label(run))
            if run["first_nonfinite_step"] and run["first_nonfinite_step"] <= last_step:
                ax.axvline(run["first_nonfinite_step"], color=colour, ls=":", lw=1)
        if log_axis:
            ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[4].set_xlabel("step")
    axes[5].set_xlabel("step")
    axes[0].legend(fontsize=7)
    fig.suptitle(
        f"784-512-256-128-10, weights of sd 0.01, plain SGD: the first {last_step} steps "
        f"(seed {seed}; dotted: the loss or the gradient overflowed)",
        fontsize=9,
    )
    return fig


def draw_naive_outcome(result: dict):
    """Validation accuracy at every check, every seed: pixels 0-255 at lr 0.1, the same
    network on pixels 0-1 (weights of sd 0.01, three epochs), and with He initialisation;
    the checks at which the network predicts a single class are marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = fig.add_subplot()
    shown = set()
    for run in result["runs"]:
        if run["lr"] != 0.1:
            continue
        colour = NAIVE_COLOURS.get(naive_key(run), "k")
        steps, accs = run["checks"]["step"], [100 * a for a in run["checks"]["val_accuracy"]]
        label = naive_label(run) if naive_key(run) not in shown else None
        shown.add(naive_key(run))
        ax.plot(steps, accs, color=colour, lw=1, alpha=0.8, label=label)
        one = [
            (s, a) for s, a, c in zip(steps, accs, run["checks"]["classes"], strict=True) if c == 1
        ]
        if one:
            ax.plot(
                *zip(*one, strict=True),
                "k.",
                ms=3,
                label=None if "one" in shown else "one class predicted",
            )
            shown.add("one")
    for boundary in (430, 860):
        ax.axvline(boundary, color="grey", lw=0.8, ls=":")
    ax.set(
        xlabel="step (dotted: the end of each epoch)",
        ylabel="validation accuracy (%)",
        ylim=(0, 100),
    )
    ax.set_title("Every seed, every check (each step to 30, then every 10th)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def draw_naive_gradients(result: dict, seed: int = 0):
    """The gradient norm of each layer's weights per step (smoothed over 10 steps), pixels
    0-1 and lr 0.1: weights of sd 0.01 against He initialisation. Returns the Figure."""
    from matplotlib.figure import Figure

    runs = [
        r
        for r in result["runs"]
        if r["seed"] == seed and r["inputs"] == "scaled" and r["lr"] == 0.1
    ]
    fig = Figure(figsize=(7.5, 3.0), layout="constrained")
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    for ax, run in zip(axes, sorted(runs, key=lambda r: r["init"], reverse=True), strict=True):
        norms = run["steps"]["layer_grad_norms"]
        for layer in range(len(norms[0])):
            values = [n[layer] if n[layer] else 1e-12 for n in norms]
            ax.plot(
                range(1, len(values) + 1),
                _smooth(values, 10),
                lw=1,
                label=f"layer {layer + 1}" + (" (output)" if layer == len(norms[0]) - 1 else ""),
            )
        ax.set_yscale("log")
        ax.set_title(naive_label(run), fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("|dL/dW| of each layer (log)")
    axes[0].legend(fontsize=7)
    return fig


# ---------------------------------------------------------------------------------- the script


def log(record: dict) -> None:
    print(json.dumps(record, default=str), flush=True)


def machine() -> dict:
    import numpy as np

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }


RUNNERS = {
    "overfitting": run_overfitting,
    "learning_rates": run_learning_rates,
    "naive": run_naive,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tiny smoke test (seconds)")
    parser.add_argument(
        "--only",
        choices=EXPERIMENTS,
        action="append",
        help="run only this experiment (repeatable); the others are kept",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for experiments.json")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    path = args.out / "experiments.json"
    document = json.loads(path.read_text()) if path.exists() and args.only else {}
    for name in args.only or EXPERIMENTS:
        started = time.perf_counter()
        meta = {
            "settings": json.loads(json.dumps(asdict(settings))),
            "quick": args.quick,
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "load_average_at_start": list(os.getloadavg()),
            "machine": machine(),
        }
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="x looks unscaled")
            result = RUNNERS[name](settings)
        meta["wall_time_s"] = time.perf_counter() - started
        meta["load_average_at_end"] = list(os.getloadavg())
        document[name] = {"meta": meta, **result}
        args.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
