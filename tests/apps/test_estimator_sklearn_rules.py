"""scikit-learn's training rules in our estimators: plateau stopping with tol and
n_iter_no_change, ConvergenceWarning, the invscaling and adaptive learning rates, alpha
divided by the batch size, and the fitted attributes scikit-learn exposes."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning

from neural_network import MLPClassifier, MLPRegressor


@pytest.fixture
def data(rng):
    x = rng.normal(size=(120, 4))
    return x, (x[:, 0] > 0).astype(int)


def test_a_training_loss_plateau_stops_fit_without_a_warning(data):
    x, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier((8,), tol=10.0, n_iter_no_change=3, max_iter=100).fit(x, y)
    # The first epoch improves on nothing; the next 4 are more than n_iter_no_change=3
    # without improvement.
    assert clf.n_iter_ == 5


def test_running_out_of_epochs_warns_as_scikit_learn_does(data):
    x, y = data
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(5\) reached"):
        clf = MLPClassifier((8,), max_iter=5, n_iter_no_change=np.inf).fit(x, y)
    assert clf.n_iter_ == 5


def test_invscaling_rate_follows_the_samples_seen(data):
    x, y = data
    clf = MLPClassifier(
        (8,), solver="sgd", nesterovs_momentum=False, learning_rate="invscaling",
        learning_rate_init=0.1, power_t=0.5, max_iter=3, n_iter_no_change=np.inf,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    expected = [0.1 / (t + 1) ** 0.5 for t in (0, 120, 240)]
    assert clf.history_.lr == pytest.approx(expected)
    assert clf.t_ == 360


def test_adaptive_rate_divides_by_five_on_a_plateau_instead_of_stopping(data):
    x, y = data
    clf = MLPClassifier(
        (8,), solver="sgd", nesterovs_momentum=False, learning_rate="adaptive",
        learning_rate_init=0.01, tol=10.0, n_iter_no_change=1, max_iter=30,
    ).fit(x, y)  # fmt: skip
    rates = clf.history_.lr
    # Epochs 2 and 3 do not improve by tol: more than n_iter_no_change=1, so after epoch 3
    # the rate is divided by 5 (and again every 2 epochs) instead of stopping.
    assert rates[:3] == [0.01] * 3 and rates[3:5] == pytest.approx([0.002, 0.002])
    assert min(rates) > 1e-6 and clf.n_iter_ < 30


def test_adam_ignores_learning_rate_as_scikit_learn_does(data):
    x, y = data
    clf = MLPClassifier((8,), learning_rate="invscaling", max_iter=3, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    assert clf.history_.lr == [0.001] * 3


@pytest.mark.parametrize(("batch_size", "divisor"), [("auto", 200), (16, 16)])
def test_alpha_is_divided_by_the_batch_size(data, batch_size, divisor):
    x, y = data
    clf = MLPClassifier((8,), alpha=0.3, batch_size=batch_size, max_iter=1)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    assert clf.optimizer_.l2 == pytest.approx(0.3 / divisor)


def test_fitted_attributes_have_scikit_learns_shapes(data):
    x, y = data
    reg = MLPRegressor((8, 5), max_iter=2, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        reg.fit(x, np.column_stack([y, -y]))
    assert [c.shape for c in reg.coefs_] == [(4, 8), (8, 5), (5, 2)]
    assert [b.shape for b in reg.intercepts_] == [(8,), (5,), (2,)]
    assert (reg.n_layers_, reg.n_outputs_, reg.out_activation_) == (4, 2, "identity")
    assert reg.loss_ == reg.loss_curve_[-1] and reg.t_ == 240
    assert not hasattr(MLPRegressor(), "coefs_")
