"""Answers to the exercises of the chapter "Inverted dropout"."""

import numpy as np


def exercise_1():
    # Inverted dropout divides the kept units by the keep probability, so the expected
    # activation is unchanged and nothing needs rescaling at test time.
    rng = np.random.default_rng(0)
    a, keep = np.full(1_000_000, 2.0), 0.8
    mask = rng.random(a.shape) < keep
    dropped = a * mask / keep
    assert abs(dropped.mean() - 2.0) < 0.01
    # Without the division the mean falls to keep * 2.0.
    assert abs((a * mask).mean() - keep * 2.0) < 0.01
