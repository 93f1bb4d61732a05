"""GPU seconds per epoch of the classic MNIST network: this library on CuPy vs PyTorch eager.

Both train 784-512-256-128-10 (ReLU), Adam (lr 1e-3), coupled L2 1e-4 on the weights,
global-norm clipping at 5, batch 128, float32, on the full bundled MNIST scaled to [0, 1],
with the training data already on the GPU. In one process they take turns epoch by epoch
(so both see the same clocks and the same neighbours), first with TF32 matrix products off
on both, then on on both. Ours runs twice, without and with its training step captured in a
CUDA graph (``neural_network.train.cuda_graphs``, off by default). Each gets one warm-up
epoch per setting (CuPy compiles its kernels, PyTorch picks its cuBLAS algorithms) that is
not counted.

Before that, a float64 gradient check: the gradients of one batch, and the weights after a
few Adam steps, of the GPU path against the CPU path. After it, the classic recipe
(``NeuralNetwork(..., device="cuda").fit()``, its defaults) and its test accuracy.

Prints JSON lines: the gradient check, one line per (implementation, TF32) with the median
epoch and every epoch's seconds and the test accuracy, the ratio ours/PyTorch of the medians
per setting, and the classic recipe's accuracy.

    python benchmarks/gpu_speed.py                 # 5 counted epochs each, classic 30 epochs
    python benchmarks/gpu_speed.py --epochs 8 --classic-epochs 0

It needs an NVIDIA GPU, CuPy and a CUDA build of PyTorch, and stops with one sentence
otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time

import numpy as np

HIDDEN = (512, 256, 128)
LR, BATCH, L2, CLIP = 1e-3, 128, 1e-4, 5.0


def fail(message: str) -> None:
    raise SystemExit(f"gpu_speed.py: {message}")


def require_gpu():
    """CuPy and PyTorch with a GPU each, or a one-sentence exit."""
    from neural_network.core.devices import DeviceUnavailableError, array_module

    try:
        cupy = array_module("cuda")
    except DeviceUnavailableError as error:
        fail(str(error))
    try:
        import torch
    except ImportError:
        fail("PyTorch is not installed; the comparison needs a CUDA build of it")
    if not torch.cuda.is_available():
        fail("PyTorch sees no GPU (a CPU-only build?); the comparison needs a CUDA build")
    return cupy, torch


def set_tf32(cupy, torch, enabled: bool) -> None:
    """TF32 for float32 matrix products, on both libraries."""
    from cupy._core import _routines_linalg as linalg

    mode = linalg.COMPUTE_TYPE_TF32 if enabled else linalg.COMPUTE_TYPE_DEFAULT
    linalg.set_compute_type(np.dtype(np.float32), mode)
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def load_data():
    from neural_network import MinMaxScaler, load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    scaler = MinMaxScaler().fit(x_train)
    return scaler.transform(x_train), y_train, scaler.transform(x_test), y_test


def gradient_check(x: np.ndarray, labels: np.ndarray) -> dict:
    """float64: one batch's gradients, then the weights after 20 Adam steps, GPU vs CPU."""
    from neural_network import Adam, build_mlp, fit
    from neural_network.core.devices import array_module, to_host
    from neural_network.train.device_loop import cross_entropy_sum

    x, labels = x[: 20 * BATCH].astype(np.float64), labels[: 20 * BATCH]
    grads, weights = {}, {}
    for device in ("cpu", "cuda"):
        xp = array_module(device)
        model = build_mlp(784, HIDDEN, 10, rng=np.random.default_rng(0), dtype=np.float64)
        model.to(device)
        logits = model.forward(xp.asarray(x[:BATCH]), training=True)
        _, grad = cross_entropy_sum(logits, xp.asarray(labels[:BATCH]), xp.arange(BATCH))
        model.backward(grad)
        grads[device] = to_host(model.flat.grads).copy()
        optimizer = Adam(model.flat, lr=LR, l2=L2, clip_norm=CLIP)
        fit(model, x, labels, optimizer=optimizer, epochs=1, batch_size=BATCH,
            rng=np.random.default_rng(1))  # fmt: skip
        weights[device] = to_host(model.flat.values).copy()
    grad_diff = float(np.abs(grads["cuda"] - grads["cpu"]).max())
    weight_diff = float(np.abs(weights["cuda"] - weights["cpu"]).max())
    return {
        "gradient_check": "float64, GPU vs CPU",
        "max_abs_diff_gradients": grad_diff,
        "max_abs_diff_weights_after_20_steps": weight_diff,
        "within_1e-10": grad_diff <= 1e-10 and weight_diff <= 1e-10,
    }


