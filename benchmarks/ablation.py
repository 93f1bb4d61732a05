"""The ablation: what each technique of the training recipe buys, measured on full MNIST.

"Neural Network from Scratch – Optimized Version" told a story: basic gradient descent gets
about 20%, and Adam, dropout, weight decay and clipping bring it to 97-98%. This script
measures that story with the 784-512-256-128-10 ReLU network:

1. a deliberately naive baseline: raw pixels 0-255, weights drawn with standard deviation
   0.01 (the ``randn * 0.01`` of many tutorials), plain SGD (no momentum) with a learning
   rate of 0.1, nothing else;
2. the techniques added one at a time, in the order a newcomer meets them: input scaling,
   He initialisation, Adam, L2, gradient clipping, learning-rate decay, early stopping,
   dropout (the last row is the full recipe);
3. each technique removed from the full recipe, one at a time.

Every row is trained with several seeds (0, 1, 2 by default) on the same 55,000 training
images; 5,000 more are held out for early stopping (rows without it keep their last epoch),
and the 10,000 test images are used once per run, at the end. It prints one JSON line per
run and writes ``benchmarks/results/ablation.json`` (every run and a summary per row,
with the machine's load average), ``ablation.md`` (the table), ``ablation.png`` (the
figure) and ``learning_curves.png`` (validation accuracy per epoch as the recipe is built up).

    python benchmarks/ablation.py                 # the full ablation (about 20 min, 2 cores)
    python benchmarks/ablation.py --jobs 4        # four runs at a time, one BLAS thread each
    python benchmarks/ablation.py --quick --out /tmp/ablation   # a smoke test: seconds
    python benchmarks/ablation.py --redraw        # the table and figures again, from the JSON
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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

# (key, the name a table prints) in the order the techniques are added.
TECHNIQUES = (
    ("scaling", "input scaling"),
    ("he_init", "He init"),
    ("adam", "Adam"),
    ("l2", "L2"),
    ("clipping", "clipping"),
    ("lr_decay", "lr decay"),
    ("early_stopping", "early stopping"),
    ("dropout", "dropout"),
)
NAMES = dict(TECHNIQUES)


@dataclass(frozen=True)
class Settings:
    """What every row shares: the network, the data sizes and the techniques' settings."""

    hidden: tuple[int, ...] = (512, 256, 128)
    epochs: int = 12
    batch_size: int = 128
    n_validation: int = 5000
    limit_train: int | None = None  # the first N training images (before the hold-out)
    limit_test: int | None = None
    lr: float = 1e-3  # Adam's
    sgd_lr: float = 0.1  # the poor learning rate of plain SGD
    naive_std: float = 0.01  # the badly scaled initialisation
    l2: float = 1e-4
    clip_norm: float = 5.0
    decay_factor: float = 0.5
    decay_every: int = 4
    patience: int = 3
    dropout: float = 0.2


FULL = Settings()
QUICK = Settings(
    hidden=(32,),
    epochs=2,
    n_validation=200,
    limit_train=1200,
    limit_test=400,
    decay_every=1,
    patience=1,
)


def recipes() -> list[tuple[str, frozenset[str]]]:
    """The rows: (label, techniques used), baseline first, then one added at a time (ending
    with the full recipe), then each removed from it."""
    keys = [key for key, _ in TECHNIQUES]
    rows = [("baseline", frozenset())]
    for i, key in enumerate(keys):
        rows.append((f"+ {NAMES[key]}", frozenset(keys[: i + 1])))
    full = frozenset(keys)
    rows += [(f"full - {NAMES[key]}", full - {key}) for key in keys]
    return rows


@functools.cache
def _mnist():
    from neural_network import load_mnist

    return load_mnist()


