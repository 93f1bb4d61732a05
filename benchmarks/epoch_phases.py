"""Where an epoch of the classic MNIST network goes, and how far each part is from the machine.

Trains ``compare_speed.py``'s network (784-512-256-128-10 ReLU, Adam 1e-3, L2 1e-4, clip 5,
batch 128, float32, full MNIST, the test set evaluated after every epoch) with
``fit``, and times every call of each phase by wrapping the methods that make it up:

* products: ``Dense.forward`` and ``Dense.backward`` (the matrix products, with the bias
  add and the bias gradient's column sum);
* activations: the activation layers' ``forward`` and ``backward``;
* loss: the criterion's ``forward`` and ``backward``;
* update: ``optimizer.step()`` (L2, the global norm, clipping, Adam);
* thread chooser: ``ThreadChooser.before_step`` and ``after_step``;
* evaluation: the per-epoch ``evaluate`` of the test set;
* the rest of the loop (the gather of the batch, the accuracy count, Python) is the epoch
  time less all of these.

Then the machine's limit: the epoch's matrix-product FLOPs at the measured peak of a big
float32 product (``sgemm``, 2048 x 2048, on all cores the BLAS has), and the update's
bytes (every parameter-sized vector that must be read and written once: the gradient,
the weights, both moments) at the measured bandwidth of a big copy (256 MB, beyond any
cache) and of a copy the size of the update's vectors (which stay in the L3 cache).

Wrapping costs about a microsecond per call (a few per step); the epoch time printed is
what ``fit`` recorded with the wrappers in. Prints one JSON line per epoch, then the table
(median over the epochs after the first) and the limits as JSON lines, with the load
average at the start and the end::

    python benchmarks/epoch_phases.py --epochs 3
    python benchmarks/epoch_phases.py --epochs 3 --pytorch

``--pytorch`` also trains ``compare_speed.py``'s PyTorch run for as many epochs (after ours,
in the same process) and adds its column: autograd does not tell products, activations and
loss apart, so PyTorch's forward and backward are one figure ("products, activations and
loss"), its clipping and ``Adam.step`` the update, and its test-set evaluation (one forward
pass under ``no_grad``) the evaluation.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import statistics
import time
from collections import defaultdict

import numpy as np
from compare_speed import BATCH, CLIP, HIDDEN, L2, LR, torch_classic

PHASES = ("products", "activations", "loss", "update", "thread chooser", "evaluation")


def wrap(owner, name: str, phase: str, totals: dict) -> None:
    """Make ``owner.name`` add its run time to ``totals[phase]``."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[phase] += time.perf_counter() - started

    setattr(owner, name, timed)


def instrument(totals: dict) -> None:
    from neural_network.core import activations, layers, losses, threads
    from neural_network.optim import optimizers
    from neural_network.train import loop

    wrap(layers.Dense, "forward", "products", totals)
    wrap(layers.Dense, "backward", "products", totals)
    for cls in set(activations.ACTIVATIONS.values()):
        wrap(cls, "forward", "activations", totals)
        wrap(cls, "backward", "activations", totals)
    wrap(losses.SoftmaxCrossEntropy, "forward", "loss", totals)
    wrap(losses.SoftmaxCrossEntropy, "backward", "loss", totals)
    wrap(optimizers.Optimizer, "step", "update", totals)
    wrap(threads.ThreadChooser, "before_step", "thread chooser", totals)
    wrap(threads.ThreadChooser, "after_step", "thread chooser", totals)
    # evaluate's own forward passes count as evaluation, not as products or activations.
    original = loop.evaluate

    @functools.wraps(original)
    def timed_evaluate(*args, **kwargs):
        before = dict(totals)
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            for phase in PHASES:
                totals[phase] = before.get(phase, 0.0)
            totals["evaluation"] += time.perf_counter() - started

    loop.evaluate = timed_evaluate


def epoch_flops(n_train: int, n_test: int) -> tuple[float, float]:
    """Matrix-product FLOPs of one training epoch and of one evaluation of the test set."""
    sizes = (784, *HIDDEN, 10)
    pairs = list(itertools.pairwise(sizes))
    forward = sum(2 * a * b for a, b in pairs)
    weight_grads = forward
    input_grads = sum(2 * a * b for a, b in pairs[1:])  # the first layer's is skipped
    return n_train * (forward + weight_grads + input_grads), n_test * forward


