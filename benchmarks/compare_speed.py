"""Seconds per epoch of the classic MNIST network: this library vs PyTorch vs scikit-learn.

Every implementation trains 784-512-256-128-10 (ReLU) with Adam (lr 1e-3), batch 128,
coupled L2 1e-4 on the weights, float32, on the full bundled MNIST scaled to [0, 1]. Ours and
PyTorch also clip the gradient to global norm 5 (scikit-learn cannot). PyTorch keeps its default
number of threads (one per core) and gets flush-to-zero. "ours" chooses its BLAS threads
(``threads="auto"``); "ours-1thread" pins one (``threads=1``).

Each implementation runs in its own process (so peak RSS is its own), and the processes take
turns epoch by epoch: one trains an epoch while the others wait, idle. A shared machine's
speed drifts by 20% or more over minutes; taking turns gives every implementation the same
drift, so the ratio holds even when the absolute times do not.

Prints one JSON line per implementation (median and per-epoch seconds, the slowest epoch
over the median, the late epochs over the early ones, samples/s, test accuracy, peak RSS),
then the ratio of ours to each other implementation: of the median epoch times, and the
median of the per-epoch ratios.

    python benchmarks/compare_speed.py --epochs 30
    python benchmarks/compare_speed.py --epochs 3 --impl ours pytorch
    python benchmarks/compare_speed.py --epochs 6 --impl ours --baseline /tmp/before/src
    python benchmarks/compare_speed.py --epochs 6 --impl ours ours-1thread pytorch \
        --background-load 1

``--background-load N`` starts N busy processes, each spinning on one core (the last ones),
for the whole comparison, as another program on a user's machine would; they stop when the
comparison ends (or after ``MAX_LOAD_S`` at the latest, or when this script dies).

``--baseline SRC`` adds "baseline": this library as it is in another source tree (say a git
worktree of an earlier commit, its ``src`` folder), run the same way, so that a change's speed
is measured against the code before it in one run; the ratio ours/baseline is printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HIDDEN = (512, 256, 128)
LR, BATCH, L2, CLIP = 1e-3, 128, 1e-4, 5.0
SETTLE_S = 0.5
MAX_LOAD_S = 4 * 3600
SPIN = """
import os, sys, time
core, deadline, parent = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {core})
while time.time() < deadline and os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


def load_data():
    from neural_network import MinMaxScaler, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    scaler = MinMaxScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def announce_ready() -> None:
    """Tell the parent that the data is loaded and the model built."""
    print(json.dumps({"ready": True}), flush=True)


def wait_for_turn() -> None:
    """Block until the parent says "go" (one line on stdin)."""
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("parent went away")


def report_epoch(seconds: float) -> None:
    print(json.dumps({"epoch_s": seconds}), flush=True)


def run_ours(epochs: int, seed: int, threads: int | str = "auto") -> float:
    import neural_network
    from neural_network import Adam, build_mlp, evaluate, fit

    x, y, x_test, y_test = load_data()
    rng = np.random.default_rng(seed)
    model = build_mlp(784, HIDDEN, 10, rng=rng)

    def take_turns(epoch: int, history) -> None:
        report_epoch(history.epoch_time[-1])
        if epoch < epochs:
            wait_for_turn()

    announce_ready()
    wait_for_turn()
    if threads != "auto":  # a baseline has no threads setting; pin the BLAS library itself
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads, user_api="blas")
    if not hasattr(neural_network, "Callback"):  # a baseline from before the callback API
        fit(model, x, y, optimizer=Adam(model.flat, lr=LR), epochs=epochs, batch_size=BATCH,
            l2=L2, clip_norm=CLIP, rng=rng, callbacks=[take_turns])  # fmt: skip
        return evaluate(model, x_test, y_test)[1]

    class TakeTurns(neural_network.Callback):
        def on_epoch_end(self, run) -> None:
            if hasattr(run.history, "threads"):
                print(json.dumps({"threads": run.history.threads[-1]}), flush=True)
            take_turns(run.epoch, run.history)

    fit(
        model,
        x,
        y,
        optimizer=Adam(model.flat, lr=LR, l2=L2, clip_norm=CLIP),
        epochs=epochs,
        batch_size=BATCH,
        rng=rng,
        callbacks=[TakeTurns()],
        **({"threads": threads} if "threads" in inspect.signature(fit).parameters else {}),
    )
    return evaluate(model, x_test, y_test)[1]


def torch_classic(seed: int):
    """PyTorch's twin of ours, seeded and with flush-to-zero: the network, Adam with coupled L2
    on the weights only, and the loss. ``epoch_phases.py --pytorch`` trains the same one."""
    import torch

    torch.set_flush_denormal(True)
    torch.manual_seed(seed)
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
    return model, optimizer, torch.nn.CrossEntropyLoss()


def run_torch(epochs: int, seed: int) -> float:
    import torch

    x, y, x_test, y_test = load_data()
    x, x_test = torch.from_numpy(x), torch.from_numpy(x_test)
    y, y_test = torch.from_numpy(y.astype(np.int64)), torch.from_numpy(y_test.astype(np.int64))
    model, optimizer, loss_fn = torch_classic(seed)
    announce_ready()
    for _ in range(epochs):
        wait_for_turn()
        started = time.perf_counter()
        order = torch.randperm(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
            optimizer.step()
        report_epoch(time.perf_counter() - started)
    with torch.no_grad():
        return (model(x_test).argmax(1) == y_test).float().mean().item()


def run_sklearn(epochs: int, seed: int) -> float:
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
    announce_ready()
    for _ in range(epochs):
        wait_for_turn()
        started = time.perf_counter()
        clf.partial_fit(x, y, classes=np.arange(10))
        report_epoch(time.perf_counter() - started)
    return float(clf.score(x_test, y_test))


def run_ours_1thread(epochs: int, seed: int) -> float:
    return run_ours(epochs, seed, threads=1)


RUNNERS = {
    "ours": run_ours,
    "ours-1thread": run_ours_1thread,
    "baseline": run_ours,
    "pytorch": run_torch,
    "sklearn": run_sklearn,
}
MODULES = {"ours": "neural_network", "pytorch": "torch", "sklearn": "sklearn"}
MODULES["ours-1thread"] = MODULES["ours"]


def child(impl: str, epochs: int, seed: int) -> None:
    accuracy = RUNNERS[impl](epochs, seed)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"test_accuracy": accuracy, "peak_rss_mb": peak_rss_mb}), flush=True)


