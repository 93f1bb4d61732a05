"""Adam and SGD against hand-computed updates, global-norm clipping, state, and denormals."""

import math

import numpy as np
import pytest

from neural_network.core.layers import Dense
from neural_network.core.losses import add_l2_grad, l2_penalty
from neural_network.core.model import build_mlp
from neural_network.core.parameters import FlatParameters, Parameter
from neural_network.optim.optimizers import (
    OPTIMIZERS,
    SGD,
    Adam,
    clip_by_global_norm,
    get_optimizer,
)


def _params(rng, dtype=np.float64):
    """A weight (2, 3) and a bias (3,), as two Parameters."""
    return [
        Parameter.of(rng.standard_normal((2, 3)).astype(dtype), name="weight"),
        Parameter.of(rng.standard_normal(3).astype(dtype), decay=False, name="bias"),
    ]


def _concat(arrays):
    return np.concatenate([np.ravel(a) for a in arrays])


def _gradient_sequence(rng, steps=3):
    """Per step, gradients for ``_params``: mixed signs and scales, including tiny entries
    (where Adam's eps matters) and exact zeros."""
    sequence = []
    for _ in range(steps):
        weight = rng.standard_normal((2, 3))
        weight[0, 0] = 3e-9 * rng.choice([-1, 1])
        bias = rng.standard_normal(3) * 10
        bias[1] = 0.0
        sequence.append([weight, bias])
    return sequence


