"""Answers to the exercises of the chapter "Initialisation"."""

import numpy as np


def exercise_1():
    # Ten ReLU layers of 256 units: He's std sqrt(2/n) keeps the signal's scale, 0.01 shrinks it
    # by about 0.01 * sqrt(256 / 2) = 0.11 per layer.
    rng = np.random.default_rng(0)
    n = 256
    x = rng.normal(size=(512, n))
    scales = {}
    for name, std in (("he", np.sqrt(2 / n)), ("0.01", 0.01)):
        a = x
        for _ in range(10):
            a = np.maximum(a @ rng.normal(0, std, size=(n, n)), 0)
        scales[name] = np.sqrt(np.mean(a**2))
    assert 0.5 < scales["he"] < 2.0
    assert scales["0.01"] < 1e-8
