"""Answers to the exercises of the chapter "The classic API"."""

import numpy as np


def exercise_1():
    # Min-max scaling with the training set's range: the training set lands in [0, 1], and
    # the test set is scaled with the same constants (it may leave [0, 1]).
    rng = np.random.default_rng(0)
    train, test = rng.uniform(0, 255, size=(100, 4)), rng.uniform(-10, 265, size=(20, 4))
    low, high = train.min(axis=0), train.max(axis=0)
    scale = lambda x: (x - low) / (high - low)  # noqa: E731
    assert scale(train).min() == 0.0 and scale(train).max() == 1.0
    assert scale(test).min() < 0.0 or scale(test).max() > 1.0
