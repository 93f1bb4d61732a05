"""Answers to the exercises of the chapter "Activations"."""

import numpy as np


def _train(loss: str, steps: int = 300, lr: float = 0.15):
    """One sigmoid neuron, input 1, target 0, started badly (w = b = 2); its output per step."""
    w, b, out = 2.0, 2.0, []
    for _ in range(steps):
        a = 1 / (1 + np.exp(-(w + b)))
        out.append(a)
        # d loss / d z: squared error keeps the factor sigma'(z) = a (1 - a);
        # cross-entropy cancels it.
        dz = (a - 0.0) * a * (1 - a) if loss == "mse" else a - 0.0
        w, b = w - lr * dz, b - lr * dz
    return np.array(out)


def exercise_1():
    # With squared error the saturated neuron barely moves at first; cross-entropy does not stall.
    mse, xent = _train("mse"), _train("xent")
    assert mse[0] - mse[30] < 0.1 < xent[0] - xent[30]
    assert xent[-1] < mse[-1]
