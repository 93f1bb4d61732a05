"""Regression: this library's ``MLPRegressor`` against scikit-learn's, in one run, in turns.

Both get the same constructor arguments by scikit-learn's names (hidden layers, ReLU, Adam at
the same learning rate, the same mini-batch size, the same ``alpha``, the same number of
epochs with no early stopping), so both start from the same initial weights (ours draws
scikit-learn's by default); ours trains in float32 (``dtype="float32"``). Both see the same
standardised inputs and standardised targets (ours by ``standardize_targets``,
scikit-learn's through ``TransformedTargetRegressor``), on a 75/25 split. For each seed the
two fit in turns, so machine load falls on both alike; the script prints one JSON line per
dataset and model, with the held-out R² (mean and range over the seeds) and the median fit
time, then a Markdown table.

    python benchmarks/regression.py
    python benchmarks/regression.py --seeds 5 --datasets friedman1
    python benchmarks/regression.py --solver lbfgs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import fetch_california_housing, load_diabetes, make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neural_network import MLPRegressor

# name: (hidden layers, epochs, batch size, learning rate)
SETTINGS = {
    "diabetes": ((64,), 20, 32, 1e-3),
    "friedman1": ((64, 64), 40, 128, 1e-3),
    "california": ((64, 64), 40, 128, 1e-3),
}
ALPHA = 1e-4  # both libraries' L2: 0.5 * alpha * |W|^2 / batch size per batch


def load(name: str, seed: int):
    if name == "diabetes":
        x, y = load_diabetes(return_X_y=True)
    elif name == "friedman1":
        x, y = make_friedman1(n_samples=20_000, n_features=10, noise=1.0, random_state=seed)
    else:
        x, y = fetch_california_housing(return_X_y=True, download_if_missing=False)
    return train_test_split(x, y, test_size=0.25, random_state=seed)


def models(name: str, seed: int, solver: str = "adam") -> dict:
    hidden, epochs, batch_size, lr = SETTINGS[name]
    # The same constructor arguments, by scikit-learn's names, for both.
    shared = {
        "hidden_layer_sizes": hidden,
        "learning_rate_init": lr,
        "max_iter": epochs,
        "batch_size": batch_size,
        "alpha": ALPHA,
        "tol": 0.0,
        "n_iter_no_change": epochs,  # run every epoch
        "random_state": seed,
        "solver": solver,
    }
    if solver == "lbfgs":  # full-batch: max_iter counts iterations (scikit-learn's default)
        shared["max_iter"] = 200
    ours = MLPRegressor(
        **shared,
        dtype="float32",  # this library's fast path (by default it trains in X's float64)
    )
    theirs = TransformedTargetRegressor(SklearnMLPRegressor(**shared), transformer=StandardScaler())
    return {
        "neural_network": make_pipeline(StandardScaler(), ours),
        "scikit-learn": make_pipeline(StandardScaler(), theirs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="splits and initialisations")
    parser.add_argument("--datasets", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--solver", default="adam", choices=["adam", "sgd", "lbfgs"])
    args = parser.parse_args(argv)

    rows = []
    for name in args.datasets:
        results: dict[str, dict[str, list[float]]] = {}
        try:
            for seed in range(args.seeds):
                x_train, x_test, y_train, y_test = load(name, seed)
                for label, model in models(name, seed, args.solver).items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        started = time.perf_counter()
                        model.fit(x_train, y_train)
                        seconds = time.perf_counter() - started
                    record = results.setdefault(label, {"r2": [], "seconds": []})
                    record["r2"].append(float(model.score(x_test, y_test)))
                    record["seconds"].append(seconds)
        except OSError as error:
            print(json.dumps({"dataset": name, "skipped": str(error)}))
            continue
        hidden, epochs, batch_size, _ = SETTINGS[name]
        for label, record in results.items():
            row = {
                "dataset": name,
                "model": label,
                "solver": args.solver,
                "n_train": len(x_train),
                "hidden": list(hidden),
                "epochs": epochs,
                "batch_size": batch_size,
                "r2_mean": statistics.mean(record["r2"]),
                "r2_min": min(record["r2"]),
                "r2_max": max(record["r2"]),
                "fit_seconds_median": statistics.median(record["seconds"]),
            }
            rows.append(row)
            print(json.dumps(row))
    print("\n| dataset | model | held-out R² (mean, min-max) | fit time (median) |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['dataset']} | {row['model']} | {row['r2_mean']:.3f} "
            f"({row['r2_min']:.3f}-{row['r2_max']:.3f}) | {row['fit_seconds_median']:.2f} s |"
        )


if __name__ == "__main__":
    main()
