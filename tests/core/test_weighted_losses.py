"""The regression losses and sample weights: gradients by finite differences and against
PyTorch, and weights against duplicated samples."""

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.losses import HalfSquaredError, Huber, SoftmaxCrossEntropy
from neural_network.core.model import build_mlp


def _criteria():
    return [HalfSquaredError(), Huber(0.7)]


def _targets_for(criterion, rng, n, k):
    if isinstance(criterion, SoftmaxCrossEntropy):
        return rng.integers(0, k, size=n)
    return rng.standard_normal((n, k)) * 2


def _repeat(targets, counts):
    return np.repeat(targets, counts, axis=0)


# --- values -----------------------------------------------------------------------------------


def test_half_squared_error_is_half_the_mean_squared_error(rng):
    outputs, targets = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    loss = HalfSquaredError().forward(outputs, targets)
    assert loss == pytest.approx(0.5 * np.mean((outputs - targets) ** 2), rel=1e-14)


def test_huber_is_quadratic_inside_delta_and_linear_outside():
    huber = Huber(delta=1.0)
    outputs = np.array([[0.5], [-0.25], [3.0], [-4.0]])
    per_sample = huber.per_sample(outputs, np.zeros_like(outputs))
    np.testing.assert_allclose(per_sample, [0.125, 0.03125, 2.5, 3.5], rtol=1e-15)
    # Far out, the gradient is delta (times 1/n), whatever the residual's size.
    huber.forward(outputs, np.zeros_like(outputs))
    np.testing.assert_allclose(huber.backward()[2:, 0], [1 / 4, -1 / 4], rtol=1e-15)


def test_huber_with_a_large_delta_is_the_half_squared_error(rng):
    outputs, targets = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    assert Huber(1e6).forward(outputs, targets) == HalfSquaredError().forward(outputs, targets)


@pytest.mark.parametrize("delta", [0.0, -1.0, float("inf"), float("nan")])
def test_huber_rejects_a_bad_delta(delta):
    with pytest.raises(ValueError, match="delta"):
        Huber(delta)


