"""Answers to the exercises of the chapter "Optimisers"."""

import numpy as np


def rmsprop_step(w, g, s, lr=1e-2, rho=0.9, eps=1e-8):
    """One RMSProp step: s tracks the mean squared gradient, the step divides by its root."""
    s = rho * s + (1 - rho) * g * g
    return w - lr * g / (np.sqrt(s) + eps), s


def exercise_1():
    # RMSProp: the first step moves each coordinate by about lr / sqrt(1 - rho), whatever the
    # gradient's scale, and it minimises an ill-conditioned quadratic.
    w = np.array([1.0, 1.0])
    g = np.array([1e-3, 1e3])
    w1, _ = rmsprop_step(w, g, np.zeros(2))
    np.testing.assert_allclose(w - w1, 1e-2 / np.sqrt(0.1), rtol=1e-4)
    scale = np.array([1.0, 100.0])  # loss = 0.5 * sum(scale * w**2)
    w, s = np.array([1.0, 1.0]), np.zeros(2)
    for t in range(500):
        w, s = rmsprop_step(w, scale * w, s, lr=1e-2 * 0.99**t)
    assert np.all(np.abs(w) < 0.05), w
