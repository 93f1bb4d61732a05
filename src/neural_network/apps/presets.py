"""Named training recipes; ``"best"`` trains a plain MLP to 99.3%+ on MNIST on two CPU cores.

A preset is a dict of settings in ``PRESETS``; :func:`train_preset` runs one end to end:
load MNIST, scale pixels to ``[0, 1]`` (divided by 255, one scale for every pixel, so that
distortions may move ink from one pixel to another), hold out the *last* ``validation_size``
training images for model selection, train with fresh distortions every epoch, keep the
epoch with the best validation accuracy, and only then measure the test set once. The test
set chooses nothing.

The ``"best"`` recipe (784-1024-1024-10 ReLU, Adam with a cosine schedule after a linear
warm-up, random affine maps plus Simard's elastic distortions on every batch, 60 epochs)
follows Simard et al. 2003 and Cireșan et al. 2010, scaled down to a CPU budget. What it
measures, and how it was chosen on validation accuracy alone, is in
``benchmarks/best_preset.py``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_optional_real
from ..core.model import Sequential, build_mlp
from ..data.augmentation import RandomDistortion
from ..data.mnist import load_mnist
from ..optim.optimizers import Adam
from ..optim.schedules import Cosine
from ..train.callbacks import (
    Augment,
    Callback,
    EarlyStopping,
    LRSchedule,
    MaxNorm,
    ProgressBar,
    TimeBudget,
)
from ..train.loop import evaluate, fit
from .run_folder import METRICS_FILE, MODEL_FILE, write_history, write_json

PRESETS: dict[str, dict[str, Any]] = {
    "best": {
        "dataset": "mnist",
        "hidden": [1024, 1024],
        "activation": "relu",
        "dropout": None,
        "lr": 1e-3,
        "min_lr": 1e-5,
        "warmup_epochs": 2,
        "epochs": 60,
        "batch_size": 128,
        "l2": 0.0,
        "clip_norm": None,
        "max_norm": None,
        "validation_size": 5000,
        "distortion": {
            "max_rotation": 10.0,
            "max_scale": 0.1,
            "max_shear": 10.0,
            "max_shift": 2.0,
            "elastic_alpha": 34.0,
            "elastic_sigma": 5.0,
        },
    },
}

LOADERS: dict[str, Callable[..., tuple]] = {"mnist": load_mnist}


def get_preset(name: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of preset ``name``'s settings, with ``overrides`` applied (a ``"distortion"``
    override replaces the whole distortion dict; ``None`` there switches distortions off).

    Raises:
        ValueError: for an unknown preset name or override key.
    """
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    settings = json.loads(json.dumps(PRESETS[name]))  # a deep copy
    for key, value in (overrides or {}).items():
        if key not in settings:
            raise ValueError(
                f"Unknown setting {key!r} for preset {name!r}; expected one of {sorted(settings)}"
            )
        settings[key] = value
    return settings


