"""The max-norm constraint on hidden units' incoming weights."""

import numpy as np
import pytest

from neural_network import build_mlp
from neural_network.optim.constraints import apply_max_norm


def test_max_norm_caps_large_columns_and_leaves_small_ones(rng):
    model = build_mlp(6, [5, 4], 3, rng=rng)
    first, second, output = (layer for layer in model.layers if hasattr(layer, "weight"))
    first.weight.value[:, 0] = 10.0  # norm sqrt(600)
    first.weight.value[:, 1] *= 1e-3
    second.weight.value[:, 2] = 3.0  # norm 6
    output.weight.value[...] = 50.0
    small = first.weight.value[:, 1:].copy()
    rescaled = apply_max_norm(model, 2.0)
    assert rescaled >= 2
    for layer in (first, second):
        norms = np.linalg.norm(layer.weight.value, axis=0)
        assert norms.max() <= 2.0 * (1 + 1e-6)
    assert np.linalg.norm(first.weight.value[:, 0]) == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_allclose(first.weight.value[:, 0], 2.0 / np.sqrt(6.0), rtol=1e-6)
    kept = np.linalg.norm(small, axis=0) <= 2.0
    np.testing.assert_array_equal(first.weight.value[:, 1:][:, kept], small[:, kept])
    np.testing.assert_array_equal(output.weight.value, 50.0)  # the output layer is free
    for bad in (0.0, -1.0, float("inf"), True):
        with pytest.raises(ValueError, match="max_norm"):
            apply_max_norm(model, bad)