def late_over_early(times: list[float]) -> float:
    """Median of the last third of the epochs over that of the first third after epoch 1
    (which also loads and compiles): above 1 when training slows down as it goes on (say,
    denormals piling up), unlike one slow epoch from a busy moment of the machine."""
    third = max(1, (len(times) - 1) // 3)
    return statistics.median(times[-third:]) / statistics.median(times[1 : 1 + third])


def summary(impl: str, times: list[float], final: dict, threads: list[int]) -> dict:
    median = statistics.median(times)
    chosen = {"threads_per_epoch": threads} if threads else {}
    return {
        "impl": impl,
        "epochs": len(times),
        "median_epoch_s": round(median, 4),
        "slowest_over_median": round(max(times) / median, 3),
        "late_over_early": round(late_over_early(times), 3),
        "epoch_s": [round(t, 4) for t in times],
        "samples_per_s": round(60_000 / median),
        "test_accuracy": round(final["test_accuracy"], 4),
        "peak_rss_mb": round(final["peak_rss_mb"], 1),
        **chosen,
    }


def read_message(process: subprocess.Popen, threads: list[int] | None = None) -> dict:
    """The next message of a child; ``threads`` collects the thread counts it reports."""
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"benchmark process exited early (status {process.wait()})")
        message = json.loads(line)
        if "threads" not in message:
            return message
        if threads is not None:
            threads.append(message["threads"])


def start_background_load(n_cores: int) -> list[subprocess.Popen]:
    """``n_cores`` processes spinning, each on one of the last cores."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cores = cores or list(range(os.cpu_count() or 1))
    deadline = time.time() + MAX_LOAD_S
    return [
        subprocess.Popen([sys.executable, "-c", SPIN, str(core), str(deadline), str(os.getpid())])
        for core in cores[::-1][:n_cores]
    ]


def compare(
    impls: list[str], *, epochs: int, seed: int, baseline: str | None, background_load: int = 0
) -> dict[str, dict]:
    """Time ``impls`` (and "baseline" when ``baseline`` names a source tree) in turns, print a
    line for each, then the ratios of ours to the others; returns the summaries."""
    impls = list(impls) + (["baseline"] if baseline else [])
    load = start_background_load(background_load)
    try:
        processes = {}
        for impl in impls:
            env = dict(os.environ)
            if impl == "baseline":
                env["PYTHONPATH"] = os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")]))
            elif importlib.util.find_spec(MODULES[impl]) is None:
                print(json.dumps({"impl": impl, "skipped": f"{MODULES[impl]} is not installed"}))
                continue
            command = [sys.executable, __file__, "--child", impl]
            command += ["--epochs", str(epochs), "--seed", str(seed)]
            processes[impl] = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
            )
        for process in processes.values():
            read_message(process)  # "ready": every process has loaded its data before epoch 1
        times: dict[str, list[float]] = {impl: [] for impl in processes}
        threads: dict[str, list[int]] = {impl: [] for impl in processes}
        for _ in range(epochs):
            for impl, process in processes.items():
                # Thread pools spin for a while after their last job (OpenBLAS for about
                # 0.1 s); let the previous process's go quiet before the next one starts.
                time.sleep(SETTLE_S)
                process.stdin.write("go\n")
                process.stdin.flush()
                times[impl].append(read_message(process, threads[impl])["epoch_s"])
        results = {}
        for impl, process in processes.items():
            final = read_message(process, threads[impl])
            results[impl] = summary(impl, times[impl], final, threads[impl])
            process.wait()
            print(json.dumps({"background_load": background_load, **results[impl]}), flush=True)
    finally:
        for process in load:
            process.kill()
            process.wait()
    for other in ("ours-1thread", "pytorch", "baseline"):
        if "ours" in results and other in results:
            ratio = results["ours"]["median_epoch_s"] / results[other]["median_epoch_s"]
            paired = [a / b for a, b in zip(times["ours"], times[other], strict=True)]
            ratios = {
                "ratio": round(ratio, 3),
                "median_epochwise_ratio": round(statistics.median(paired), 3),
            }
            results[f"ours_over_{other}"] = ratios
            epochwise = ratios["median_epochwise_ratio"]
            print(
                json.dumps(
                    {
                        f"ratio_ours_over_{other}": ratios["ratio"],
                        "median_epochwise_ratio": epochwise,
                    }
                )
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    implementations = sorted(set(RUNNERS) - {"baseline"})
    parser.add_argument("--impl", nargs="+", choices=implementations, default=implementations)
    parser.add_argument("--baseline", metavar="SRC", help="also time the library found in SRC")
    parser.add_argument(
        "--background-load",
        type=int,
        default=0,
        metavar="N",
        help="keep N cores busy with spinning processes during the comparison",
    )
    parser.add_argument("--child", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.epochs, args.seed)
        return
    compare(
        args.impl,
        epochs=args.epochs,
        seed=args.seed,
        baseline=args.baseline,
        background_load=args.background_load,
    )


if __name__ == "__main__":
    main()
