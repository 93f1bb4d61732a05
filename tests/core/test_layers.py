"""Dense, Dropout, Parameter and FlatParameters: gradient checks and contracts."""

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient, relative_error

from neural_network.core.layers import Dense, Dropout
from neural_network.core.model import build_mlp
from neural_network.core.parameters import FlatParameters, Parameter, flat_parameters_of


def _dense64(rng, n_in=4, n_out=3):
    layer = Dense(n_in, n_out, init="xavier_normal", rng=rng, dtype=np.float64)
    # Non-zero biases, so a bias that is ignored in forward would show.
    layer.bias.value[...] = rng.standard_normal(n_out)
    return layer


# --- the checker itself ---------------------------------------------------------------------


def test_gradcheck_catches_a_small_error(rng):
    x = rng.standard_normal((3, 4))
    g = rng.standard_normal((3, 4))
    numeric = numerical_gradient(lambda: float(np.sum(np.sin(x) * g)), x)
    exact = np.cos(x) * g
    assert relative_error(exact, numeric) < 1e-8
    wrong = exact.copy()
    wrong[1, 2] *= 1.0001
    assert relative_error(wrong, numeric) > 1e-6
    assert relative_error(exact.T.reshape(exact.shape), numeric) > 1e-2


# --- Dense ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "n_in", "n_out"), [(5, 4, 3), (1, 3, 1), (7, 1, 6)])
def test_dense_gradients(rng, n, n_in, n_out):
    layer = _dense64(rng, n_in, n_out)
    x = rng.standard_normal((n, n_in))
    g = rng.standard_normal((n, n_out))

    layer.forward(x, training=True)
    dx = layer.backward(g)
    dw, db = layer.weight.grad.copy(), layer.bias.grad.copy()

    def f():
        return float(np.sum(layer.forward(x, training=False) * g))

    assert_gradient_close(dw, numerical_gradient(f, layer.weight.value), name="weight")
    assert_gradient_close(db, numerical_gradient(f, layer.bias.value), name="bias")
    assert_gradient_close(dx, numerical_gradient(f, x), name="input")


def test_dense_forward_is_affine(rng):
    layer = _dense64(rng)
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(
        layer.forward(x), x @ layer.weight.value + layer.bias.value, rtol=1e-14
    )


def test_dense_backward_overwrites_grads(rng):
    layer = _dense64(rng)
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 3))
    layer.forward(x, training=True)
    layer.backward(g)
    first = layer.weight.grad.copy(), layer.bias.grad.copy()
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, first[0])
    np.testing.assert_array_equal(layer.bias.grad, first[1])


def test_dense_backward_can_skip_input_grad(rng):
    layer = _dense64(rng)
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 3))
    layer.forward(x, training=True)
    assert layer.backward(g, input_grad=False) is None
    np.testing.assert_allclose(layer.weight.grad, x.T @ g, rtol=1e-14)


def test_dense_backward_before_forward_raises(rng):
    layer = _dense64(rng)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 3)))


def test_dense_inference_forward_caches_nothing(rng):
    layer = _dense64(rng)
    x = rng.standard_normal((5, 4))
    layer.forward(x, training=True)
    layer.forward(x, training=False)
    with pytest.raises(RuntimeError):
        layer.backward(np.ones((5, 3)))


def test_dense_backward_does_not_mutate_grad_out(rng):
    layer = _dense64(rng)
    layer.forward(rng.standard_normal((5, 4)), training=True)
    g = rng.standard_normal((5, 3))
    g_copy = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, g_copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_keeps_dtype(rng, dtype):
    layer = Dense(4, 3, rng=rng, dtype=dtype)
    assert layer.weight.value.dtype == dtype
    assert layer.bias.value.dtype == dtype
    assert layer.weight.grad.dtype == dtype
    x = rng.standard_normal((5, 4)).astype(dtype)
    out = layer.forward(x, training=True)
    assert out.dtype == dtype
    assert layer.backward(np.ones((5, 3), dtype=dtype)).dtype == dtype
    assert layer.weight.grad.dtype == dtype


@pytest.mark.parametrize(
    ("n_in", "n_out"), [(0, 3), (3, 0), (-1, 3), (2.5, 3), (3, "4"), (True, 3), (3, None)]
)
def test_dense_validates_sizes(n_in, n_out):
    with pytest.raises(ValueError, match="positive integer"):
        Dense(n_in, n_out)


def test_dense_accepts_numpy_integers(rng):
    layer = Dense(np.int64(3), np.int32(2), rng=rng)
    assert layer.weight.value.shape == (3, 2)
    assert layer.bias.value.shape == (2,)


def test_dense_parameters_and_config(rng):
    layer = Dense(4, 3, init="he_uniform", rng=rng)
    weight, bias = layer.parameters()
    assert weight is layer.weight and weight.decay and weight.name == "weight"
    assert bias is layer.bias and not bias.decay and bias.name == "bias"
    np.testing.assert_array_equal(bias.value, 0)
    assert layer.get_config() == {"n_in": 4, "n_out": 3, "init": "he_uniform"}


def test_dense_unknown_initializer_lists_valid_names():
    with pytest.raises(ValueError, match="he_normal") as info:
        Dense(2, 2, init="orthogonal")
    assert "orthogonal" in str(info.value)
    assert "xavier_uniform" in str(info.value)