# --- Adam -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lr", "beta1", "beta2", "eps"),
    [(1e-3, 0.9, 0.999, 1e-8), (0.05, 0.5, 0.9, 1e-8), (0.01, 0.0, 0.99, 1e-6)],
)
def test_adam_matches_the_formulas(rng, lr, beta1, beta2, eps):
    params = _params(rng)
    start = [p.value.copy() for p in params]
    optimizer = Adam(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps)
    expected = [p.value.copy() for p in params]
    m = [np.zeros_like(w) for w in expected]
    v = [np.zeros_like(w) for w in expected]
    for t, grads in enumerate(_gradient_sequence(rng), start=1):
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        optimizer.step()
        for i, g in enumerate(grads):
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g**2
            m_hat = m[i] / (1 - beta1**t)
            v_hat = v[i] / (1 - beta2**t)
            expected[i] = expected[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        for p, w, w0 in zip(params, expected, start, strict=True):
            # Compare the accumulated updates, not just the values, which are ~1000x larger.
            np.testing.assert_allclose(p.value - w0, w - w0, rtol=1e-6, atol=1e-15)
            np.testing.assert_allclose(p.value, w, rtol=1e-12)
        assert optimizer.iterations == t
        np.testing.assert_allclose(optimizer.m, _concat(m), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(optimizer.v, _concat(v), rtol=1e-12, atol=1e-300)


def test_adam_first_step_moves_each_weight_by_about_lr(rng):
    params = _params(rng)
    start = [p.value.copy() for p in params]
    optimizer = Adam(params, lr=0.01)
    for p in params:
        p.grad[...] = rng.standard_normal(p.value.shape) * 100
    optimizer.step()
    # With bias correction the first step is lr * g / (|g| + eps) = lr * sign(g).
    for p, w0 in zip(params, start, strict=True):
        np.testing.assert_allclose(p.value - w0, -0.01 * np.sign(p.grad), rtol=1e-6)


def test_adam_uses_the_current_lr(rng):
    params = _params(rng)
    optimizer = Adam(params, lr=1e-3)
    optimizer.lr = 0.1
    start = params[0].value.copy()
    params[0].grad[...] = 1.0
    optimizer.step()
    np.testing.assert_allclose(params[0].value, start - 0.1, rtol=1e-6)


def test_adam_float32(rng):
    params = _params(rng, np.float32)
    optimizer = Adam(params, lr=0.01)
    assert optimizer.flat.dtype == np.float32
    for p in params:
        p.grad[...] = 1.0
    optimizer.step()
    for p in params:
        assert p.value.dtype == np.float32
    assert optimizer.m.dtype == optimizer.v.dtype == np.float32


# --- SGD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [0.9, 0.5])
def test_sgd_momentum_matches_the_formulas(rng, momentum):
    params = _params(rng)
    optimizer = SGD(params, lr=0.1, momentum=momentum)
    expected = [p.value.copy() for p in params]
    velocity = [np.zeros_like(w) for w in expected]
    for grads in _gradient_sequence(rng):
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        optimizer.step()
        for i, g in enumerate(grads):
            velocity[i] = momentum * velocity[i] + g  # PyTorch's convention: no (1 - momentum)
            expected[i] = expected[i] - 0.1 * velocity[i]
        for p, w in zip(params, expected, strict=True):
            np.testing.assert_allclose(p.value, w, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(optimizer.velocity, _concat(velocity), rtol=1e-12)


def test_plain_sgd(rng):
    params = _params(rng)
    optimizer = SGD(params, lr=0.1, momentum=0.0)
    expected = [p.value.copy() for p in params]
    for grads in _gradient_sequence(rng):
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        optimizer.step()
        for i, g in enumerate(grads):
            expected[i] = expected[i] - 0.1 * g
        for p, w in zip(params, expected, strict=True):
            np.testing.assert_allclose(p.value, w, rtol=1e-14)


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize("lr", [0.0, -1e-3, float("nan"), float("inf"), "0.1", None])
def test_invalid_lr_raises(rng, cls, lr):
    with pytest.raises(ValueError, match="lr"):
        cls(_params(rng), lr=lr)


@pytest.mark.parametrize("name", ["beta1", "beta2"])
@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5, float("nan")])
def test_invalid_betas_raise(rng, name, beta):
    with pytest.raises(ValueError, match=name):
        Adam(_params(rng), **{name: beta})


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan")])
def test_invalid_eps_raises(rng, eps):
    with pytest.raises(ValueError, match="eps"):
        Adam(_params(rng), eps=eps)


@pytest.mark.parametrize("momentum", [-0.1, 1.0, 2.0, float("nan")])
def test_invalid_momentum_raises(rng, momentum):
    with pytest.raises(ValueError, match="momentum"):
        SGD(_params(rng), momentum=momentum)


def test_optimizer_registry():
    assert {"adam": Adam, "sgd": SGD} == OPTIMIZERS
    assert get_optimizer("adam") is Adam
    with pytest.raises(ValueError, match="'adam'") as info:
        get_optimizer("rmsprop")
    assert "'sgd'" in str(info.value)


def test_optimizer_config(rng):
    assert Adam(_params(rng), lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7).get_config() == {
        "lr": 0.01,
        "l2": 0.0,
        "clip_norm": None,
        "beta1": 0.8,
        "beta2": 0.99,
        "eps": 1e-7,
    }
    assert SGD(_params(rng), lr=0.1, momentum=0.5, l2=1e-4, clip_norm=5).get_config() == {
        "lr": 0.1,
        "l2": 1e-4,
        "clip_norm": 5.0,
        "momentum": 0.5,
    }


@pytest.mark.parametrize("cls", [SGD, Adam])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"l2": -0.1}, r"l2 .*-0\.1"),
        ({"l2": float("nan")}, r"l2 .*nan"),
        ({"clip_norm": 0.0}, r"clip_norm .*0\.0"),
        ({"clip_norm": -1.0}, r"clip_norm .*-1\.0"),
        ({"clip_norm": "5"}, r"clip_norm"),
    ],
)
def test_invalid_l2_and_clip_norm_raise(rng, cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(_params(rng), lr=0.01, **kwargs)


def test_optimizer_shares_the_model_buffer(rng):
    model = build_mlp(4, [3], 2, rng=rng)
    optimizer = Adam(model.parameters())
    assert optimizer.flat is model.flat
    model.flat.grads[:] = 1.0
    before = model.flat.values.copy()
    optimizer.step()
    assert np.all(model.layers[0].weight.value < before[:12].reshape(4, 3))


# --- state ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda p: Adam(p, lr=0.01), lambda p: SGD(p, lr=0.05, momentum=0.9)]
)
def test_state_dict_round_trip_gives_identical_steps(rng, make):
    seed_params = _params(rng)
    gradients = _gradient_sequence(rng, steps=5)
    first = make([Parameter.of(p.value.copy(), decay=p.decay) for p in seed_params])
    for grads in gradients[:3]:
        first.flat.grads[:] = _concat(grads)
        first.step()
    state = first.state_dict()
    # A fresh optimiser on a copy of the weights, given the saved state, continues identically.
    second = make([Parameter.of(p.value.copy(), decay=p.decay) for p in first.flat.params])
    second.load_state_dict(state)
    assert second.iterations == first.iterations == 3
    for grads in gradients[3:]:
        for optimizer in (first, second):
            optimizer.flat.grads[:] = _concat(grads)
            optimizer.step()
        np.testing.assert_array_equal(second.flat.values, first.flat.values)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_state_dict_is_a_copy(rng, cls):
    optimizer = cls(_params(rng), lr=0.01)
    optimizer.flat.grads[:] = 1.0
    optimizer.step()
    state = optimizer.state_dict()
    arrays = [key for key, value in state.items() if np.ndim(value) == 1]
    assert arrays
    for key in arrays:
        state[key][:] = 123.0
    for key in arrays:
        assert not np.any(optimizer.state_dict()[key] == 123.0)


