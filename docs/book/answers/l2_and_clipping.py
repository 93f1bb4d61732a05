"""Answers to the exercises of the chapter "L2 and gradient clipping"."""

import numpy as np


def exercise_1():
    # Clipping by the global norm keeps the gradient's direction; clipping each value to
    # [-c, c] does not.
    g = np.array([3.0, 4.0, 0.1])
    c = 1.0
    global_clip = g * min(1.0, c / np.linalg.norm(g))
    value_clip = np.clip(g, -c, c)
    cos = lambda a, b: a @ b / (np.linalg.norm(a) * np.linalg.norm(b))  # noqa: E731
    np.testing.assert_allclose(np.linalg.norm(global_clip), c)
    np.testing.assert_allclose(cos(global_clip, g), 1.0)
    assert cos(value_clip, g) < 0.99