# --- Dropout --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.9])
def test_dropout_gradient_with_fixed_mask(rng, rate):
    x = rng.standard_normal((6, 5))
    g = rng.standard_normal((6, 5))
    seed = 7

    def f():
        # A generator seeded the same way draws the same mask: for that mask the layer is
        # the linear map x -> x * mask.
        layer = Dropout(rate, rng=np.random.default_rng(seed))
        return float(np.sum(layer.forward(x, training=True) * g))

    layer = Dropout(rate, rng=np.random.default_rng(seed))
    out = layer.forward(x, training=True)
    grad = layer.backward(g)
    assert_gradient_close(grad, numerical_gradient(f, x), name="dropout input")
    # The same mask scales forward and backward: inverted dropout keeps units at 1 / keep.
    mask = out / x
    np.testing.assert_allclose(grad, g * mask, rtol=1e-15)
    kept = mask != 0
    np.testing.assert_allclose(mask[kept], 1.0 / (1.0 - rate), rtol=1e-12)


def test_dropout_keeps_the_expected_fraction(rng):
    layer = Dropout(0.3, rng=rng)
    out = layer.forward(np.ones((400, 250)), training=True)
    assert abs(np.mean(out != 0) - 0.7) < 0.01
    # Inverted dropout preserves the mean activation.
    assert abs(out.mean() - 1.0) < 0.02


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_dropout_is_identity_at_inference(rng, rate):
    layer = Dropout(rate, rng=rng)
    x = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)


def test_dropout_rate_zero_is_identity_in_training(rng):
    layer = Dropout(0.0, rng=rng)
    x = rng.standard_normal((4, 3))
    g = rng.standard_normal((4, 3))
    np.testing.assert_array_equal(layer.forward(x, training=True), x)
    np.testing.assert_array_equal(layer.backward(g), g)


def test_dropout_backward_before_forward_raises(rng):
    layer = Dropout(0.5, rng=rng)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 3)))


def test_dropout_inference_forward_caches_nothing(rng):
    layer = Dropout(0.5, rng=rng)
    x = rng.standard_normal((4, 3))
    layer.forward(x, training=True)
    layer.forward(x, training=False)
    with pytest.raises(RuntimeError):
        layer.backward(np.ones((4, 3)))


def test_dropout_backward_does_not_mutate_grad_out(rng):
    layer = Dropout(0.5, rng=rng)
    layer.forward(rng.standard_normal((4, 3)), training=True)
    g = rng.standard_normal((4, 3))
    g_copy = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, g_copy)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_dtype(rng, dtype):
    layer = Dropout(0.5, rng=rng)
    x = rng.standard_normal((4, 3)).astype(dtype)
    assert layer.forward(x, training=True).dtype == dtype
    assert layer.backward(np.ones((4, 3), dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), "0.5", None])
def test_dropout_validates_rate(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(rate)


def test_dropout_config():
    assert Dropout(0.25).get_config() == {"rate": 0.25}


# --- Parameter and FlatParameters -----------------------------------------------------------


def test_parameter_of_has_zero_grad():
    p = Parameter.of(np.arange(6.0).reshape(2, 3), decay=False, name="b")
    assert p.grad.shape == (2, 3) and p.grad.dtype == p.value.dtype
    np.testing.assert_array_equal(p.grad, 0)
    assert not p.decay and p.name == "b"


def test_flat_parameters_are_views_into_one_buffer(rng):
    model = build_mlp(5, [4, 3], 2, rng=rng)
    flat = model.flat
    dense = [layer for layer in model.layers if hasattr(layer, "weight")]
    assert len(flat) == flat.size == sum(p.value.size for p in model.parameters())
    for p in model.parameters():
        assert np.shares_memory(p.value, flat.values)
        assert np.shares_memory(p.grad, flat.grads)
    # Writing the flat buffer changes the layers' weights, and the reverse.
    flat.values[:] = np.arange(flat.size, dtype=flat.dtype)
    offset = 0
    for p in flat.params:
        np.testing.assert_array_equal(
            p.value.ravel(), np.arange(offset, offset + p.value.size, dtype=flat.dtype)
        )
        offset += p.value.size
    dense[0].weight.value[0, 0] = -1.0
    assert flat.values[0] == -1.0


def test_flat_parameters_put_decayed_first(rng):
    model = build_mlp(5, [4, 3], 2, rng=rng)
    flat = model.flat
    dense = [layer for layer in model.layers if hasattr(layer, "weight")]
    assert flat.n_decay == sum(layer.weight.value.size for layer in dense)
    decays = [p.decay for p in flat.params]
    assert decays == sorted(decays, reverse=True)
    np.testing.assert_array_equal(
        flat.decayed_values, np.concatenate([layer.weight.value.ravel() for layer in dense])
    )
    assert np.shares_memory(flat.decayed_values, flat.values)
    assert np.shares_memory(flat.decayed_grads, flat.grads)
    assert flat.decayed_grads.size == flat.n_decay


def test_flat_parameters_keep_values(rng):
    params = [
        Parameter.of(rng.standard_normal((3, 2))),
        Parameter.of(rng.standard_normal(2), decay=False),
        Parameter.of(rng.standard_normal((2, 4))),
    ]
    before = [p.value.copy() for p in params]
    flat = FlatParameters(params)
    for p, value in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.value, value)
        assert p.value.shape == value.shape
    assert flat.params == [params[0], params[2], params[1]]
    assert flat.n_decay == 6 + 8


def test_flat_parameters_reject_mixed_dtypes():
    params = [
        Parameter.of(np.zeros((2, 2), dtype=np.float32)),
        Parameter.of(np.zeros(2, dtype=np.float64), decay=False),
    ]
    with pytest.raises(TypeError, match="dtype"):
        FlatParameters(params)


def test_flat_parameters_reject_empty():
    with pytest.raises(ValueError):
        FlatParameters([])


def test_flat_parameters_of_reuses_the_model_buffer(rng):
    model = build_mlp(5, [4], 2, rng=rng)
    assert flat_parameters_of(model.parameters()) is model.flat
    assert flat_parameters_of(model.flat) is model.flat
