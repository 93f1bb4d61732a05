"""Answers to the exercises of "Experiment: learning rates, and SGD against momentum against
Adam" (docs/book/experiments-learning-rates.md).

Each ``exercise_N()`` computes its answer, asserts it and returns it; run this file to check
them all. They read ``benchmarks/results/experiments.json`` from the repository root.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np

import neural_network as nn

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "benchmarks" / "results" / "experiments.json"


def exercise_1():
    """Per optimiser: (smallest, largest) learning rate within 2 points of its best mean
    validation accuracy, and their ratio."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import experiments

    summary = experiments.lr_summary(json.loads(RESULTS.read_text())["learning_rates"])
    answer = {}
    for name, rows in summary.items():
        best = experiments.best_lr(rows)["val_accuracy"][0]
        good = [r["lr"] for r in rows if r["val_accuracy"][0] >= best - 2]
        answer[name] = (min(good), max(good), max(good) / min(good))
        # on a grid in steps of sqrt(10), a window of a factor 3 to 30
        assert 1 < answer[name][2] < 100
    return answer


def exercise_2():
    """SGD with momentum 0.9 given the same gradient g for t steps has velocity
    g (1 - 0.9**t) / 0.1: it approaches 10 g, so after 100 steps the weight has travelled
    about 91% of what plain SGD at ten times the rate travels (the velocity needs some tens
    of steps to build up)."""
    lr, steps, g = 1e-3, 100, 0.5
    distances = []
    for momentum, rate in ((0.9, lr), (0.0, 10 * lr)):
        weight = nn.Parameter.of(np.array([0.0]))
        optimizer = nn.SGD([weight], lr=rate, momentum=momentum)
        for _ in range(steps):
            weight.grad[...] = g
            optimizer.step()
        distances.append(-weight.value[0])
    by_formula = lr * g * sum((1 - 0.9**t) / 0.1 for t in range(1, steps + 1))
    assert math.isclose(distances[0], by_formula, rel_tol=1e-9)
    assert math.isclose(distances[1], 10 * lr * g * steps, rel_tol=1e-9)
    ratio = distances[0] / distances[1]
    assert 0.9 < ratio < 0.92
    return ratio


def exercise_3():
    """Adam's first step: m_hat = g and v_hat = g**2 after bias correction, so the step is
    lr * g / (|g| + eps): lr in size for every |g| much larger than eps, whether 1e-2 or 1e4."""
    lr = 1e-3
    weight = nn.Parameter.of(np.array([0.0, 0.0, 0.0]))
    optimizer = nn.Adam([weight], lr=lr)
    gradients = np.array([1e-2, -1e4, 3.0])
    weight.grad[...] = gradients
    optimizer.step()
    step = -weight.value
    assert np.allclose(np.abs(step), lr, rtol=1e-5)
    assert np.array_equal(np.sign(step), np.sign(gradients))
    return step


if __name__ == "__main__":
    for name, function in sorted(globals().items()):
        if name.startswith("exercise_"):
            print(name, function())
