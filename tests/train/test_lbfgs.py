"""L-BFGS through scipy: the objective's gradient, its optimum against scikit-learn's
logistic regression, the stopping limits and the refusals."""

import sys

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.layers import Dense, Dropout
from neural_network.core.losses import HalfSquaredError, SoftmaxCrossEntropy
from neural_network.core.model import Sequential, build_mlp
from neural_network.train import lbfgs
from neural_network.train.lbfgs import LBFGSResult, lbfgs_objective, train_lbfgs

pytest.importorskip("scipy")

try:  # at collection, as the estimator tests do: scipy's BLAS library, loaded in the middle of
    # a run, would escape the thread limits core.threads set up before (tests/core/test_threads)
    from sklearn import linear_model
except ModuleNotFoundError:
    linear_model = None
needs_sklearn = pytest.mark.skipif(linear_model is None, reason="scikit-learn is not installed")


def _blobs(rng, n=60, n_features=4, n_classes=3):
    labels = rng.integers(0, n_classes, size=n)
    centres = rng.standard_normal((n_classes, n_features)) * 1.5
    return centres[labels] + rng.standard_normal((n, n_features)), labels


@pytest.mark.parametrize("weighted", [False, True])
def test_objective_gradient_matches_finite_differences(rng, monkeypatch, weighted):
    monkeypatch.setattr(lbfgs, "CHUNK_ROWS", 7)  # several chunks, the last one short
    x, labels = _blobs(rng, n=20)
    model = build_mlp(4, [5], 3, activation="tanh", rng=rng, dtype=np.float64)
    weights = rng.uniform(0.0, 2.0, size=20) if weighted else None
    if weighted:
        weights[:7] = 0.0  # a whole chunk of weight 0
    objective = lbfgs_objective(model, x, labels, alpha=0.3, sample_weight=weights)
    theta = model.flat.values.copy()
    value, grad = objective(theta)
    numeric = numerical_gradient(lambda: objective(theta)[0], theta)
    assert_gradient_close(grad, numeric, name="theta")
    assert value > 0


def test_objective_is_sklearns_formula(rng):
    x, labels = _blobs(rng, n=30)
    model = build_mlp(4, [6], 3, rng=rng, dtype=np.float64)
    weights = rng.uniform(0.5, 2.0, size=30)
    objective = lbfgs_objective(model, x, labels, alpha=0.7, sample_weight=weights)
    value, _ = objective(model.flat.values.copy())
    per_sample = SoftmaxCrossEntropy.per_sample(model.forward(x), labels)
    squares = sum(float(np.sum(layer.weight.value**2)) for layer in model.layers[::2])
    expected = np.dot(weights, per_sample) / weights.sum() + 0.5 * 0.7 * squares / weights.sum()
    assert value == pytest.approx(expected, rel=1e-12)


def test_weight_two_is_the_sample_twice(rng):
    x, labels = _blobs(rng, n=12)
    model = build_mlp(4, [3], 3, rng=rng, dtype=np.float64)
    theta = model.flat.values.copy()
    weights = np.ones(12)
    weights[:4] = 2.0
    weighted = lbfgs_objective(model, x, labels, alpha=0.2, sample_weight=weights)(theta)
    twice = np.concatenate([np.arange(12), np.arange(4)])
    repeated = lbfgs_objective(model, x[twice], labels[twice], alpha=0.2)(theta)
    assert weighted[0] == pytest.approx(repeated[0], rel=1e-12)
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-10, atol=1e-14)


@needs_sklearn
def test_reaches_the_optimum_of_sklearns_logistic_regression(rng):
    """Without hidden layers the problem is convex: its minimum is scikit-learn's
    multinomial logistic regression with ``C = 1 / alpha`` (same penalty, biases free)."""
    x, labels = _blobs(rng, n=80)
    alpha = 0.5
    model = Sequential([Dense(4, 3, init="xavier_normal", rng=rng, dtype=np.float64)])
    result = train_lbfgs(model, x, labels, alpha=alpha, tol=1e-10, ftol=1e-15, maxiter=1000)
    reference = linear_model.LogisticRegression(C=1 / alpha, tol=1e-12, max_iter=5000)
    reference.fit(x, labels)
    np.testing.assert_allclose(model.layers[0].weight.value, reference.coef_.T, atol=1e-5)
    np.testing.assert_allclose(model.layers[0].bias.value, reference.intercept_, atol=1e-5)
    probs = reference.predict_proba(x)
    expected = -np.mean(np.log(probs[np.arange(80), labels]))
    expected += 0.5 * alpha * float(np.sum(reference.coef_**2)) / 80
    assert result.loss == pytest.approx(expected, rel=1e-8)
    assert result.converged and result.status == 0 and 0 < result.n_iter < 1000


