"""Activations: gradient checks, forward values and the Layer contract."""

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.activations import (
    ACTIVATIONS,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Tanh,
    get_activation,
)

LAYERS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "leaky_relu_0.2": lambda: LeakyReLU(0.2),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "identity": Identity,
}


def _off_kink(rng, shape, low=1e-2, high=3.0):
    """Inputs with ``low <= |x| <= high`` and random signs: never within a step of 0."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_gradient(rng, name):
    layer = LAYERS[name]()
    x = _off_kink(rng, (6, 5))
    assert np.min(np.abs(x)) > 1e-3
    g = rng.standard_normal((6, 5))
    layer.forward(x, training=True)
    grad = layer.backward(g)

    def f():
        return float(np.sum(layer.forward(x, training=False) * g))

    assert_gradient_close(grad, numerical_gradient(f, x), name=name)


@pytest.mark.parametrize(
    ("cls", "expected"),
    [
        (ReLU, lambda x: np.maximum(x, 0)),
        (LeakyReLU, lambda x: np.where(x > 0, x, 0.01 * x)),
        (Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
        (Tanh, np.tanh),
        (Identity, lambda x: x),
    ],
)
def test_activation_forward_values(rng, cls, expected):
    x = rng.standard_normal((5, 4)) * 3
    np.testing.assert_allclose(cls().forward(x), expected(x), rtol=1e-14, atol=1e-300)


def test_leaky_relu_alpha():
    x = np.array([[-2.0, -0.5, 0.0, 1.5]])
    np.testing.assert_array_equal(LeakyReLU(0.25).forward(x), [[-0.5, -0.125, 0.0, 1.5]])
    assert LeakyReLU(0.25).get_config() == {"alpha": 0.25}


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 2.0, "0.1", None])
def test_leaky_relu_validates_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        LeakyReLU(alpha)


def test_relu_derivative_at_zero_is_zero():
    layer = ReLU()
    layer.forward(np.array([[0.0, -1.0, 2.0]]), training=True)
    np.testing.assert_array_equal(layer.backward(np.array([[5.0, 5.0, 5.0]])), [[0.0, 0.0, 5.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_and_saturates(dtype):
    x = np.array([[-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4]], dtype=dtype)
    layer = Sigmoid()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = layer.forward(x, training=True)
        grad = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    assert out[0, 0] == 0.0 and out[0, -1] == 1.0 and out[0, 3] == 0.5
    assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_backward_before_forward_raises(name):
    with pytest.raises(RuntimeError, match="before forward"):
        LAYERS[name]().backward(np.ones((2, 3)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_inference_forward_caches_nothing(rng, name):
    layer = LAYERS[name]()
    x = _off_kink(rng, (3, 4))
    layer.forward(x, training=True)
    layer.forward(x, training=False)
    with pytest.raises(RuntimeError):
        layer.backward(np.ones((3, 4)))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_activation_backward_does_not_mutate_grad_out(rng, name):
    layer = LAYERS[name]()
    layer.forward(_off_kink(rng, (3, 4)), training=True)
    g = rng.standard_normal((3, 4))
    g_copy = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(g, g_copy)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activation_keeps_dtype(rng, name, dtype):
    layer = LAYERS[name]()
    x = _off_kink(rng, (3, 4)).astype(dtype)
    assert layer.forward(x, training=True).dtype == dtype
    assert layer.backward(np.ones((3, 4), dtype=dtype)).dtype == dtype


def test_activations_table():
    assert {
        "relu": ReLU,
        "leaky_relu": LeakyReLU,
        "sigmoid": Sigmoid,
        "tanh": Tanh,
        "identity": Identity,
    } == ACTIVATIONS
    for name, cls in ACTIVATIONS.items():
        assert get_activation(name) is cls
        assert cls().parameters() == []


@pytest.mark.parametrize("name", ["softplus", "ReLU", "", None, ["relu"]])
def test_unknown_activation_lists_valid_names(name):
    with pytest.raises(ValueError, match="Unknown activation") as info:
        get_activation(name)
    for valid in ACTIVATIONS:
        assert repr(valid) in str(info.value)


def test_identity_passes_values_and_gradients_through_without_copies(rng):
    layer = Identity()
    x = rng.standard_normal((4, 3))
    assert layer.forward(x, training=True) is x
    g = rng.standard_normal((4, 3))
    assert layer.backward(g) is g
    assert Identity.default_init == "xavier_normal" and Identity().get_config() == {}


def test_activations_match_pytorch_in_float64(rng):
    torch = pytest.importorskip("torch")
    functions = {
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "identity": torch.nn.Identity(),
    }
    assert set(functions) == set(ACTIVATIONS)
    x = _off_kink(rng, (5, 6))
    g = rng.standard_normal((5, 6))
    for name, function in functions.items():
        z = torch.tensor(x, requires_grad=True)
        (function(z) * torch.tensor(g)).sum().backward()
        layer = ACTIVATIONS[name]()
        np.testing.assert_allclose(
            layer.forward(x, training=True), function(z).detach().numpy(), rtol=1e-13
        )
        np.testing.assert_allclose(layer.backward(g), z.grad.numpy(), rtol=1e-13, err_msg=name)
