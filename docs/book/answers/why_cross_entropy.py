"""Answers to the exercises of "Why cross-entropy" (docs/book/why-cross-entropy.md)."""

import numpy as np


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def train_neuron(loss_name, *, w, b, y, lr=0.15, steps=600, x=1.0):
    """The chapter's one-neuron gradient descent; the output after every step."""
    outputs = []
    for _ in range(steps):
        a = sigmoid(w * x + b)
        outputs.append(a)
        dz = (a - y) * a * (1 - a) if loss_name == "squared error" else a - y
        w, b = w - lr * dz * x, b - lr * dz
    return np.array(outputs)


def exercise_1(eps=1e-6):
    """Binary cross-entropy after a sigmoid: dL/dz = a - y, checked by finite differences."""

    def bce(z, y):
        a = sigmoid(z)
        return -y * np.log(a) - (1 - y) * np.log(1 - a)

    for y in (0.0, 1.0):
        for z in (-3.0, 0.0, 2.0):
            numeric = (bce(z + eps, y) - bce(z - eps, y)) / (2 * eps)
            assert abs(numeric - (sigmoid(z) - y)) < 1e-8


def exercise_2():
    """Squared error from w = b = -2 (output 0.018) with target 1: the slow start mirrors the
    chapter's exactly, since sigmoid(-z) = 1 - sigmoid(z)."""
    up = train_neuron("squared error", w=-2.0, b=-2.0, y=1.0)
    down = train_neuron("squared error", w=2.0, b=2.0, y=0.0)
    np.testing.assert_allclose(up, 1 - down, atol=1e-12)
    steps_up = int(np.argmax(up > 0.9))
    assert steps_up == int(np.argmax(down < 0.1)) and steps_up > 400
    return steps_up


def exercise_3():
    """The squared error needs a learning rate ten times larger (1.5) to start as fast. It is no
    fix: the gain it lacks is 1/sigma'(z), which depends on how saturated each unit is, and
    that differs from unit to unit and from step to step; a larger rate multiplies the steps
    of the unsaturated units too."""
    target_steps = int(np.argmax(train_neuron("cross-entropy", w=2.0, b=2.0, y=0.0) < 0.1))
    rates = np.arange(0.25, 5.01, 0.25)
    needed = next(
        lr
        for lr in rates
        if np.any(
            train_neuron("squared error", w=2.0, b=2.0, y=0.0, lr=lr, steps=target_steps + 1) < 0.1
        )
    )
    assert needed > 5 * 0.15
    # Why not a fix: the gain needed depends on how saturated the neuron is (sigma'(z) ranges
    # over orders of magnitude), so no single rate suits both the saturated start and the
    # unsaturated middle, where sigma'(z) = 1/4 is 14 times sigma'(4) = 0.018.
    assert sigmoid(0.0) * (1 - sigmoid(0.0)) / (sigmoid(4.0) * (1 - sigmoid(4.0))) > 14
    return float(needed), target_steps


if __name__ == "__main__":
    for exercise in (exercise_1, exercise_2, exercise_3):
        print(exercise.__name__, exercise())
