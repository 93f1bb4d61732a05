"""Answers to the exercises of "Experiment: overfitting" (docs/book/experiments-overfitting.md).

Each ``exercise_N()`` computes its answer, asserts it and returns it; run this file to check
them all. They read ``benchmarks/results/experiments.json`` from the repository root.
"""

import json
import math
from pathlib import Path

import numpy as np

import neural_network as nn

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "benchmarks" / "results" / "experiments.json"


def exercise_1():
    """The plain run's validation loss is lowest before its train accuracy reaches 100%."""
    runs = json.loads(RESULTS.read_text())["overfitting"]["runs"]
    answer = {}
    for run in (r for r in runs if r["technique"] == "none"):
        val_loss = run["curves"]["val_loss"]
        lowest = 1 + min(range(len(val_loss)), key=val_loss.__getitem__)
        memorised = 1 + run["curves"]["train_accuracy"].index(1.0)
        answer[run["seed"]] = (lowest, memorised)
        # The validation loss turns first: the network is still improving its training
        # accuracy while its confidence on unseen images has already started to go wrong.
        assert lowest < memorised
    return answer


def exercise_2():
    """With no data gradient, L2 multiplies a weight by (1 - lr * l2) each step; it halves
    after ln 2 / -ln(1 - lr * l2) steps, about 693 for lr = 0.1 and l2 = 0.01."""
    lr, l2 = 0.1, 0.01
    factor = 1 - lr * l2
    halving = math.log(2) / -math.log(factor)
    assert abs(halving - 692.8) < 0.5  # about ln 2 / (lr * l2) = 693 when lr * l2 is small

    weight = nn.Parameter.of(np.array([1.0]))  # float64: no rounding to speak of
    optimizer = nn.SGD([weight], lr=lr, momentum=0.0, l2=l2)
    steps = math.ceil(halving)
    for _ in range(steps):
        weight.grad[...] = 0.0  # no data gradient: only the L2 term pulls
        optimizer.step()
    assert math.isclose(weight.value[0], factor**steps, rel_tol=1e-9)
    assert weight.value[0] <= 0.5 < factor ** (steps - 1)
    return halving


def exercise_3():
    """On 300 images the gap is larger than on 1,000: with fewer images to generalise from,
    the network still learns all of them, and validation accuracy falls."""
    (x, y), _ = nn.load_mnist()
    x = (x / np.float32(255)).astype(np.float32)
    x_train, y_train = x[:300], y[:300]
    x_val, y_val = x[-1000:], y[-1000:]  # images the network never trains on
    gaps = []
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        model = nn.build_mlp(784, [100], 10, rng=rng)
        optimizer = nn.SGD(model.flat, lr=0.1, momentum=0.0)
        nn.fit(
            model,
            x_train,
            y_train,
            optimizer=optimizer,
            epochs=60,
            batch_size=10,
            rng=rng,
            threads=1,
        )
        train = nn.evaluate(model, x_train, y_train, threads=1)[1]
        val = nn.evaluate(model, x_val, y_val, threads=1)[1]
        assert train == 1.0
        gaps.append(100 * (train - val))
    results = json.loads(RESULTS.read_text())["overfitting"]["runs"]
    gap_1000 = 100 * np.mean([r["final"]["gap"] for r in results if r["technique"] == "none"])
    assert min(gaps) > gap_1000 + 2
    return float(np.mean(gaps)), float(gap_1000)


if __name__ == "__main__":
    for name, function in sorted(globals().items()):
        if name.startswith("exercise_"):
            print(name, function())
