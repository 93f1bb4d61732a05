"""Answers to the exercises of the chapter "Mini-batches, schedules and early stopping"."""

import numpy as np


def exercise_1():
    # An epoch of n samples in batches of b takes ceil(n / b) steps; shuffling each epoch
    # visits every sample exactly once.
    rng = np.random.default_rng(0)
    n, b = 1000, 64
    order = rng.permutation(n)
    batches = [order[i : i + b] for i in range(0, n, b)]
    assert len(batches) == int(np.ceil(n / b)) == 16
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))
    assert len(batches[-1]) == n - 15 * b
