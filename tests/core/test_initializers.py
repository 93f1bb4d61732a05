"""Weight initialisers: shapes, dtypes, scale, determinism, and build_mlp's defaults."""

import math

import numpy as np
import pytest

from neural_network.core.initializers import (
    INITIALIZERS,
    get_initializer,
    he_normal,
    he_uniform,
    xavier_normal,
    xavier_uniform,
)
from neural_network.core.layers import Dense
from neural_network.core.model import build_mlp

N_IN, N_OUT = 600, 400  # 240k samples: the empirical std is within ~0.3% of the true one

EXPECTED_STD = {
    "he_normal": math.sqrt(2 / N_IN),
    "he_uniform": math.sqrt(2 / N_IN),
    "xavier_normal": math.sqrt(2 / (N_IN + N_OUT)),
    "xavier_uniform": math.sqrt(2 / (N_IN + N_OUT)),
}
UNIFORM_LIMIT = {
    "he_uniform": math.sqrt(6 / N_IN),
    "xavier_uniform": math.sqrt(6 / (N_IN + N_OUT)),
}


def test_registry():
    assert {
        "he_normal": he_normal,
        "he_uniform": he_uniform,
        "xavier_normal": xavier_normal,
        "xavier_uniform": xavier_uniform,
    } == INITIALIZERS
    for name, fn in INITIALIZERS.items():
        assert get_initializer(name) is fn


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n_in", "n_out"), [(3, 5), (1, 1), (7, 2)])
def test_shape_and_dtype(rng, name, dtype, n_in, n_out):
    weights = INITIALIZERS[name](rng, n_in, n_out, dtype)
    assert weights.shape == (n_in, n_out)
    assert weights.dtype == dtype
    assert np.all(np.isfinite(weights))


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_default_dtype_is_float32(rng, name):
    assert INITIALIZERS[name](rng, 3, 2).dtype == np.float32


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_empirical_scale(rng, name):
    weights = INITIALIZERS[name](rng, N_IN, N_OUT, np.float64)
    assert abs(weights.mean()) < 0.01 * EXPECTED_STD[name]
    np.testing.assert_allclose(weights.std(), EXPECTED_STD[name], rtol=0.01)
    assert len(np.unique(weights)) == weights.size


@pytest.mark.parametrize("name", sorted(UNIFORM_LIMIT))
def test_uniform_limits(rng, name):
    weights = INITIALIZERS[name](rng, N_IN, N_OUT, np.float64)
    limit = UNIFORM_LIMIT[name]
    assert np.max(np.abs(weights)) <= limit
    assert np.max(weights) > 0.99 * limit
    assert np.min(weights) < -0.99 * limit
    # Flat density: each quarter of [-limit, limit] holds about a quarter of the values.
    counts, _ = np.histogram(weights, bins=4, range=(-limit, limit))
    np.testing.assert_allclose(counts / weights.size, 0.25, atol=0.005)


@pytest.mark.parametrize("name", ["he_normal", "xavier_normal"])
def test_normal_shape_of_distribution(rng, name):
    weights = INITIALIZERS[name](rng, N_IN, N_OUT, np.float64) / EXPECTED_STD[name]
    # About 68.3% within one standard deviation and 95.4% within two.
    assert abs(np.mean(np.abs(weights) < 1) - 0.6827) < 0.005
    assert abs(np.mean(np.abs(weights) < 2) - 0.9545) < 0.003


@pytest.mark.parametrize("name", sorted(INITIALIZERS))
def test_deterministic_from_seed(name):
    init = INITIALIZERS[name]
    first = init(np.random.default_rng(3), 20, 10, np.float32)
    again = init(np.random.default_rng(3), 20, 10, np.float32)
    other = init(np.random.default_rng(4), 20, 10, np.float32)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_dense_uses_its_initializer():
    layer = Dense(N_IN, N_OUT, init="xavier_uniform", rng=np.random.default_rng(0))
    assert np.max(np.abs(layer.weight.value)) <= UNIFORM_LIMIT["xavier_uniform"]
    np.testing.assert_allclose(layer.weight.value.std(), EXPECTED_STD["xavier_uniform"], rtol=0.01)
    same = Dense(N_IN, N_OUT, init="xavier_uniform", rng=np.random.default_rng(0))
    np.testing.assert_array_equal(layer.weight.value, same.weight.value)


@pytest.mark.parametrize("name", ["glorot", "He_Normal", "", None, ["he_normal"]])
def test_unknown_initializer_lists_valid_names(name):
    with pytest.raises(ValueError, match="Unknown initializer") as info:
        get_initializer(name)
    for valid in INITIALIZERS:
        assert repr(valid) in str(info.value)


@pytest.mark.parametrize(
    ("activation", "hidden_init"),
    [
        ("relu", "he_normal"),
        ("leaky_relu", "he_normal"),
        ("sigmoid", "xavier_normal"),
        ("tanh", "xavier_normal"),
    ],
)
def test_build_mlp_default_init(rng, activation, hidden_init):
    model = build_mlp(8, [6, 5], 3, activation=activation, rng=rng)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    # Every Dense layer, the output one included, follows the activation.
    assert [layer.init for layer in dense] == [hidden_init] * 3


@pytest.mark.parametrize("init", sorted(INITIALIZERS))
def test_build_mlp_explicit_init(rng, init):
    model = build_mlp(8, [6], 3, activation="relu", init=init, rng=rng)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert [layer.init for layer in dense] == [init, init]


def test_build_mlp_weights_are_deterministic_from_seed():
    first = build_mlp(8, [6, 5], 3, rng=np.random.default_rng(9))
    again = build_mlp(8, [6, 5], 3, rng=np.random.default_rng(9))
    np.testing.assert_array_equal(first.flat.values, again.flat.values)


def test_build_mlp_biases_start_at_zero(rng):
    model = build_mlp(8, [6, 5], 3, rng=rng)
    for p in model.flat.params:
        if not p.decay:
            np.testing.assert_array_equal(p.value, 0)
