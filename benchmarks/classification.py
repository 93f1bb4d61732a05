"""Classification: this library's ``MLPClassifier`` against scikit-learn's, in one run, in turns.

Both get the same constructor arguments by scikit-learn's names (hidden layers, ReLU, Adam
at the same learning rate, the same mini-batch size, the same ``alpha``, the same number of
epochs with no early stopping), so both start from the same initial weights (ours draws
scikit-learn's by default); ours adds float32 training (``dtype="float32"``). Both see
the same standardised inputs, on a 75/25 split stratified by class. For each seed the two
fit in turns, so machine load falls on both alike; the script prints one JSON line per
dataset and model, with the held-out accuracy (mean and range over the seeds) and the
median fit time, then a Markdown table.

Datasets: scikit-learn's bundled digits (1,797 images of 8x8 pixels, 10 classes) and a
synthetic ``make_classification`` set (20,000 samples, 20 features, 5 classes).

    python benchmarks/classification.py
    python benchmarks/classification.py --seeds 5 --datasets synthetic
    python benchmarks/classification.py --solver lbfgs
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings

from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from neural_network import MLPClassifier

# name: (hidden layers, epochs, batch size, learning rate)
SETTINGS = {
    "digits": ((64,), 30, 32, 1e-3),
    "synthetic": ((128, 64), 20, 128, 1e-3),
}


def load(name: str, seed: int):
    if name == "digits":
        x, y = load_digits(return_X_y=True)
    else:
        x, y = make_classification(
            n_samples=20_000,
            n_features=20,
            n_informative=12,
            n_classes=5,
            n_clusters_per_class=2,
            random_state=seed,
        )
    return train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)


def models(name: str, seed: int, solver: str = "adam") -> dict:
    hidden, epochs, batch_size, lr = SETTINGS[name]
    shared = {
        "hidden_layer_sizes": hidden,
        "learning_rate_init": lr,
        "max_iter": epochs,
        "batch_size": batch_size,
        "alpha": 1e-4,
        "tol": 0.0,
        "n_iter_no_change": epochs,  # run every epoch
        "random_state": seed,
        "solver": solver,
    }
    if solver == "lbfgs":  # full-batch: max_iter counts iterations (scikit-learn's default)
        shared["max_iter"] = 200
    ours = MLPClassifier(
        **shared,
        dtype="float32",  # this library's fast path (by default it trains in X's float64)
    )
    return {
        "neural_network": make_pipeline(StandardScaler(), ours),
        "scikit-learn": make_pipeline(StandardScaler(), SklearnMLPClassifier(**shared)),
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
        for seed in range(args.seeds):
            x_train, x_test, y_train, y_test = load(name, seed)
            for label, model in models(name, seed, args.solver).items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    started = time.perf_counter()
                    model.fit(x_train, y_train)
                    seconds = time.perf_counter() - started
                record = results.setdefault(label, {"accuracy": [], "seconds": []})
                record["accuracy"].append(float(model.score(x_test, y_test)))
                record["seconds"].append(seconds)
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
                "accuracy_mean": statistics.mean(record["accuracy"]),
                "accuracy_min": min(record["accuracy"]),
                "accuracy_max": max(record["accuracy"]),
                "fit_seconds_median": statistics.median(record["seconds"]),
            }
            rows.append(row)
            print(json.dumps(row))
    print("\n| dataset | model | held-out accuracy (mean, min-max) | fit time (median) |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['dataset']} | {row['model']} | {row['accuracy_mean']:.3f} "
            f"({row['accuracy_min']:.3f}-{row['accuracy_max']:.3f}) | "
            f"{row['fit_seconds_median']:.2f} s |"
        )


if __name__ == "__main__":
    main()
