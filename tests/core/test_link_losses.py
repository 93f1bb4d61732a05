"""Binary cross-entropy on logits (multilabel) and half the Poisson deviance (log link):
gradient checks, PyTorch and scikit-learn references, stability, targets, training."""

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.layers import Dense
from neural_network.core.link_losses import (
    HalfPoissonDeviance,
    SigmoidBinaryCrossEntropy,
    sigmoid,
    softplus,
)
from neural_network.core.losses import HalfSquaredError, SoftmaxCrossEntropy, softmax
from neural_network.core.model import Sequential, build_mlp
from neural_network.optim.optimizers import Adam
from neural_network.train.loop import evaluate, fit

LOSSES = {"bce": SigmoidBinaryCrossEntropy, "poisson": HalfPoissonDeviance}

try:  # at collection, as the estimator tests do: scipy's BLAS library, loaded in the middle of
    # a run, would escape the thread limits core.threads set up before (tests/core/test_threads)
    from sklearn import linear_model
    from sklearn.neural_network import _base as sklearn_mlp_losses
except ModuleNotFoundError:
    linear_model = sklearn_mlp_losses = None
needs_sklearn = pytest.mark.skipif(linear_model is None, reason="scikit-learn is not installed")


def _targets(rng, name, shape):
    if name == "bce":
        return rng.integers(0, 2, size=shape).astype(np.float64)
    return rng.poisson(2.0, size=shape).astype(np.float64)  # with zeros


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize(("n", "k"), [(6, 4), (1, 1), (9, 3)])
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_finite_differences(rng, name, n, k, weighted):
    outputs = rng.standard_normal((n, k)) * 1.5
    targets = _targets(rng, name, (n, k))
    weights = rng.uniform(0.1, 3.0, size=n) if weighted else None
    criterion = LOSSES[name]()
    criterion.forward(outputs, targets, weights)
    grad = criterion.backward().copy()
    numeric = numerical_gradient(lambda: criterion.forward(outputs, targets, weights), outputs)
    assert_gradient_close(grad, numeric, name=name)


@pytest.mark.parametrize("weighted", [False, True])
def test_losses_and_gradients_match_pytorch(rng, weighted):
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    n, k = 12, 5
    outputs = rng.standard_normal((n, k)) * 2
    weights = rng.uniform(0.2, 2.0, size=n) if weighted else None
    w = torch.ones(n, dtype=torch.float64) if weights is None else torch.tensor(weights)

    def poisson(z, y):
        # PyTorch leaves out the terms without z; they are added back here.
        constant = torch.special.xlogy(y, y) - y
        return functional.poisson_nll_loss(z, y, log_input=True, reduction="none") + constant

    cases = [
        (SigmoidBinaryCrossEntropy(), _targets(rng, "bce", (n, k)),
         lambda z, y: functional.binary_cross_entropy_with_logits(z, y, reduction="none")),
        (HalfPoissonDeviance(), _targets(rng, "poisson", (n, k)), poisson),
    ]  # fmt: skip
    for criterion, targets, reference in cases:
        z = torch.tensor(outputs, requires_grad=True)
        per_sample = reference(z, torch.tensor(targets)).sum(dim=1)
        expected = (w * per_sample).sum() / w.sum()
        expected.backward()
        loss = criterion.forward(outputs, targets, weights)
        assert loss == pytest.approx(expected.item(), rel=1e-13)
        np.testing.assert_allclose(criterion.backward(), z.grad.numpy(), rtol=1e-12, atol=1e-16)
        np.testing.assert_allclose(
            criterion.per_sample(outputs, targets), per_sample.detach().numpy(), rtol=1e-13
        )


@needs_sklearn
def test_losses_are_sklearns_mlp_losses(rng):
    """The same per-output sums and weighted means as scikit-learn's MLP loss functions, given
    the probabilities and means our outputs stand for."""
    base = sklearn_mlp_losses
    outputs = rng.standard_normal((20, 3))
    weights = rng.uniform(0.5, 2.0, size=20)
    labels = _targets(rng, "bce", (20, 3))
    counts = _targets(rng, "poisson", (20, 3))
    bce, poisson = SigmoidBinaryCrossEntropy(), HalfPoissonDeviance()
    assert bce.forward(outputs, labels, weights) == pytest.approx(
        base.binary_log_loss(labels, bce.output_activation(outputs), weights), rel=1e-12
    )
    assert poisson.forward(outputs, counts, weights) == pytest.approx(
        base.poisson_loss(counts, poisson.output_activation(outputs), weights), rel=1e-12
    )
    assert (bce.out_activation, poisson.out_activation) == ("logistic", "exp")
    assert (SoftmaxCrossEntropy.out_activation, HalfSquaredError.out_activation) == (
        "softmax",
        "identity",
    )