def test_regression_targets_are_checked():
    loss = HalfSquaredError()
    assert loss.check_targets(np.arange(3.0), 1).shape == (3, 1)
    with pytest.raises(ValueError, match="shape"):
        loss.check_targets(np.zeros((3, 2)), 1)
    with pytest.raises(ValueError, match="NaN"):
        loss.check_targets(np.array([[np.nan]]), 1)
    with pytest.raises(ValueError, match="real"):
        loss.check_targets(np.array([["a"]]), 1)


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize("criterion", _criteria(), ids=["squared", "huber"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("n", "k"), [(7, 1), (5, 3)])
def test_regression_loss_gradient(rng, criterion, weighted, n, k):
    outputs = rng.standard_normal((n, k)) * 2
    targets = rng.standard_normal((n, k))
    weights = rng.uniform(0.1, 3.0, size=n) if weighted else None
    criterion.forward(outputs, targets, weights)
    grad = criterion.backward().copy()
    numeric = numerical_gradient(lambda: criterion.forward(outputs, targets, weights), outputs)
    assert_gradient_close(grad, numeric, name="outputs")


def test_weighted_cross_entropy_gradient(rng):
    logits = rng.standard_normal((6, 4)) * 2
    labels = rng.integers(0, 4, size=6)
    weights = rng.uniform(0.1, 3.0, size=6)
    criterion = SoftmaxCrossEntropy()
    criterion.forward(logits, labels, weights)
    grad = criterion.backward().copy()
    numeric = numerical_gradient(lambda: criterion.forward(logits, labels, weights), logits)
    assert_gradient_close(grad, numeric, name="logits")


@pytest.mark.parametrize(
    "criterion", [SoftmaxCrossEntropy(), *_criteria()], ids=["cross_entropy", "squared", "huber"]
)
def test_weights_equal_duplicated_samples_through_a_network(rng, criterion):
    """On one full batch in float64, integer weights (0 included) give the loss and every
    parameter gradient of the data with each sample repeated that many times."""
    n, k = 9, 3
    model = build_mlp(4, [6, 5], k, activation="tanh", rng=rng, dtype=np.float64)
    x = rng.standard_normal((n, 4))
    targets = _targets_for(criterion, rng, n, k)
    counts = np.array([1, 0, 3, 2, 1, 0, 4, 1, 2])

    loss = criterion.forward(model.forward(x, training=True), targets, counts.astype(float))
    model.backward(criterion.backward())
    weighted_grads = model.flat.grads.copy()

    x_repeated, targets_repeated = _repeat(x, counts), _repeat(targets, counts)
    repeated_loss = criterion.forward(model.forward(x_repeated, training=True), targets_repeated)
    model.backward(criterion.backward())

    assert loss == pytest.approx(repeated_loss, abs=1e-10, rel=0)
    np.testing.assert_allclose(weighted_grads, model.flat.grads, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "criterion", [SoftmaxCrossEntropy(), *_criteria()], ids=["cross_entropy", "squared", "huber"]
)
def test_scaling_the_weights_changes_nothing(rng, criterion):
    outputs = rng.standard_normal((5, 3))
    targets = _targets_for(criterion, rng, 5, 3)
    weights = rng.uniform(0.5, 2.0, size=5)
    loss = criterion.forward(outputs.copy(), targets, weights)
    grad = criterion.backward().copy()
    assert criterion.forward(outputs.copy(), targets, 1000 * weights) == pytest.approx(loss)
    np.testing.assert_allclose(criterion.backward(), grad, rtol=1e-12)


@pytest.mark.parametrize(
    "criterion", [SoftmaxCrossEntropy(), *_criteria()], ids=["cross_entropy", "squared", "huber"]
)
def test_weights_must_fit_the_batch(rng, criterion):
    outputs = rng.standard_normal((4, 2))
    targets = _targets_for(criterion, rng, 4, 2)
    with pytest.raises(ValueError, match="3 entries for 4 samples"):
        criterion.forward(outputs, targets, np.ones(3))
    with pytest.raises(ValueError, match="sum to more than 0"):
        criterion.forward(outputs, targets, np.zeros(4))


def test_regression_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="before forward"):
        HalfSquaredError().backward()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regression_gradient_keeps_the_dtype(rng, dtype):
    outputs = rng.standard_normal((4, 2)).astype(dtype)
    targets = rng.standard_normal((4, 2)).astype(dtype)
    for criterion in _criteria():
        criterion.forward(outputs, targets, np.ones(4))
        assert criterion.backward().dtype == dtype


# --- against PyTorch --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_losses_and_gradients_match_pytorch(rng, weighted):
    torch = pytest.importorskip("torch")
    n, k = 8, 3
    outputs = rng.standard_normal((n, k)) * 2
    targets = rng.standard_normal((n, k))
    labels = rng.integers(0, k, size=n)
    weights = rng.uniform(0.1, 3.0, size=n) if weighted else np.ones(n)
    w = torch.tensor(weights)

    def torch_mean(per_sample):
        return (w * per_sample).sum() / w.sum()

    cases = [
        (
            SoftmaxCrossEntropy(),
            labels,
            lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(labels), reduction="none"),
        ),
        (
            HalfSquaredError(),
            targets,
            lambda z: (
                0.5
                * torch.nn.functional.mse_loss(z, torch.tensor(targets), reduction="none").mean(
                    dim=1
                )
            ),
        ),
        (
            Huber(0.8),
            targets,
            lambda z: torch.nn.functional.huber_loss(
                z, torch.tensor(targets), reduction="none", delta=0.8
            ).mean(dim=1),
        ),
    ]
    for criterion, y, torch_per_sample in cases:
        z = torch.tensor(outputs, requires_grad=True)
        expected = torch_mean(torch_per_sample(z))
        expected.backward()
        loss = criterion.forward(outputs.copy(), y, weights if weighted else None)
        assert loss == pytest.approx(expected.item(), rel=1e-12)
        np.testing.assert_allclose(criterion.backward(), z.grad.numpy(), rtol=1e-10, atol=1e-15)
