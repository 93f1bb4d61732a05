"""Answers to the exercises of the chapter "From a photo to a 28x28 input"."""

import numpy as np


def exercise_1():
    # Centring a digit by its centre of mass: shift the image so the ink's mean position is
    # the middle of the field.
    image = np.zeros((28, 28))
    image[2:8, 3:7] = 1.0  # ink in the top-left corner
    rows, cols = np.indices(image.shape)
    cy, cx = (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()
    shifted = np.roll(image, (round(13.5 - cy), round(13.5 - cx)), axis=(0, 1))
    ny = (rows * shifted).sum() / shifted.sum()
    nx = (cols * shifted).sum() / shifted.sum()
    assert abs(ny - 13.5) <= 0.5 and abs(nx - 13.5) <= 0.5
    assert shifted.sum() == image.sum()
