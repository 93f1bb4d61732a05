"""Answers to the exercises of the chapter "Backprop through Dense"."""

import numpy as np


def _numerical_gradient(f, array, h=1e-6):
    """Central differences of the scalar f() with respect to each entry of array (in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        saved = array[i]
        array[i] = saved + h
        up = f()
        array[i] = saved - h
        down = f()
        array[i] = saved
        grad[i] = (up - down) / (2 * h)
    return grad


def exercise_1():
    # y = x W + b with loss = sum(y * r), so dL/dy = r: dW = x^T r, db = r summed over the
    # batch, dx = r W^T. Central differences agree.
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    b, r = rng.normal(size=2), rng.normal(size=(4, 2))

    def loss():
        return float(np.sum((x @ w + b) * r))

    np.testing.assert_allclose(x.T @ r, _numerical_gradient(loss, w), rtol=1e-6)
    np.testing.assert_allclose(r.sum(axis=0), _numerical_gradient(loss, b), rtol=1e-6)
    np.testing.assert_allclose(r @ w.T, _numerical_gradient(loss, x), rtol=1e-6)