def load_data(settings: Settings):
    """(train, validation, test) splits of the bundled MNIST, raw uint8 pixels."""
    import numpy as np

    (x_train, y_train), (x_test, y_test) = _mnist()
    if settings.limit_train is not None:
        x_train, y_train = x_train[: settings.limit_train], y_train[: settings.limit_train]
    if settings.limit_test is not None:
        x_test, y_test = x_test[: settings.limit_test], y_test[: settings.limit_test]
    # The same hold-out for every run, drawn from a generator of its own.
    order = np.random.default_rng(2024).permutation(len(x_train))
    held, kept = np.sort(order[: settings.n_validation]), np.sort(order[settings.n_validation :])
    return (x_train[kept], y_train[kept]), (x_train[held], y_train[held]), (x_test, y_test)


def train_one(settings: Settings, label: str, used: frozenset[str], seed: int) -> dict:
    """Train one row's network with one seed; return its figures."""
    import numpy as np

    import neural_network as nn
    from neural_network.core.layers import Dense

    (x, y), (x_val, y_val), (x_test, y_test) = load_data(settings)
    if "scaling" in used:
        scaler = nn.MinMaxScaler().fit(x)
        x, x_val, x_test = (scaler.transform(a) for a in (x, x_val, x_test))
    else:
        x, x_val, x_test = (a.astype(np.float32) for a in (x, x_val, x_test))

    rng = np.random.default_rng(seed)
    model = nn.build_mlp(
        x.shape[1],
        list(settings.hidden),
        10,
        activation="relu",
        dropout=settings.dropout if "dropout" in used else None,
        init="he_normal",
        rng=rng,
    )
    if "he_init" not in used:
        for layer in model.layers:
            if isinstance(layer, Dense):  # in place: the weights are views of model.flat
                shape = layer.weight.value.shape
                layer.weight.value[...] = rng.standard_normal(shape) * settings.naive_std

    common = {
        "l2": settings.l2 if "l2" in used else 0.0,
        "clip_norm": settings.clip_norm if "clipping" in used else None,
    }
    if "adam" in used:
        optimizer = nn.Adam(model.flat, lr=settings.lr, **common)
    else:
        optimizer = nn.SGD(model.flat, lr=settings.sgd_lr, momentum=0.0, **common)
    callbacks = []
    if "lr_decay" in used:
        callbacks.append(
            nn.LRSchedule(nn.StepDecay(optimizer.lr, settings.decay_factor, settings.decay_every))
        )
    stopper = None
    if "early_stopping" in used:
        stopper = nn.EarlyStopping(patience=settings.patience, monitor="val_accuracy")
        callbacks.append(stopper)

    started = time.perf_counter()
    diverged = False
    try:
        # A diverging run overflows first; the unscaled rows are unscaled on purpose.
        with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="x looks unscaled")
            history = nn.fit(
                model,
                x,
                y,
                optimizer=optimizer,
                epochs=settings.epochs,
                batch_size=settings.batch_size,
                validation_data=(x_val, y_val),
                rng=rng,
                callbacks=callbacks,
            )
        epochs_run = len(history)
        val_curve = list(history.val_accuracy)
    except nn.TrainingDivergedError as error:
        # The model keeps its last finite weights; the run counts as what they score.
        diverged, epochs_run, val_curve = True, error.epoch, []
    wall = time.perf_counter() - started
    with np.errstate(over="ignore", invalid="ignore"):
        _, test_accuracy = nn.evaluate(model, x_test, y_test)
    return {
        "row": label,
        "techniques": sorted(used),
        "seed": seed,
        "test_accuracy": test_accuracy,
        "epochs_run": epochs_run,
        "best_epoch": stopper.best_epoch if stopper is not None else epochs_run,
        "diverged": diverged,
        "train_time_s": wall,
        "val_accuracy": val_curve,
    }


def _job(arguments) -> dict:
    return train_one(*arguments)