def train_preset(
    name: str = "best",
    *,
    out: str | os.PathLike | None = None,
    seed: int = 0,
    progress: bool = True,
    time_budget_s: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    evaluate_test: bool = True,
    threads: int | str = "auto",
) -> tuple[Sequential, dict[str, Any]]:
    """Train preset ``name`` and return the model (the best epoch's weights) and its metrics.

    Without a time budget and with ``threads`` pinned the run is fully determined by
    ``seed``: the weights, dropout, shuffling and distortions all come from
    ``np.random.default_rng(seed)``.

    With ``time_budget_s`` the run adapts to the machine: after each epoch it re-plans how
    many epochs fit in the time left (at the mean epoch time so far, with validation), at
    most the preset's ``epochs``, and the cosine schedule is stretched over that plan, so the
    learning rate still ends at ``min_lr`` when the time is up. The plan depends on timings,
    so such a run does not repeat bit for bit.

    Args:
        name: A key of ``PRESETS``.
        out: A run folder to write ``model.npz`` (a ``Sequential`` taking pixels / 255),
            ``metrics.json`` and ``history.json`` into (created if needed); ``None`` writes
            nothing.
        seed: Seed of the run's generator.
        progress: Show a progress bar over epochs.
        time_budget_s: Wall-time budget for the whole run, data loading and test included.
        overrides: Settings that replace the preset's (see :func:`get_preset`).
        evaluate_test: Measure the test set at the end (``False`` for tuning runs, which
            must not look at it).
        threads: BLAS threads, as :func:`~neural_network.fit` takes them: ``"auto"`` chooses
            by timing (results match to rounding), an integer pins the count (same bits).

    Returns:
        ``(model, metrics)``; ``metrics`` holds ``test_accuracy`` and ``test_loss`` (unless
        ``evaluate_test`` is false), ``validation_accuracy`` of the kept epoch,
        ``best_epoch``, ``epochs_run``, ``wall_time_s``, ``seconds_per_epoch``, the
        settings and the seed.
    """
    started = time.perf_counter()
    settings = get_preset(name, overrides)
    time_budget_s = check_optional_real("time_budget_s", time_budget_s, "(0, inf)")
    (x_train, y_train), (x_test, y_test) = LOADERS[settings["dataset"]]()
    x_train = (x_train / np.float32(255.0)).astype(np.float32)
    n_val = settings["validation_size"]
    x_fit, y_fit = x_train[:-n_val], y_train[:-n_val]
    x_val, y_val = x_train[-n_val:], y_train[-n_val:]

    rng = np.random.default_rng(seed)
    model = build_mlp(
        x_fit.shape[1],
        settings["hidden"],
        int(y_train.max()) + 1,
        activation=settings["activation"],
        dropout=settings["dropout"],
        rng=rng,
    )
    optimizer = Adam(
        model.flat, lr=settings["lr"], l2=settings["l2"], clip_norm=settings["clip_norm"]
    )
    best = EarlyStopping(patience=None, monitor="val_accuracy")  # keeps the best epoch
    # Without epochs=, the cosine spans the run: all epochs, or as many as the budget plans.
    schedule = Cosine(
        settings["lr"], min_lr=settings["min_lr"], warmup_epochs=settings["warmup_epochs"]
    )
    callbacks: list[Callback] = [LRSchedule(schedule), best]
    if settings["distortion"]:
        callbacks.append(Augment(RandomDistortion(**settings["distortion"])))
    if settings["max_norm"] is not None:
        callbacks.append(MaxNorm(settings["max_norm"]))
    if time_budget_s is not None:
        callbacks.append(TimeBudget(time_budget_s, started=started))
    if progress:
        callbacks.append(ProgressBar(desc=f"preset {name}"))
    loop_started = time.perf_counter()
    history = fit(
        model,
        x_fit,
        y_fit,
        optimizer=optimizer,
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        validation_data=(x_val, y_val),
        rng=rng,
        callbacks=callbacks,
        threads=threads,
    )
    train_time = time.perf_counter() - loop_started
    best_accuracy = history.val_accuracy[best.best_epoch - 1]

    metrics: dict[str, Any] = {"preset": name, "dataset": settings["dataset"], "seed": seed}
    if evaluate_test:
        test_loss, test_accuracy = evaluate(model, x_test / np.float32(255.0), y_test)
        metrics |= {"test_accuracy": test_accuracy, "test_loss": test_loss}
    metrics |= {
        "validation_accuracy": best_accuracy,
        "best_epoch": best.best_epoch,
        "epochs_run": len(history),
        "selected_on": "validation",
        "n_train": len(x_fit),
        "n_validation": n_val,
        "n_test": len(x_test),
        "wall_time_s": time.perf_counter() - started,
        "train_time_s": train_time,
        "seconds_per_epoch": train_time / max(len(history), 1),
        "threads": threads,
        "threads_per_epoch": history.threads,
        "step_time_s": history.step_time,
        "time_budget_s": time_budget_s,
        "input_scaling": "pixels / 255",
        "settings": settings,
    }
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        model.save(folder / MODEL_FILE)
        write_history(folder, history, csv_too=False)
        write_json(folder / METRICS_FILE, metrics)
    return model, metrics
