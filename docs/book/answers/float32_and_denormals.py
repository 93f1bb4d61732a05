"""Answers to the exercises of the chapter "float32 and denormals"."""

import numpy as np


def exercise_1():
    # The spacing of float32 just above 1 is 2**-23; adding less than half of it rounds back.
    one = np.float32(1.0)
    ulp = np.spacing(one)
    assert ulp == np.float32(2.0**-23)
    assert one + np.float32(2.0**-25) == one  # a quarter ulp is lost
    assert one + np.float32(6e-8) > one  # just over half an ulp (5.96e-8) rounds up
    # The smallest normal float32, and the first denormal below it.
    tiny = np.finfo(np.float32).tiny
    assert tiny / np.float32(2) > 0
    assert np.float32(tiny / np.float32(2)) < tiny
