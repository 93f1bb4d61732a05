"""``alpha`` as scikit-learn means it: each mini-batch's penalty ``0.5 * alpha * |W|^2`` is
divided by that batch's sample-weight sum (its size without weights), the smaller last
batch included; checked step by step against scikit-learn's own MLPClassifier."""

import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier  # noqa: E402

from neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from neural_network.apps.estimators import MLPClassifier as OurClassifier  # noqa: E402

SETTINGS = {
    "hidden_layer_sizes": (4,),
    "activation": "tanh",
    "solver": "sgd",
    "learning_rate_init": 0.3,
    "momentum": 0.0,
    "alpha": 2.0,  # large, so that the divisor matters far beyond the tolerance
    "batch_size": 5,  # 13 samples: batches of 5, 5 and 3
    "shuffle": False,
    "max_iter": 1,
    "warm_start": True,
}


def _data(n_classes: int = 3):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(13, 3))
    y = np.arange(13) % n_classes
    return x, y, rng.uniform(0.2, 3.0, size=13)


def _start(estimator, x, y, coefs, intercepts):
    """Fit one epoch to build everything, then put the given weights in."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(x, y)
    estimator.coefs_ = [c.copy() for c in coefs]
    estimator.intercepts_ = [b.copy() for b in intercepts]
    return estimator


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_sgd_epoch_matches_scikit_learn(weighted, n_classes):
    x, y, weights = _data(n_classes)
    n_out = 1 if n_classes == 2 else n_classes
    rng = np.random.default_rng(0)
    coefs = [rng.normal(size=(3, 4)), rng.normal(size=(4, n_out))]
    intercepts = [rng.normal(size=4), rng.normal(size=n_out)]
    theirs = _start(SklearnMLPClassifier(**SETTINGS, random_state=0), x, y, coefs, intercepts)
    ours = _start(
        MLPClassifier(**SETTINGS, random_state=0, clip_norm=None, dtype="float64"),
        x,
        y,
        coefs,
        intercepts,
    )
    sample_weight = weights if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(x, y, sample_weight=sample_weight)
        ours.fit(x, y, sample_weight=sample_weight)
    pairs = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True)
    for mine, reference in pairs:
        np.testing.assert_allclose(mine, reference, rtol=1e-12, atol=1e-12)


def test_alpha_divides_by_the_batch_size_of_a_single_sample():
    """One sample and identity activations: one SGD step by hand, W -= lr * (grad + alpha * W)
    (the batch's weight sum is 1, not the 200 of batch_size="auto")."""
    x, y = np.array([[1.0, 2.0]]), np.array([[0.5]])
    regressor = MLPRegressor(
        hidden_layer_sizes=(), activation="identity", solver="sgd", momentum=0.0,
        learning_rate_init=0.1, alpha=0.5, max_iter=1, clip_norm=None, dtype="float64",
        standardize_targets=False,
    )  # fmt: skip
    w, b = np.array([[0.3], [-0.2]]), np.array([0.1])
    regressor.coefs_, regressor.intercepts_ = [w.copy()], [b.copy()]
    regressor.partial_fit(x, y)
    error = (x @ w + b - y)[0, 0]  # the gradient of half the squared error
    expected = w - 0.1 * (error * x.T + 0.5 * w)
    np.testing.assert_allclose(regressor.coefs_[0], expected, rtol=1e-13)
    np.testing.assert_allclose(regressor.intercepts_[0], b - 0.1 * error, rtol=1e-13)


def test_equal_weights_scale_the_penalty_as_scikit_learn_does():
    """Every weight 2: the batch's weight sum doubles, so the penalty halves."""
    x, y, _ = _data()
    kwargs = {**SETTINGS, "random_state": 0, "clip_norm": None, "dtype": "float64"}
    doubled = OurClassifier(**kwargs)
    halved_alpha = OurClassifier(**{**kwargs, "alpha": SETTINGS["alpha"] / 2})
    rng = np.random.default_rng(1)
    coefs = [rng.normal(size=(3, 4)), rng.normal(size=(4, 3))]
    intercepts = [rng.normal(size=4), rng.normal(size=3)]
    _start(doubled, x, y, coefs, intercepts)
    _start(halved_alpha, x, y, coefs, intercepts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        doubled.fit(x, y, sample_weight=np.full(len(y), 2.0))
        halved_alpha.fit(x, y)
    np.testing.assert_allclose(
        doubled.model_.flat.values, halved_alpha.model_.flat.values, rtol=1e-13
    )
