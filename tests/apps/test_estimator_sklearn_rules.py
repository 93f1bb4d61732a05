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
    # As scikit-learn's: divided while it is above 1e-6 (3.2e-6 -> 6.4e-7), and the plateau
    # at a rate of at most 1e-6 stops: 7 rates of 2 epochs each after the first.
    assert rates[-2:] == pytest.approx([6.4e-7, 6.4e-7]) and clf.n_iter_ == 15
    assert clf._optimizer.learning_rate == pytest.approx(6.4e-7)


def test_the_plateau_count_carries_over_warm_starts_as_scikit_learns_does(data):
    x, y = data
    clf = MLPClassifier((8,), tol=10.0, n_iter_no_change=3, max_iter=100, warm_start=True)
    clf.fit(x, y)
    assert (clf.n_iter_, clf._no_improvement_count) == (5, 4)
    # The next fit starts at 4 epochs without improvement: its first is the 5th, and stops.
    clf.fit(x, y)
    assert (clf.n_iter_, clf._no_improvement_count) == (1, 5)
    assert clf.t_ == 6 * len(x)


def test_partial_fit_counts_the_plateau_and_lowers_an_adaptive_rate(data):
    x, y = data
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="adaptive", learning_rate_init=0.01, tol=10.0,
        n_iter_no_change=1,
    )  # fmt: skip
    for _ in range(3):
        clf.partial_fit(x, y, classes=[0, 1])
    # Calls 2 and 3 did not improve: more than n_iter_no_change=1, so the rate is divided.
    assert clf.history_.lr == [0.01] * 3
    assert clf._optimizer.learning_rate == pytest.approx(0.002)
    assert clf._no_improvement_count == 0


def test_invscaling_after_each_epoch_and_afresh_in_each_fit(data):
    x, y = data
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
        power_t=0.5, max_iter=1, warm_start=True,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        clf.fit(x[:4], y[:4])
    with pytest.warns(ConvergenceWarning):
        clf.fit(x[:4], y[:4])
    # scikit-learn's rule: each fit starts at learning_rate_init with a new optimiser, and the
    # rate after an epoch is learning_rate_init / (t_ + 1) ** power_t.
    assert clf.history_.lr == [0.1, 0.1]
    assert clf._optimizer.learning_rate == 0.1 / 9**0.5 and clf.t_ == 8


def test_a_fresh_fit_counts_the_samples_seen_from_zero(data):
    x, y = data
    clf = MLPClassifier(
        (8,), solver="sgd", learning_rate="invscaling", max_iter=3, n_iter_no_change=np.inf,
        random_state=0,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        first = list(clf.fit(x, y).history_.lr)
    with pytest.warns(ConvergenceWarning):
        second = list(clf.fit(x, y).history_.lr)
    assert first == second and clf.t_ == 3 * len(x)


def test_adam_ignores_learning_rate_as_scikit_learn_does(data):
    x, y = data
    clf = MLPClassifier((8,), learning_rate="invscaling", max_iter=3, n_iter_no_change=np.inf)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    assert clf.history_.lr == [0.001] * 3


@pytest.mark.parametrize(("batch_size", "last_batch"), [("auto", 120), (16, 120 - 7 * 16)])
def test_alpha_is_divided_by_the_batch_size(data, batch_size, last_batch):
    """scikit-learn divides by the actual batch: all 120 samples for "auto" (not 200), and
    the smaller last batch by its own size (the step-by-step check is in test_estimator_alpha)."""
    x, y = data
    assert len(x) == 120
    clf = MLPClassifier((8,), alpha=0.3, batch_size=batch_size, max_iter=1)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    assert clf.optimizer_.l2 == pytest.approx(0.3 / last_batch)


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