def summarize(runs: list[dict]) -> list[dict]:
    """Mean and standard deviation of test accuracy and time per row, in row order."""
    rows: dict[str, list[dict]] = {}
    for run in runs:
        rows.setdefault(run["row"], []).append(run)
    order = [label for label, _ in recipes()]
    summary = []
    for label in sorted(rows, key=order.index):
        group = rows[label]
        accuracies = [100 * r["test_accuracy"] for r in group]
        times = [r["train_time_s"] for r in group]
        summary.append(
            {
                "row": label,
                "techniques": group[0]["techniques"],
                "n_runs": len(group),
                "accuracy_mean": statistics.fmean(accuracies),
                "accuracy_sd": statistics.stdev(accuracies) if len(group) > 1 else 0.0,
                "time_mean_s": statistics.fmean(times),
                "time_sd_s": statistics.stdev(times) if len(group) > 1 else 0.0,
                "epochs_mean": statistics.fmean(r["epochs_run"] for r in group),
                "diverged": sum(r["diverged"] for r in group),
            }
        )
    return summary


def markdown_table(summary: list[dict]) -> str:
    """The summary as a Markdown table, one line per row."""
    lines = [
        "| row | test accuracy (%) | train time (s) | epochs run | diverged |",
        "| --- | --- | --- | --- | --- |",
    ]
    for row in summary:
        lines.append(
            f"| {row['row']} | {row['accuracy_mean']:.2f} ± {row['accuracy_sd']:.2f} "
            f"| {row['time_mean_s']:.1f} ± {row['time_sd_s']:.1f} | {row['epochs_mean']:.1f} "
            f"| {row['diverged']} of {row['n_runs']} |"
        )
    return "\n".join(lines) + "\n"


def draw_figure(summary: list[dict]):
    """Test error (100 - accuracy) of each row on a log scale, mean and standard deviation
    over seeds: the rows that add a technique above those that remove one. On a linear
    accuracy axis the rows between 97% and 99% would look alike. Returns the Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    labels = [row["row"] for row in summary]
    errors = [max(100 - row["accuracy_mean"], 1e-2) for row in summary]
    sds = [row["accuracy_sd"] for row in summary]
    colours = [
        "#7f7f7f" if label == "baseline" else "#1f77b4" if label.startswith("+") else "#d62728"
        for label in labels
    ]
    fig = Figure(figsize=(7.5, 0.3 * len(labels) + 1.4), layout="constrained")
    ax = fig.add_subplot()
    positions = list(range(len(labels)))[::-1]
    for y, error, sd, colour, row in zip(positions, errors, sds, colours, summary, strict=True):
        low = min(sd, error * 0.9)  # the lower whisker must stay positive on a log axis
        ax.errorbar(error, y, xerr=[[low], [sd]], fmt="o", color=colour, capsize=3)
        ax.text(error * 1.12, y + 0.15, f"{row['accuracy_mean']:.2f}%", fontsize=7)
    ax.set_xscale("log")
    ax.set_yticks(positions, labels, fontsize=8)
    low = min(errors) / 1.5
    ax.set_xlim(low, 100)  # an error above 100% does not exist
    # Labelled ticks where the data is: a log axis labels only its decades by default, and
    # the rows between 1% and 10% error would sit between two labels.
    ticks = [t for t in (0.5, 1, 1.5, 2, 3, 5, 10, 20, 50, 100) if t >= low]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("test error (%), log scale: mean ± sd over seeds; labels: accuracy")
    ax.set_title("Each technique added (blue), and removed from the full recipe (red)")
    ax.grid(axis="x", alpha=0.3, which="both")
    return fig


CURVE_ROWS = ("baseline", "+ input scaling", "+ He init", "+ Adam", "+ dropout")


def draw_curves(runs: list[dict]):
    """Validation accuracy per epoch, mean over seeds, for the rows that build the recipe up
    to its first working form and for the full recipe: on the left the whole 0-100% range
    (the baseline against the rest), on the right the same curves zoomed on 95-99%, where
    the rows that work differ. Returns the matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    whole, zoom = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.25]})
    for label in CURVE_ROWS:
        curves = [run["val_accuracy"] for run in runs if run["row"] == label]
        if not curves:
            continue
        length = max(len(curve) for curve in curves)
        epochs, means = [], []
        for epoch in range(length):
            values = [curve[epoch] for curve in curves if epoch < len(curve)]
            epochs.append(epoch + 1)
            means.append(100 * statistics.fmean(values))
        if not means:  # every run diverged in its first epoch: chance, drawn at epoch 1
            tests = [100 * run["test_accuracy"] for run in runs if run["row"] == label]
            epochs, means = [1], [statistics.fmean(tests)]
        name = "full recipe" if label == "+ dropout" else label
        for ax in (whole, zoom):
            ax.plot(epochs, means, marker="o", markersize=3, label=name)
    whole.set(xlabel="epoch", ylabel="validation accuracy (%)", ylim=(0, 100), title="0-100%")
    zoom.set(xlabel="epoch", ylim=(95, 99), title="zoomed on 95-99%")
    whole.axhspan(95, 99, color="grey", alpha=0.15, lw=0)
    for ax in (whole, zoom):
        ax.grid(alpha=0.3)
    zoom.legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "MNIST, 784-512-256-128-10: the recipe built up one technique at a time (mean over seeds)",
        fontsize=10,
    )
    return fig