class Ours:
    def __init__(self, data, seed: int, *, graphs: bool = False):
        from neural_network import Adam, History, build_mlp

        self.graphs = graphs
        self.name = "ours (CuPy, CUDA graph)" if graphs else "ours (CuPy)"

        self.x, self.y, self.x_test, self.y_test = data
        self.rng = np.random.default_rng(seed)
        self.model = build_mlp(784, HIDDEN, 10, rng=self.rng, device="cuda")
        self.optimizer = Adam(self.model.flat, lr=LR, l2=L2, clip_norm=CLIP)
        self.history = History()

    def epoch(self) -> float:
        """One epoch; fit copies the data to the GPU before its epoch's clock starts."""
        from neural_network import fit
        from neural_network.train.cuda_graphs import use_cuda_graphs

        use_cuda_graphs(self.graphs)
        fit(self.model, self.x, self.y, optimizer=self.optimizer, epochs=len(self.history) + 1,
            batch_size=BATCH, rng=self.rng, history=self.history)  # fmt: skip
        use_cuda_graphs(False)
        return self.history.epoch_time[-1]

    def accuracy(self) -> float:
        from neural_network import evaluate

        return evaluate(self.model, self.x_test, self.y_test)[1]


class Torch:
    name = "PyTorch eager"

    def __init__(self, data, seed: int):
        import torch

        self.torch = torch
        torch.manual_seed(seed)
        device = torch.device("cuda")
        x, y, x_test, y_test = data
        self.x, self.x_test = torch.from_numpy(x).to(device), torch.from_numpy(x_test).to(device)
        self.y = torch.from_numpy(y.astype(np.int64)).to(device)
        self.y_test = torch.from_numpy(y_test.astype(np.int64)).to(device)
        layers: list = []
        for n_in, n_out in itertools.pairwise((784, *HIDDEN)):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers, torch.nn.Linear(HIDDEN[-1], 10)).to(device)
        named = list(self.model.named_parameters())
        weights = [p for name, p in named if name.endswith("weight")]
        biases = [p for name, p in named if name.endswith("bias")]
        # Adam's weight_decay adds wd * w to the gradient: the same coupled L2 as ours.
        self.optimizer = torch.optim.Adam(
            [{"params": weights, "weight_decay": L2}, {"params": biases, "weight_decay": 0.0}],
            lr=LR,
        )
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(self) -> float:
        torch = self.torch
        torch.cuda.synchronize()
        started = time.perf_counter()
        order = torch.randperm(len(self.x), device=self.x.device)
        for start in range(0, len(self.x), BATCH):
            batch = order[start : start + BATCH]
            self.optimizer.zero_grad(set_to_none=True)
            loss = self.loss_fn(self.model(self.x[batch]), self.y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), CLIP)
            self.optimizer.step()
        torch.cuda.synchronize()
        return time.perf_counter() - started

    def accuracy(self) -> float:
        with self.torch.no_grad():
            return (self.model(self.x_test).argmax(1) == self.y_test).float().mean().item()


def compare(data, cupy, torch, epochs: int, seed: int) -> None:
    for tf32 in (False, True):
        set_tf32(cupy, torch, tf32)
        runners = [Ours(data, seed), Ours(data, seed, graphs=True), Torch(data, seed)]
        for runner in runners:
            runner.epoch()  # warm-up, not counted
        times: dict[str, list[float]] = {runner.name: [] for runner in runners}
        for _ in range(epochs):
            for runner in runners:
                times[runner.name].append(runner.epoch())
        medians = {}
        for runner in runners:
            medians[runner.name] = statistics.median(times[runner.name])
            print(json.dumps({
                "impl": runner.name, "tf32": tf32, "epochs": epochs,
                "median_epoch_s": round(medians[runner.name], 5),
                "epoch_s": [round(t, 5) for t in times[runner.name]],
                "test_accuracy": round(runner.accuracy(), 4),
            }), flush=True)  # fmt: skip
        ratios = {
            f"{runner.name} / {Torch.name}": round(medians[runner.name] / medians[Torch.name], 3)
            for runner in runners[:2]
        }
        print(json.dumps({"tf32": tf32, "median_ratios": ratios}), flush=True)


def classic_recipe(epochs: int, seed: int) -> dict:
    """The original project's usage on the GPU: its defaults, ``epochs`` epochs."""
    from neural_network import NeuralNetwork, load_mnist, one_hot_encode

    (x_train, y_train), (x_test, y_test) = load_mnist()
    network = NeuralNetwork(
        x_train.T, one_hot_encode(y_train, 10), x_test.T, one_hot_encode(y_test, 10),
        seed=seed, device="cuda",
    )  # fmt: skip
    started = time.perf_counter()
    network.fit(epochs=epochs, verbose=False)
    return {
        "classic_recipe": f"NeuralNetwork(device='cuda').fit(epochs={epochs})",
        "test_accuracy": round(network.accuracy(x_test.T, one_hot_encode(y_test, 10)), 4),
        "epochs_run": len(network.history),
        "wall_s": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="counted epochs per setting")
    parser.add_argument("--classic-epochs", type=int, default=30, help="0 skips the recipe")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.epochs < 1:
        fail("--epochs must be at least 1")
    cupy, torch = require_gpu()
    gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(json.dumps({"gpu": gpu, "cupy": cupy.__version__, "torch": torch.__version__}))
    data = load_data()
    print(json.dumps(gradient_check(data[0], data[1])), flush=True)
    compare(data, cupy, torch, args.epochs, args.seed)
    if args.classic_epochs:
        print(json.dumps(classic_recipe(args.classic_epochs, args.seed)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