# --- clipping -------------------------------------------------------------------------------


def _several_params(rng, scale):
    params = [
        Parameter.of(np.zeros((3, 4))),
        Parameter.of(np.zeros(4), decay=False),
        Parameter.of(np.zeros((4, 2))),
    ]
    flat = FlatParameters(params)
    flat.grads[:] = rng.standard_normal(flat.size) * scale
    return params, flat


def test_clip_returns_the_norm_and_caps_it(rng):
    params, flat = _several_params(rng, scale=10.0)
    before = [p.grad.copy() for p in params]
    expected_norm = math.sqrt(sum(float(np.sum(g**2)) for g in before))
    assert expected_norm > 5.0
    norm = clip_by_global_norm(flat, 5.0)
    assert norm == pytest.approx(expected_norm, rel=1e-12)
    assert np.linalg.norm(flat.grads) == pytest.approx(5.0, rel=1e-12)
    # One factor for every tensor: the joint direction is kept.
    factor = 5.0 / expected_norm
    for p, g in zip(params, before, strict=True):
        np.testing.assert_allclose(p.grad, g * factor, rtol=1e-12)
        assert np.linalg.norm(p.grad) < np.linalg.norm(g)


def test_clip_is_global_not_per_tensor(rng):
    params, flat = _several_params(rng, scale=1.0)
    params[0].grad[...] *= 100.0  # one large tensor, two small ones
    before = [p.grad.copy() for p in params]
    clip_by_global_norm(flat, 1.0)
    ratios = [
        np.linalg.norm(p.grad) / np.linalg.norm(g) for p, g in zip(params, before, strict=True)
    ]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    assert np.linalg.norm(params[2].grad) < 0.1  # a per-tensor clip would leave it at ~2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_leaves_small_gradients_untouched(rng, dtype):
    model = build_mlp(4, [3], 2, rng=rng, dtype=dtype)
    model.flat.grads[:] = rng.standard_normal(model.flat.size)
    before = model.flat.grads.copy()
    norm = clip_by_global_norm(model.parameters(), 1e6)
    assert norm == pytest.approx(np.linalg.norm(before.astype(np.float64)), rel=1e-6)
    np.testing.assert_array_equal(model.flat.grads, before)
    assert model.flat.grads.dtype == dtype
    # Exactly at the bound is within it.
    assert clip_by_global_norm(model.flat, norm) == norm
    np.testing.assert_array_equal(model.flat.grads, before)


def test_clip_none_only_measures(rng):
    _, flat = _several_params(rng, scale=1e3)
    before = flat.grads.copy()
    assert clip_by_global_norm(flat, None) == pytest.approx(np.linalg.norm(before), rel=1e-12)
    np.testing.assert_array_equal(flat.grads, before)


def test_clip_reports_non_finite_norms(rng):
    _, flat = _several_params(rng, scale=1.0)
    flat.grads[3] = np.nan
    assert math.isnan(clip_by_global_norm(flat, 1.0))
    flat.grads[3] = np.inf
    assert clip_by_global_norm(flat, None) == math.inf


# --- a step with L2 and clipping ---------------------------------------------------------------


