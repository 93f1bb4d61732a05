"""Seconds per epoch of the seed's network on MNIST: this library vs PyTorch vs scikit-learn.

Every implementation trains 784-512-256-128-10 (ReLU) with Adam (lr 1e-3), batch 128,
coupled L2 1e-4 on the weights, float32, on the full bundled MNIST scaled to [0, 1]. Ours and
PyTorch also clip the gradient to global norm 5 (scikit-learn cannot). Each runs in its own
process, so peak RSS is its own; PyTorch gets 2 threads and flush-to-zero. One JSON line per
implementation, then one with the ratio ours/PyTorch of the median epoch times.

    python benchmarks/compare_speed.py --epochs 30
    python benchmarks/compare_speed.py --epochs 3 --impl ours
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HIDDEN = (512, 256, 128)
LR, BATCH, L2, CLIP = 1e-3, 128, 1e-4, 5.0


def load_data():
    from neural_network import MinMaxScaler, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    scaler = MinMaxScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def run_ours(epochs: int, seed: int) -> dict:
    from neural_network import Adam, build_mlp, evaluate, fit

    x, y, x_test, y_test = load_data()
    rng = np.random.default_rng(seed)
    model = build_mlp(784, HIDDEN, 10, rng=rng)
    history = fit(
        model,
        x,
        y,
        optimizer=Adam(model.flat, lr=LR),
        epochs=epochs,
        batch_size=BATCH,
        l2=L2,
        clip_norm=CLIP,
        rng=rng,
    )
    return {"epoch_s": history.epoch_time, "test_accuracy": evaluate(model, x_test, y_test)[1]}


def run_torch(epochs: int, seed: int) -> dict:
    import torch

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
    x, y, x_test, y_test = load_data()
    x, x_test = torch.from_numpy(x), torch.from_numpy(x_test)
    y, y_test = torch.from_numpy(y.astype(np.int64)), torch.from_numpy(y_test.astype(np.int64))
    sizes = (784, *HIDDEN)
    layers: list[torch.nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    # Adam's weight_decay adds wd * w to the gradient: the same coupled L2 as ours.
    optimizer = torch.optim.Adam(
        [{"params": weights, "weight_decay": L2}, {"params": biases, "weight_decay": 0.0}], lr=LR
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    epoch_s = []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
        epoch_s.append(time.perf_counter() - started)
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    return {"epoch_s": epoch_s, "test_accuracy": accuracy}


def run_sklearn(epochs: int, seed: int) -> dict:
    from sklearn.neural_network import MLPClassifier

    x, y, x_test, y_test = load_data()
    # scikit-learn divides its L2 term by the batch size: alpha = l2 * batch gives ours.
    clf = MLPClassifier(
        HIDDEN,
        solver="adam",
        learning_rate_init=LR,
        batch_size=BATCH,
        alpha=L2 * BATCH,
        random_state=seed,
    )
    epoch_s = []
    for _ in range(epochs):
        started = time.perf_counter()
        clf.partial_fit(x, y, classes=np.arange(10))
        epoch_s.append(time.perf_counter() - started)
    return {"epoch_s": epoch_s, "test_accuracy": float(clf.score(x_test, y_test))}


RUNNERS = {"ours": run_ours, "pytorch": run_torch, "sklearn": run_sklearn}
MODULES = {"ours": "neural_network", "pytorch": "torch", "sklearn": "sklearn"}


def child(impl: str, epochs: int, seed: int) -> None:
    result = RUNNERS[impl](epochs, seed)
    times = result["epoch_s"]
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "impl": impl,
                "epochs": epochs,
                "median_epoch_s": round(median, 4),
                "slowest_over_median": round(max(times) / median, 3),
                "epoch_s": [round(t, 4) for t in times],
                "samples_per_s": round(60_000 / median),
                "test_accuracy": round(result["test_accuracy"], 4),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--impl", nargs="+", choices=sorted(RUNNERS), default=list(RUNNERS))
    parser.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs, args.seed)
        return
    medians = {}
    for impl in args.impl:
        if importlib.util.find_spec(MODULES[impl]) is None:
            print(json.dumps({"impl": impl, "skipped": f"{MODULES[impl]} is not installed"}))
            continue
        out = (
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    impl,
                    "--epochs",
                    str(args.epochs),
                    "--seed",
                    str(args.seed),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        print(out, flush=True)
        medians[impl] = json.loads(out)["median_epoch_s"]
    if "ours" in medians and "pytorch" in medians:
        ratio = medians["ours"] / medians["pytorch"]
        print(json.dumps({"ratio_ours_over_pytorch": round(ratio, 3)}))


if __name__ == "__main__":
    main()
