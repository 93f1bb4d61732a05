"""Test accuracy of the classic network on Fashion-MNIST, with early stopping; one JSON line.

The network and settings are the classic usage's: 784-512-256-128-10 (ReLU, He init), Adam
(lr 1e-3), batch 128, coupled L2 1e-4 on the weights, gradients clipped to global norm 5,
float32, inputs min-max scaled with the scaler fitted on the training part only. Up to
``--epochs`` epochs; ``--val`` training samples, drawn at random, are held out, and
training stops after ``--patience`` epochs without a lower validation loss, keeping the best
epoch's weights. The test set is evaluated once, at the end.

The data comes from wherever :func:`neural_network.load_fashion_mnist` finds it: Debian's
``dataset-fashion-mnist`` package, the cache, or a download.

    python benchmarks/fashion_mnist.py
    python benchmarks/fashion_mnist.py --epochs 5 --seed 1
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from neural_network import (
    Adam,
    EarlyStopping,
    MinMaxScaler,
    build_mlp,
    evaluate,
    fit,
    load_fashion_mnist,
)

HIDDEN = (512, 256, 128)
LR, BATCH, L2, CLIP = 1e-3, 128, 1e-4, 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("--val", type=int, default=5_000, help="training samples held out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    (x_all, y_all), (x_test, y_test) = load_fashion_mnist()
    load_s = time.perf_counter() - started

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x_all))
    val_rows, train_rows = order[: args.val], order[args.val :]
    scaler = MinMaxScaler().fit(x_all[train_rows])
    x_train, y_train = scaler.transform(x_all[train_rows]), y_all[train_rows]
    x_val, y_val = scaler.transform(x_all[val_rows]), y_all[val_rows]

    model = build_mlp(784, HIDDEN, 10, rng=rng)
    early_stopping = EarlyStopping(patience=args.patience, monitor="val_loss")
    started = time.perf_counter()
    history = fit(
        model,
        x_train,
        y_train,
        optimizer=Adam(model.flat, lr=LR, l2=L2, clip_norm=CLIP),
        epochs=args.epochs,
        batch_size=BATCH,
        validation_data=(x_val, y_val),
        rng=rng,
        callbacks=[early_stopping],
    )
    train_s = time.perf_counter() - started
    test_loss, test_accuracy = evaluate(model, scaler.transform(x_test), y_test)
    best = early_stopping.best_epoch
    print(
        json.dumps(
            {
                "dataset": "fashion_mnist",
                "hidden": list(HIDDEN),
                "seed": args.seed,
                "n_train": len(train_rows),
                "n_val": len(val_rows),
                "max_epochs": args.epochs,
                "epochs_run": len(history),
                "best_epoch": best,
                "stopped_early": early_stopping.stopped,
                "val_accuracy_best": round(history.val_accuracy[best - 1], 4),
                "test_loss": round(test_loss, 4),
                "test_accuracy": round(test_accuracy, 4),
                "train_wall_s": round(train_s, 1),
                "median_epoch_s": round(float(np.median(history.epoch_time)), 2),
                "load_s": round(load_s, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
