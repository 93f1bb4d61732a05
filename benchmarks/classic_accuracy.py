"""Test accuracy of the classic usage (examples/classic_usage.py) on the bundled MNIST, over seeds.

Prints one JSON line per run (test accuracy, epochs run, best epoch, wall time, median
seconds per epoch, the BLAS threads each epoch used) and a summary line (mean, min, max).
With threads chosen by timing (the default) the same seed can end differently from one run
to the next on one machine, so the spread of the classic usage as written is that of
repeated runs of seed 42:

    python benchmarks/classic_accuracy.py --seeds 42 --repeats 5
    python benchmarks/classic_accuracy.py --seeds 42 0 1
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from neural_network import NeuralNetwork, load_mnist, one_hot_encode


def run(seed: int) -> dict:
    (x_train, y_train), (x_test, y_test) = load_mnist()
    X_train, X_test = x_train.T, x_test.T
    y_train, y_test = one_hot_encode(y_train, 10), one_hot_encode(y_test, 10)
    started = time.perf_counter()
    nn = NeuralNetwork(
        X=X_train,
        y=y_train,
        X_test=X_test,
        y_test=y_test,
        activation="relu",
        num_labels=10,
        architecture=[512, 256, 128],
        seed=seed,
    )
    history = nn.fit(
        lr=1e-3,
        epochs=30,
        batch_size=128,
        lam=1e-4,
        dropout_keep=1.0,
        grad_clip=5.0,
        early_stopping_patience=8,
        verbose=False,
    )
    wall = time.perf_counter() - started
    best = max(range(len(history)), key=lambda i: history.val_accuracy[i])
    return {
        "seed": seed,
        "test_accuracy": round(nn.accuracy(X_test, y_test), 4),
        "epochs_run": len(history),
        "best_epoch": history.epoch[best],
        "wall_s": round(wall, 1),
        "median_epoch_s": round(statistics.median(history.epoch_time), 3),
        "threads": sorted(set(history.threads)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1])
    parser.add_argument("--repeats", type=int, default=1, help="runs of each seed")
    args = parser.parse_args()
    accuracies = []
    for seed in [seed for seed in args.seeds for _ in range(args.repeats)]:
        result = run(seed)
        accuracies.append(result["test_accuracy"])
        print(json.dumps(result), flush=True)
    print(
        json.dumps(
            {
                "seeds": args.seeds,
                "runs": len(accuracies),
                "mean_test_accuracy": round(statistics.mean(accuracies), 4),
                "min": min(accuracies),
                "max": max(accuracies),
            }
        )
    )


if __name__ == "__main__":
    main()
