"""Answers to the exercises of "Experiment: why plain gradient descent sat near 20%"
(docs/book/experiments-naive-baseline.md).

Each ``exercise_N()`` computes its answer, asserts it and returns it; run this file to check
them all. They read ``benchmarks/results/experiments.json`` from the repository root.
"""

import json
from pathlib import Path

import numpy as np

import neural_network as nn

ROOT = Path(__file__).resolve().parents[3]
RESULTS = ROOT / "benchmarks" / "results" / "experiments.json"


def exercise_1():
    """Per seed of the naive baseline: (step of the best validation accuracy within the first
    10 steps, first step at which more than half the first hidden layer is dead)."""
    runs = json.loads(RESULTS.read_text())["naive"]["runs"]
    answer = {}
    for run in runs:
        if (run["inputs"], run["init"], run["lr"]) != ("raw", "sd 0.01", 0.1):
            continue
        checks = [
            (s, a)
            for s, a in zip(run["checks"]["step"], run["checks"]["val_accuracy"], strict=True)
            if s <= 10
        ]
        best_step = max(checks, key=lambda pair: pair[1])[0]
        half_dead = next(i + 1 for i, dead in enumerate(run["steps"]["dead"]) if dead[0] > 0.5)
        # The network learns first and dies after: a few to some tens of steps later.
        assert best_step < half_dead
        answer[run["seed"]] = (best_step, half_dead)
    assert len(answer) >= 3
    return answer


def _first_layer_gradient_norm(model, x, y):
    criterion = nn.SoftmaxCrossEntropy()
    criterion.forward(model.forward(x, training=True), y)
    model.backward(criterion.backward())
    return float(np.linalg.norm(model.layers[0].weight.grad))


def exercise_2():
    """The first layer's weight gradient with pixels 0-255 is not exactly 255 times that with
    pixels 0-1. With zero biases a ReLU network is positively homogeneous: every hidden
    activation and every logit is exactly 255 times larger too, so the softmax, and p - y,
    differ between the two. Where the logits are tiny either way (weights of sd 0.0001),
    p - y is the same and the ratio is 255."""
    (x, y), _ = nn.load_mnist()
    x, y = x[:128].astype(np.float64), y[:128]
    ratios = {}
    for std in (0.01, 0.0001):
        rng = np.random.default_rng(0)
        model = nn.build_mlp(784, [16], 10, rng=rng, dtype=np.float64)
        for layer in model.layers:
            if isinstance(layer, nn.Dense):
                layer.weight.value[...] = rng.standard_normal(layer.weight.value.shape) * std
        raw = _first_layer_gradient_norm(model, x, y)
        scaled = _first_layer_gradient_norm(model, x / 255, y)
        ratios[std] = raw / scaled
    assert abs(ratios[0.01] / 255 - 1) > 0.05  # logits of a few units: p - y differs
    assert abs(ratios[0.0001] / 255 - 1) < 0.01  # logits near 0 either way: ratio 255
    return ratios


def exercise_3():
    """With its hidden layer dead, the network can learn only the output bias: it converges
    to the log of the classes' frequencies, so the network predicts the most frequent class
    of its training images (the digit 1) for every image, and scores that class's share."""
    (x, y), _ = nn.load_mnist()
    x = (x[:5000] / np.float32(255)).astype(np.float32)
    y = y[:5000]
    x_val, y_val = x[4000:], y[4000:]
    x, y = x[:4000], y[:4000]
    rng = np.random.default_rng(0)
    model = nn.build_mlp(784, [16], 10, rng=rng)
    model.layers[0].bias.value[...] = -1e3  # every hidden unit below zero for every image
    optimizer = nn.SGD(model.flat, lr=0.5, momentum=0.0)
    nn.fit(model, x, y, optimizer=optimizer, epochs=3, batch_size=100, rng=rng, threads=1)
    predicted = model.forward(x_val, training=False).argmax(axis=1)
    most_frequent = int(np.bincount(y).argmax())
    accuracy = float((predicted == y_val).mean())
    assert most_frequent == 1 and set(predicted.tolist()) == {1}
    assert accuracy == float((y_val == 1).mean())
    # The output bias, less its mean, is the log of the class frequencies (softmax's inverse).
    bias = model.layers[-1].bias.value
    frequencies = np.bincount(y, minlength=10) / len(y)
    assert np.allclose(
        bias - bias.mean(), np.log(frequencies) - np.log(frequencies).mean(), atol=0.05
    )
    return most_frequent, accuracy


if __name__ == "__main__":
    for name, function in sorted(globals().items()):
        if name.startswith("exercise_"):
            print(name, function())
