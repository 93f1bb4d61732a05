"""The design the library did not take, measured: matrix products cut into a fixed partition.

Instead of choosing the BLAS thread count by timing (``threads="auto"``), each large product
of the classic MNIST network could be cut into blocks chosen from the shapes alone, each block
one single-threaded BLAS call, taken by a small pool of workers (the calling thread and one
helper per further core) as they come free. The bits would then never depend on the number
of workers, and a busy core would simply do fewer blocks.

One process trains four copies of the network, in turns, a slice of MNIST per turn:

- ``blas_default``: the products as they are, the BLAS library's own threads (one per core);
- ``blas_1``: the products as they are, one BLAS thread;
- ``partition_auto``: partitioned, one worker per core;
- ``partition_1``: partitioned, the calling thread alone (what partitioning itself costs).

Prints the median seconds per turn of each, the medians of the turn-by-turn ratios to
``blas_default`` and ``blas_1``, and whether the two partitioned copies ended bit-identical.

    python benchmarks/fixed_partition.py --turns 12 --samples 10000
    python benchmarks/fixed_partition.py --turns 12 --samples 10000 --background-load 1
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

from neural_network import Adam, MinMaxScaler, build_mlp, fit, load_mnist
from neural_network.core.layers import Dense

MIN_PARTITIONED_MACS = 1 << 23  # smaller products run whole
MIN_BLOCK, MAX_BLOCKS = 128, 8


def partition(m: int, n: int, k: int) -> list[tuple[int, int]] | None:
    """Blocks of output rows (``m >= n``) or columns of an ``(m, k) @ (k, n)`` product, from
    the shapes alone; ``None``: computed whole."""
    side = max(m, n)
    n_blocks = min(MAX_BLOCKS, side // MIN_BLOCK)
    if m * n * k < MIN_PARTITIONED_MACS or n_blocks < 2:
        return None
    return list(itertools.pairwise(np.linspace(0, side, n_blocks + 1).astype(int).tolist()))


class Job:
    """One product; blocks are claimed from a shared counter, the last one wakes the caller."""

    def __init__(self, a, b, out, blocks):
        self.a, self.b, self.out, self.blocks = a, b, out, blocks
        self.by_rows = a.shape[0] >= b.shape[1]
        self.claims, self.unfinished = itertools.count(), len(blocks)
        self.lock, self.done = threading.Lock(), threading.Event()

    def work(self) -> None:
        while (index := next(self.claims)) < len(self.blocks):
            start, stop = self.blocks[index]
            if self.by_rows:
                np.matmul(self.a[start:stop], self.b, out=self.out[start:stop])
            else:
                np.matmul(self.a, self.b[:, start:stop], out=self.out[:, start:stop])
            with self.lock:
                self.unfinished -= 1
                if self.unfinished == 0:
                    self.done.set()


class Pool:
    def __init__(self, workers: int):
        self.workers = workers
        self.queues = [queue.SimpleQueue() for _ in range(workers - 1)]
        for jobs in self.queues:
            threading.Thread(target=self.serve, args=(jobs,), daemon=True).start()

    @staticmethod
    def serve(jobs: queue.SimpleQueue) -> None:
        while True:
            jobs.get().work()

    def matmul(self, a, b, out=None):
        blocks = partition(a.shape[0], b.shape[1], a.shape[1])
        if blocks is None:
            return np.matmul(a, b, out=out)
        out = np.empty((a.shape[0], b.shape[1]), a.dtype) if out is None else out
        job = Job(a, b, out, blocks)
        for jobs in self.queues:
            jobs.put(job)
        job.work()
        job.done.wait()
        return out


def plain(a, b, out=None):
    return np.matmul(a, b, out=out)


def use_products(matmul) -> None:
    """Make Dense compute its three products with ``matmul``."""

    def forward(self, x, *, training=False):
        out = matmul(x, self.weight.value)
        out += self.bias.value
        self._x = x if training else None
        return out

    def backward(self, grad_out, *, input_grad=True):
        x = self._cached(self._x)
        matmul(x.T, grad_out, out=self.weight.grad)
        np.sum(grad_out, axis=0, out=self.bias.grad)
        return matmul(grad_out, self.weight.value.T) if input_grad else None

    Dense.forward, Dense.backward = forward, backward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=12)
    parser.add_argument("--samples", type=int, default=10000, help="training images per turn")
    parser.add_argument("--background-load", type=int, default=0, metavar="N")
    args = parser.parse_args()
    (x, labels), _ = load_mnist()
    x = MinMaxScaler().fit(x).transform(x)[: args.samples]
    labels = labels[: args.samples]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    # The BLAS thread count of each copy, pinned through fit's threads setting.
    copies = {
        "blas_default": (plain, cores),
        "blas_1": (plain, 1),
        "partition_auto": (Pool(cores).matmul, 1),
        "partition_1": (Pool(1).matmul, 1),
    }
    state = {}
    for name in copies:
        rng = np.random.default_rng(0)
        model = build_mlp(784, [512, 256, 128], 10, rng=rng)
        state[name] = [model, Adam(model.flat, lr=1e-3, l2=1e-4, clip_norm=5.0), rng, None]
    spin = "import os\nos.sched_setaffinity(0, {%d})\nwhile True: pass"
    load = [
        subprocess.Popen([sys.executable, "-c", spin % core])
        for core in sorted(os.sched_getaffinity(0))[::-1][: args.background_load]
    ]
    times: dict[str, list[float]] = {name: [] for name in copies}
    try:
        for _ in range(args.turns):
            for name, (matmul, blas_threads) in copies.items():
                time.sleep(0.3)  # let the previous copy's BLAS threads go quiet
                use_products(matmul)
                model, optimizer, rng, history = state[name]
                started = time.perf_counter()
                epochs = (len(history) if history else 0) + 1
                history = fit(model, x, labels, optimizer=optimizer, epochs=epochs, rng=rng,
                              history=history, threads=blas_threads)  # fmt: skip
                times[name].append(time.perf_counter() - started)
                state[name][3] = history
    finally:
        for process in load:
            process.kill()
    for name, seconds in times.items():
        ratios = {
            f"over_{other}": round(
                statistics.median(a / b for a, b in zip(seconds, times[other], strict=True)), 3
            )
            for other in ("blas_default", "blas_1")
        }
        print(
            json.dumps({"copy": name, "median_s": round(statistics.median(seconds), 4), **ratios})
        )
    same = np.array_equal(
        state["partition_auto"][0].flat.values, state["partition_1"][0].flat.values
    )
    print(json.dumps({"background_load": args.background_load, "partitions_bit_identical": same}))


if __name__ == "__main__":
    main()