def test_output_activations():
    z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(SigmoidBinaryCrossEntropy.output_activation(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(HalfPoissonDeviance.output_activation(z), np.exp(z))
    np.testing.assert_allclose(SoftmaxCrossEntropy.output_activation(z), softmax(z))
    assert HalfSquaredError.output_activation(z) is z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_finite_for_huge_logits(dtype):
    logits = np.array([[-1e4, 1e4, -100.0, 100.0, 0.0]], dtype=dtype)
    targets = np.array([[1.0, 0.0, 0.0, 1.0, 1.0]], dtype=dtype)
    criterion = SigmoidBinaryCrossEntropy()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        loss = criterion.forward(logits, targets)
        grad = criterion.backward()
        assert np.isfinite(softplus(logits)).all()
    assert loss == pytest.approx(2e4 + np.log(2), rel=1e-6)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, [[-1.0, 1.0, 0.0, 0.0, -0.5]], atol=1e-30)
    np.testing.assert_array_equal(sigmoid(logits)[0, :2], [0.0, 1.0])


def test_perfect_predictions_cost_nothing():
    counts = np.array([[0.0, 1.0], [4.0, 0.5]])
    log_means = np.log(np.where(counts > 0, counts, 1e-300))
    criterion = HalfPoissonDeviance()
    assert criterion.forward(log_means, counts) == pytest.approx(0.0, abs=1e-12)
    labels = np.array([[0.0, 1.0]])
    assert SigmoidBinaryCrossEntropy().forward(np.array([[-50.0, 50.0]]), labels) < 1e-20


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_backward_before_forward_raises(name):
    with pytest.raises(RuntimeError, match="before forward"):
        LOSSES[name]().backward()


@pytest.mark.parametrize(
    ("name", "targets", "match"),
    [
        ("bce", [[0.0, 2.0]], r"\[0, 1\]"),
        ("bce", [[0.0, -1.0]], r"\[0, 1\]"),
        ("poisson", [[0.0, -1.0]], ">= 0"),
        ("poisson", [[0.0, np.nan]], "NaN"),
        ("bce", [[0.0, 1.0, 1.0]], r"\(n_samples, 2\)"),
        ("poisson", [["a", "b"]], "real numbers"),
    ],
)
def test_bad_targets_are_named(name, targets, match):
    with pytest.raises(ValueError, match=match):
        LOSSES[name].check_targets(np.array(targets), 2)


def test_check_targets_takes_booleans_and_one_column():
    indicator = SigmoidBinaryCrossEntropy.check_targets(np.array([[True, False]]), 2)
    np.testing.assert_array_equal(indicator, [[1, 0]])
    assert HalfPoissonDeviance.check_targets(np.array([1.0, 2.0]), 1).shape == (2, 1)


def test_fit_learns_multilabel_targets(rng):
    x = rng.standard_normal((200, 5)).astype(np.float32)
    labels = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] < 0.5], axis=1)
    model = build_mlp(5, [16], 3, rng=rng)
    criterion = SigmoidBinaryCrossEntropy()
    history = fit(
        model, x, labels, optimizer=Adam(model.flat, lr=0.01), epochs=40, batch_size=32,
        rng=rng, loss=criterion, validation_data=(x, labels),
    )  # fmt: skip
    assert history.train_loss[-1] < 0.3 * history.train_loss[0]
    assert history.train_accuracy == [] and history.val_accuracy == []
    predicted = SigmoidBinaryCrossEntropy.output_activation(model.predict_logits(x)) > 0.5
    assert (predicted == labels).mean() > 0.95
    loss, accuracy = evaluate(model, x, labels.astype(np.float32), loss=criterion)
    assert accuracy is None and loss == pytest.approx(history.val_loss[-1], rel=1e-6)


@needs_sklearn
def test_poisson_without_hidden_layers_is_sklearns_poisson_regression(rng):
    """One Dense layer with a log link is a Poisson GLM: L-BFGS reaches scikit-learn's fit."""
    from neural_network.train.lbfgs import train_lbfgs

    x = rng.uniform(0, 1, size=(100, 2))
    y = rng.poisson(np.exp(x @ np.array([1.0, -0.5]) + 1)).astype(np.float64)
    weights = rng.uniform(0.5, 2.0, size=100)
    model = Sequential([Dense(2, 1, init="xavier_normal", rng=rng, dtype=np.float64)])
    result = train_lbfgs(
        model, x, y, loss=HalfPoissonDeviance(), sample_weight=weights, tol=1e-10, ftol=1e-15,
        maxiter=1000,
    )  # fmt: skip
    assert result.converged
    glm = linear_model.PoissonRegressor(alpha=0, tol=1e-10, max_iter=1000)
    glm.fit(x, y, sample_weight=weights)
    predicted = HalfPoissonDeviance.output_activation(model.predict_logits(x))[:, 0]
    np.testing.assert_allclose(predicted, glm.predict(x), rtol=1e-6)


@needs_sklearn
def test_one_sigmoid_output_without_hidden_layers_is_logistic_regression(rng):
    from neural_network.train.lbfgs import train_lbfgs

    x = rng.standard_normal((80, 3))
    y = (x @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.standard_normal(80) > 0).astype(float)
    model = Sequential([Dense(3, 1, init="xavier_normal", rng=rng, dtype=np.float64)])
    train_lbfgs(
        model, x, y, loss=SigmoidBinaryCrossEntropy(), alpha=2.0, tol=1e-10, ftol=1e-15,
        maxiter=1000,
    )  # fmt: skip
    reference = linear_model.LogisticRegression(C=1 / 2.0, tol=1e-12, max_iter=1000).fit(x, y)
    np.testing.assert_allclose(model.layers[0].weight.value[:, 0], reference.coef_[0], atol=1e-6)
    np.testing.assert_allclose(model.layers[0].bias.value, reference.intercept_, atol=1e-6)