def test_same_loss_as_scipy_on_a_plain_objective(rng):
    """A tiny regression with one hidden layer: the same start, the same scipy settings and an
    objective written independently in plain NumPy reach the same loss."""
    optimize = pytest.importorskip("scipy.optimize")
    x = rng.standard_normal((25, 3))
    y = np.sin(x @ np.array([1.0, -0.5, 0.3]))[:, None]
    model = build_mlp(3, [4], 1, activation="tanh", rng=rng, dtype=np.float64)
    start = model.flat.values.copy()
    sizes = [(3, 4), (4, 1)]  # the flat order: the weights first, then the biases

    def plain(theta):
        w1 = theta[:12].reshape(3, 4)
        w2 = theta[12:16].reshape(4, 1)
        b1, b2 = theta[16:20], theta[20:21]
        hidden = np.tanh(x @ w1 + b1)
        residual = hidden @ w2 + b2 - y
        value = 0.5 * np.mean(residual**2) + 0.5 * 0.1 * (np.sum(w1**2) + np.sum(w2**2)) / 25
        delta = residual / 25
        grad_w2 = hidden.T @ delta + 0.1 * w2 / 25
        delta_hidden = (delta @ w2.T) * (1 - hidden**2)
        grad_w1 = x.T @ delta_hidden + 0.1 * w1 / 25
        grads = [grad_w1, grad_w2, delta_hidden.sum(axis=0), delta.sum(axis=0)]
        return value, np.concatenate([g.ravel() for g in grads])

    assert sum(a * b for a, b in sizes) + 5 == len(start)
    # Over the first iterations the two paths agree to rounding; to convergence they part
    # by rounding (the problem is not convex) and meet again at the same loss.
    for maxiter, rel in [(15, 1e-9), (300, 1e-4)]:
        model.flat.values[...] = start
        options = {"maxiter": maxiter, "gtol": 1e-6}
        expected = optimize.minimize(plain, start, method="L-BFGS-B", jac=True, options=options)
        losses = []
        result = train_lbfgs(
            model,
            x,
            y,
            loss=HalfSquaredError(),
            alpha=0.1,
            maxiter=maxiter,
            tol=1e-6,
            callback=lambda iteration, value: losses.append((iteration, value)),  # noqa: B023
        )
        assert result.loss == pytest.approx(expected.fun, rel=rel)
        assert result.converged == (expected.status == 0) == (maxiter == 300)
        assert [i for i, _ in losses] == list(range(1, result.n_iter + 1))
        assert losses[-1][1] == pytest.approx(result.loss, rel=1e-12)
    assert result.loss < 0.05 * 0.5 * np.mean((y - y.mean()) ** 2)


def test_maxiter_and_maxfun_stop_without_converging(rng):
    x, labels = _blobs(rng, n=40)
    model = build_mlp(4, [8], 3, rng=rng, dtype=np.float64)
    start = model.flat.values.copy()
    result = train_lbfgs(model, x, labels, maxiter=3, tol=0.0)
    assert isinstance(result, LBFGSResult)
    assert result.n_iter == 3 and not result.converged and result.status == 1
    model.flat.values[...] = start
    result = train_lbfgs(model, x, labels, maxiter=500, maxfun=5, tol=0.0)
    assert not result.converged and result.status == 1
    assert result.n_iter <= 5 < result.n_fun <= 7  # the limit is checked between iterations
    assert "EVALUATIONS" in result.message


def test_a_float32_model_stays_float32_and_learns(rng):
    x, labels = _blobs(rng, n=60)
    model = build_mlp(4, [8], 3, rng=rng)
    first = model.flat.values.copy()
    result = train_lbfgs(model, x.astype(np.float32), labels, alpha=1e-4, maxiter=100)
    assert model.dtype == np.float32 and model.flat.values.dtype == np.float32
    assert not np.array_equal(model.flat.values, first)
    assert (model.predict(x) == labels).mean() > 0.9
    assert result.loss < np.log(3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": "big"}, "alpha"),
        ({"tol": -1e-4}, "tol"),
        ({"ftol": float("nan")}, "ftol"),
        ({"maxiter": 0}, "maxiter"),
        ({"maxfun": 1.5}, "maxfun"),
    ],
)
def test_bad_settings_are_named(rng, kwargs, match):
    x, labels = _blobs(rng, n=10)
    model = build_mlp(4, [3], 3, rng=rng)
    with pytest.raises(ValueError, match=match):
        train_lbfgs(model, x, labels, **kwargs)


def test_active_dropout_is_refused(rng):
    x, labels = _blobs(rng, n=10)
    model = build_mlp(4, [3], 3, dropout=0.2, rng=rng)
    with pytest.raises(ValueError, match=r"Dropout\(rate=0.2\)"):
        train_lbfgs(model, x, labels)
    for layer in model.layers:
        if isinstance(layer, Dropout):
            layer.rate = 0.0
    assert train_lbfgs(model, x, labels, maxiter=2).n_iter == 2


def test_without_scipy_one_sentence_names_the_extra(rng, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    x, labels = _blobs(rng, n=10)
    with pytest.raises(ModuleNotFoundError, match=r"neural-network\[sklearn\]"):
        train_lbfgs(build_mlp(4, [3], 3, rng=rng), x, labels)