def sgemm_peak(size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of ``repeats`` float32 products of two ``size`` squares."""
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    b = a.T.copy()
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * size**3 / best


def copy_bandwidth(n_bytes: int, repeats: int = 20) -> float:
    """Bytes/s moved (read plus write) by the best copy of an ``n_bytes`` float32 array."""
    source = np.ones(n_bytes // 4, dtype=np.float32)
    target = np.empty_like(source)
    np.copyto(target, source)
    best = min(_timed(lambda: np.copyto(target, source)) for _ in range(repeats))
    return 2 * n_bytes / best


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def pytorch_phases(x, y, x_test, y_test, epochs: int, seed: int) -> list[dict]:
    """Per-epoch seconds of PyTorch's forward+backward, update and test-set evaluation."""
    import torch

    x, x_test = torch.from_numpy(x), torch.from_numpy(x_test)
    y, y_test = torch.from_numpy(y.astype(np.int64)), torch.from_numpy(y_test.astype(np.int64))
    model, optimizer, loss_fn = torch_classic(seed)
    rows = []
    for _ in range(epochs):
        totals = defaultdict(float)
        started = time.perf_counter()
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            x_batch, y_batch = x[batch], y[batch]
            began = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_batch), y_batch)
            loss.backward()
            middle = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
            totals["products, activations and loss"] += middle - began
            totals["update"] += time.perf_counter() - middle
        seconds = time.perf_counter() - started
        began = time.perf_counter()
        with torch.no_grad():
            (model(x_test).argmax(1) == y_test).float().mean().item()
        totals["evaluation"] = time.perf_counter() - began
        totals["rest of the loop"] = (
            seconds - totals["update"] - totals["products, activations and loss"]
        )
        totals["epoch (fit's epoch_time)"] = seconds  # like fit's, without the evaluation
        rows.append(dict(totals))
        rounded = {key: round(value, 4) for key, value in totals.items()}
        print(json.dumps({"pytorch_epoch": len(rows), **rounded}))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", default="auto", help='"auto" or a count to pin')
    parser.add_argument("--pytorch", action="store_true", help="add PyTorch's phases")
    args = parser.parse_args()
    threads = args.threads if args.threads == "auto" else int(args.threads)
    load_start = os.getloadavg()

    from neural_network import Adam, Callback, MinMaxScaler, build_mlp, fit, load_mnist

    (x, y), (x_test, y_test) = load_mnist()
    scaler = MinMaxScaler().fit(x)
    x, x_test = scaler.transform(x), scaler.transform(x_test)
    totals: dict[str, float] = defaultdict(float)
    instrument(totals)
    rows: list[dict] = []

    class Record(Callback):
        def on_epoch_end(self, run) -> None:
            # fit evaluates the test set before this hook, so the epoch's row is complete.
            seconds = run.history.epoch_time[-1]
            row = {phase: totals[phase] for phase in PHASES}
            row["rest of the loop"] = seconds - sum(row[p] for p in PHASES if p != "evaluation")
            row["epoch (fit's epoch_time)"] = seconds
            row["threads"] = run.history.threads[-1]
            rows.append(row)
            print(json.dumps({"epoch": run.epoch, **{k: round(v, 4) for k, v in row.items()}}))
            totals.clear()

    rng = np.random.default_rng(args.seed)
    model = build_mlp(784, HIDDEN, 10, rng=rng)
    optimizer = Adam(model.flat, lr=LR, l2=L2, clip_norm=CLIP)
    fit(
        model, x, y, optimizer=optimizer, epochs=args.epochs, batch_size=BATCH, rng=rng,
        validation_data=(x_test, y_test), callbacks=[Record()], threads=threads,
    )  # fmt: skip

    kept = rows[1:] or rows  # the first epoch warms caches and the thread choice
    median = {key: statistics.median(row[key] for row in kept) for key in rows[0]}
    torch_median = {}
    if args.pytorch:
        torch_rows = pytorch_phases(x, y, x_test, y_test, args.epochs, args.seed)
        torch_kept = torch_rows[1:] or torch_rows
        torch_median = {k: statistics.median(r[k] for r in torch_kept) for k in torch_rows[0]}
    train_flops, eval_flops = epoch_flops(len(x), len(x_test))
    peak = sgemm_peak()
    vector_bytes = model.flat.values.nbytes
    steps = -(-len(x) // BATCH)
    # Adam must at least read g, w, m, v and write w, m, v once per step.
    update_bytes = 7 * vector_bytes * steps
    dram = copy_bandwidth(256 * 2**20)
    cache = copy_bandwidth(vector_bytes)
    limits = {
        "products": train_flops / peak,
        "update": update_bytes / dram,
        "evaluation": eval_flops / peak,
    }
    print(json.dumps({
        "sgemm_peak_gflops": round(peak / 1e9, 1),
        "copy_gb_per_s_256MB": round(dram / 1e9, 1),
        "copy_gb_per_s_vector_size": round(cache / 1e9, 1),
        "epoch_gflop": round(train_flops / 1e9, 1),
        "evaluation_gflop": round(eval_flops / 1e9, 1),
        "update_gb_per_epoch_at_7_vectors": round(update_bytes / 1e9, 2),
        "update_limit_s_in_cache": round(update_bytes / cache, 4),
    }))  # fmt: skip
    epochs = f"epochs 2-{len(rows)}" if len(rows) > 1 else "epoch 1"
    print(f"\n| phase | ours, median s/epoch ({epochs}) | PyTorch | machine limit s | ours/limit |")
    print("| --- | --- | --- | --- | --- |")
    rest = ("products, activations and loss", "update", "evaluation", "rest of the loop")
    torch_of = {"products": rest[0], **{k: k for k in rest[1:]}}
    torch_of["epoch (fit's epoch_time)"] = "epoch (fit's epoch_time)"
    for key, value in median.items():
        if key == "threads":
            continue
        limit = limits.get(key)
        bound = f"{limit:.3f}" if limit else ""
        ratio = f"{value / limit:.1f}x" if limit else ""
        theirs = torch_median.get(torch_of.get(key, ""))
        theirs = "" if theirs is None else f"{theirs:.3f}"
        if key == "products" and theirs:
            theirs += " (with activations and loss)"
        print(f"| {key} | {value:.3f} | {theirs} | {bound} | {ratio} |")
    print(json.dumps({"load_average_start": load_start, "load_average_end": os.getloadavg()}))


if __name__ == "__main__":
    main()
