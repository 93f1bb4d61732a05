"""Softmax, log-softmax, softmax cross-entropy and the L2 penalty."""

import math

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.losses import (
    SoftmaxCrossEntropy,
    add_l2_grad,
    l2_penalty,
    log_softmax,
    softmax,
)
from neural_network.core.model import build_mlp


def _one_hot(labels, n_classes):
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _reference_loss(logits, labels):
    """Mean cross-entropy written the naive way (fine for moderate logits)."""
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(probs[np.arange(len(labels)), labels])))


# --- gradient -------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(6, 4), (1, 2), (9, 10)])
def test_cross_entropy_gradient(rng, n, k):
    logits = rng.standard_normal((n, k)) * 2
    labels = rng.integers(0, k, size=n)
    criterion = SoftmaxCrossEntropy()
    criterion.forward(logits, labels)
    grad = criterion.backward().copy()
    numeric = numerical_gradient(lambda: criterion.forward(logits, labels), logits)
    assert_gradient_close(grad, numeric, name="logits")


def test_cross_entropy_backward_formula(rng):
    logits = rng.standard_normal((7, 5)) * 3
    labels = rng.integers(0, 5, size=7)
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(logits, labels)
    np.testing.assert_allclose(criterion.probs, softmax(logits), rtol=1e-14)
    expected = (softmax(logits) - _one_hot(labels, 5)) / 7
    np.testing.assert_allclose(criterion.backward(), expected, rtol=1e-12, atol=1e-17)
    assert loss == pytest.approx(_reference_loss(logits, labels), rel=1e-12)


def test_cross_entropy_gradient_rows_sum_to_zero(rng):
    logits = rng.standard_normal((8, 6))
    criterion = SoftmaxCrossEntropy()
    criterion.forward(logits, rng.integers(0, 6, size=8))
    np.testing.assert_allclose(criterion.backward().sum(axis=1), 0.0, atol=1e-16)


# --- stability ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    labels = np.array([0, 0, 2])
    criterion = SoftmaxCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = criterion.forward(logits, labels)
        grad = criterion.backward()
    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))
    assert grad.dtype == dtype
    # Sample 0 is right with certainty (loss 0), sample 1 is wrong by 2e4, and sample 2 is
    # wrong by 2e4 against two tied classes (loss 2e4 + log 2).
    assert loss == pytest.approx((0.0 + 2e4 + 2e4 + math.log(2)) / 3, rel=1e-6)
    expected = (np.array([[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0]]) - _one_hot(labels, 3)) / 3
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k", [2, 3, 10, 1000])
def test_zero_logits_give_log_n_classes(k):
    labels = np.arange(8) % k
    criterion = SoftmaxCrossEntropy()
    loss = criterion.forward(np.zeros((8, k)), labels)
    np.testing.assert_allclose(loss, math.log(k), rtol=1e-12)
    expected = (np.full((8, k), 1.0 / k) - _one_hot(labels, k)) / 8
    np.testing.assert_allclose(criterion.backward(), expected, rtol=1e-12)


def test_softmax_and_log_softmax_are_finite_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e300, 0.0, 1e300]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        probs = softmax(logits)
        log_probs = log_softmax(logits)
    np.testing.assert_array_equal(probs, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(log_probs, [[0.0, -2e4, -1e4], [-2e300, -1e300, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
def test_softmax_rows_sum_to_one(rng, dtype, scale):
    logits = (rng.standard_normal((20, 7)) * scale).astype(dtype)
    probs = softmax(logits)
    assert probs.dtype == dtype
    assert np.all(probs >= 0)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=tol)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
def test_log_softmax_is_log_of_softmax(rng, scale):
    logits = rng.standard_normal((20, 7)) * scale
    log_probs = log_softmax(logits)
    with np.errstate(divide="ignore"):
        log_of_probs = np.log(softmax(logits))
    finite = np.isfinite(log_of_probs)
    assert finite.any()
    np.testing.assert_allclose(log_probs[finite], log_of_probs[finite], rtol=1e-10, atol=1e-12)
    assert np.all(np.isfinite(log_probs))
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, rtol=1e-12)


def test_softmax_is_shift_invariant(rng):
    logits = rng.standard_normal((4, 5))
    np.testing.assert_allclose(softmax(logits + 123.0), softmax(logits), rtol=1e-12)


# --- contracts ------------------------------------------------------------------------------


def test_cross_entropy_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        SoftmaxCrossEntropy().backward()


def test_cross_entropy_forward_does_not_mutate_logits(rng):
    logits = rng.standard_normal((4, 3))
    copy = logits.copy()
    criterion = SoftmaxCrossEntropy()
    criterion.forward(logits, np.array([0, 1, 2, 0]))
    criterion.backward()
    np.testing.assert_array_equal(logits, copy)


# --- L2 -------------------------------------------------------------------------------------


def test_l2_penalty_counts_weights_only(rng):
    model = build_mlp(4, [3], 2, rng=rng, dtype=np.float64)
    dense = [layer for layer in model.layers if hasattr(layer, "weight")]
    for layer in dense:
        layer.bias.value[...] = rng.standard_normal(layer.bias.value.shape) * 10
    weights_sq = sum(float(np.sum(layer.weight.value**2)) for layer in dense)
    assert l2_penalty(model.flat, 0.3) == pytest.approx(0.5 * 0.3 * weights_sq, rel=1e-12)
    assert l2_penalty(model.flat, 0.0) == 0.0


def test_add_l2_grad_adds_l2_times_weights(rng):
    model = build_mlp(4, [3], 2, rng=rng, dtype=np.float64)
    dense = [layer for layer in model.layers if hasattr(layer, "weight")]
    model.flat.grads[:] = rng.standard_normal(model.flat.size)
    before = [(layer.weight.grad.copy(), layer.bias.grad.copy()) for layer in dense]
    add_l2_grad(model.flat, 0.3)
    for layer, (weight_grad, bias_grad) in zip(dense, before, strict=True):
        np.testing.assert_allclose(
            layer.weight.grad, weight_grad + 0.3 * layer.weight.value, rtol=1e-14
        )
        np.testing.assert_array_equal(layer.bias.grad, bias_grad)
    grads = model.flat.grads.copy()
    add_l2_grad(model.flat, 0.0)
    np.testing.assert_array_equal(model.flat.grads, grads)


def test_add_l2_grad_is_the_penalty_gradient(rng):
    model = build_mlp(3, [2], 2, rng=rng, dtype=np.float64)
    model.flat.grads[:] = 0.0
    add_l2_grad(model.flat, 0.7)
    numeric = numerical_gradient(lambda: l2_penalty(model.flat, 0.7), model.flat.values)
    assert_gradient_close(model.flat.grads, numeric, name="l2")