def write_results(out: Path, meta: dict, runs: list[dict], *, figure: bool) -> list[dict]:
    """Write ablation.json, ablation.md and (if ``figure``) ablation.png into ``out``; return
    the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(runs)
    document = {"meta": meta, "summary": summary, "runs": runs}
    (out / "ablation.json").write_text(json.dumps(document, indent=1) + "\n")
    (out / "ablation.md").write_text(markdown_table(summary))
    if figure:
        draw_figure(summary).savefig(out / "ablation.png", dpi=110)
        draw_curves(runs).savefig(out / "learning_curves.png", dpi=110)
    return summary


def machine() -> dict:
    import numpy as np

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="runs per row (seeds 0..N-1)")
    parser.add_argument("--epochs", type=int, help=f"epochs per run (default {FULL.epochs})")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time (one BLAS thread each)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke test (seconds)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument(
        "--redraw", action="store_true", help="only redraw the table and figures from ablation.json"
    )
    args = parser.parse_args(argv)
    if args.redraw:
        document = json.loads((args.out / "ablation.json").read_text())
        summary = write_results(args.out, document["meta"], document["runs"], figure=True)
        print(markdown_table(summary), end="")
        return 0
    if args.seeds < 1 or args.jobs < 1 or (args.epochs is not None and args.epochs < 1):
        parser.error("--seeds, --epochs and --jobs must be positive")
    settings = QUICK if args.quick else FULL
    if args.epochs is not None:
        settings = Settings(**{**settings.__dict__, "epochs": args.epochs})
    if args.jobs > 1:
        # Set before the workers start (they are spawned and import NumPy afresh), so that
        # the runs do not fight over the cores with one BLAS thread per core each.
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = "1"

    jobs = [
        (settings, label, used, seed) for label, used in recipes() for seed in range(args.seeds)
    ]
    meta = {
        "settings": {**settings.__dict__, "hidden": list(settings.hidden)},
        "seeds": args.seeds,
        "jobs": args.jobs,
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_average_at_start": list(os.getloadavg()),
        "machine": machine(),
    }
    runs: list[dict] = []
    started = time.perf_counter()

    def record(run: dict) -> None:
        runs.append(run)
        print(json.dumps({k: v for k, v in run.items() if k != "val_accuracy"}), flush=True)
        meta["load_average_now"] = list(os.getloadavg())
        meta["load_average_max"] = max(meta.get("load_average_max", 0.0), os.getloadavg()[0])
        meta["wall_time_s"] = time.perf_counter() - started
        write_results(args.out, meta, runs, figure=False)  # so far, in case of a crash

    if args.jobs == 1:
        for job in jobs:
            record(train_one(*job))
    else:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=context) as pool:
            for run in pool.map(_job, jobs):
                record(run)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    meta["load_average_at_end"] = list(os.getloadavg())
    summary = write_results(args.out, meta, runs, figure=True)
    print(markdown_table(summary), end="")
    failed = [row["row"] for row in summary if not math.isfinite(row["accuracy_mean"])]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