def _model_and_gradients(rng, dtype=np.float64):
    model = build_mlp(5, [4], 3, rng=rng, dtype=dtype)
    for p in model.flat.params:
        if not p.decay:
            p.value[...] = rng.standard_normal(p.value.shape)
    grads = rng.standard_normal(model.flat.size).astype(dtype)
    return model, grads


@pytest.mark.parametrize("cls", [Adam, SGD])
@pytest.mark.parametrize("l2", [0.0, 0.1])
@pytest.mark.parametrize("clip_norm", [None, 0.5, 1e6])
def test_step_equals_l2_then_clip_then_the_update_rule(rng, cls, l2, clip_norm):
    fused_model, grads = _model_and_gradients(rng)
    plain_model = build_mlp(5, [4], 3, rng=rng, dtype=np.float64)
    plain_model.flat.values[:] = fused_model.flat.values
    fused = cls(fused_model.flat, lr=0.01, l2=l2, clip_norm=clip_norm)
    plain = cls(plain_model.flat, lr=0.01)
    for _ in range(3):
        fused_model.flat.grads[:] = grads
        plain_model.flat.grads[:] = grads
        expected_penalty = l2_penalty(plain_model.flat, l2)
        add_l2_grad(plain_model.flat, l2)
        expected_norm = clip_by_global_norm(plain_model.flat, clip_norm)
        plain.step()
        penalty, grad_norm = fused.step()
        assert penalty == pytest.approx(expected_penalty, rel=1e-12, abs=0.0)
        assert grad_norm == pytest.approx(expected_norm, rel=1e-12)
        np.testing.assert_allclose(fused_model.flat.grads, plain_model.flat.grads, rtol=1e-12)
        np.testing.assert_allclose(fused_model.flat.values, plain_model.flat.values, rtol=1e-12)
        assert fused.iterations == plain.iterations
    if clip_norm == 0.5:
        assert np.linalg.norm(fused_model.flat.grads) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_step_is_not_taken_on_non_finite_gradients(rng, bad):
    model, grads = _model_and_gradients(rng)
    optimizer = Adam(model.flat, lr=0.01, l2=0.1, clip_norm=1.0)
    grads[2] = bad
    model.flat.grads[:] = grads
    before = model.flat.values.copy()
    _, grad_norm = optimizer.step()
    assert not math.isfinite(grad_norm)
    np.testing.assert_array_equal(model.flat.values, before)
    assert optimizer.iterations == 0


# --- denormals ------------------------------------------------------------------------------


def _count_denormals(*arrays):
    tiny = np.finfo(np.float32).tiny
    return sum(int(np.count_nonzero((a != 0) & (np.abs(a) < tiny))) for a in arrays)


@pytest.mark.parametrize("scale", [1.0, 1e-3])
def test_adam_keeps_shrinking_weights_out_of_denormals(rng, scale):
    # Weights that see only an L2-type gradient (inputs always 0, dead units) shrink
    # geometrically; without flushing, they and their moments underflow into denormals.
    layer = Dense(20, 10, rng=rng, dtype=np.float32)
    layer.weight.value[...] *= np.float32(scale)
    flat = FlatParameters([layer.weight])
    optimizer = Adam(flat, lr=1e-3)
    denormals = 0
    for _ in range(2000):
        np.multiply(flat.values, np.float32(1e-4), out=flat.grads)
        optimizer.step()
        denormals += _count_denormals(
            flat.values, optimizer.m, optimizer.v, *optimizer.state_dict().values()
        )
    assert denormals == 0
    assert np.all(np.isfinite(flat.values))
    assert flat.values.dtype == np.float32
    assert np.max(np.abs(flat.values)) < scale  # they did shrink


def test_sgd_momentum_keeps_shrinking_weights_out_of_denormals(rng):
    layer = Dense(20, 10, rng=rng, dtype=np.float32)
    flat = FlatParameters([layer.weight])
    optimizer = SGD(flat, lr=0.5, momentum=0.9)
    denormals = 0
    for _ in range(2000):
        np.multiply(flat.values, np.float32(0.1), out=flat.grads)
        optimizer.step()
        denormals += _count_denormals(flat.values, *optimizer.state_dict().values())
    assert denormals == 0
    assert np.max(np.abs(flat.values)) < 1e-10
