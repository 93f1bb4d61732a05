"""warm_start, partial_fit (without early stopping), and schedules across calls."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from neural_network import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture
def data(rng):
    x = rng.normal(size=(120, 4))
    return x, (x[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_warm_start_continues_the_fitted_network(data, estimator):
    x, y = data
    model = estimator((8,), max_iter=3, warm_start=True, random_state=0).fit(x, y)
    network, first_curve = model.model_, list(model.loss_curve_)
    model.set_params(max_iter=2).fit(x, y)
    assert model.model_ is network
    assert model.n_iter_ == 2  # as scikit-learn: the epochs of the last call
    assert model.loss_curve_[:3] == first_curve and len(model.loss_curve_) == 5
    # Without warm_start, fit starts over.
    model.set_params(warm_start=False).fit(x, y)
    assert model.model_ is not network and len(model.loss_curve_) == 2


def test_warm_start_refuses_a_different_network(data):
    x, y = data
    clf = MLPClassifier((8,), max_iter=1, warm_start=True).fit(x, y)
    with pytest.raises(ValueError, match="does not match"):
        clf.set_params(hidden_layer_sizes=(9,)).fit(x, y)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_refuses_early_stopping_as_scikit_learn_does(data, estimator):
    x, y = data
    model = estimator((8,), max_iter=4, early_stopping=True, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        model.partial_fit(x, y)
    assert len(model.history_) == 4


def test_partial_fit_is_not_there_with_lbfgs():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert hasattr(MLPRegressor(solver="adam"), "partial_fit")


def test_early_stopping_cannot_change_between_calls(data):
    x, y = data
    clf = MLPClassifier((8,), max_iter=2, warm_start=True, random_state=0).fit(x, y)
    with pytest.raises(ValueError, match="early_stopping=False"):
        clf.set_params(early_stopping=True).fit(x, y)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_cosine_schedule_leaves_partial_fit_a_learning_rate(data, estimator):
    x, y = data
    model = estimator(
        (8,), learning_rate_init=0.01, max_iter=5, schedule="cosine", random_state=0
    ).fit(x, y)
    assert model.history_.lr[0] == 0.01
    assert model.history_.lr[-1] == pytest.approx(1e-4)
    before = model.model_.flat.values.copy()
    model.partial_fit(x, y)
    assert model.history_.lr[-1] == pytest.approx(1e-4)
    assert not np.array_equal(model.model_.flat.values, before)


def test_each_fit_runs_its_schedule_afresh_and_partial_fit_continues_it(data):
    x, y = data
    clf = MLPClassifier(
        (8,),
        learning_rate_init=0.01,
        max_iter=4,
        schedule="step",
        lr_decay=0.5,
        lr_decay_every=2,
        warm_start=True,
        random_state=0,
    ).fit(x, y)
    clf.fit(x, y)
    clf.partial_fit(x, y)
    assert clf.history_.lr == pytest.approx([0.01, 0.01, 0.005, 0.005] * 2 + [0.0025])


def test_cosine_schedule_across_partial_fit_calls(data):
    x, y = data
    clf = MLPClassifier(
        (8,), learning_rate_init=0.01, max_iter=3, schedule="cosine", random_state=0
    )
    for _ in range(5):
        clf.partial_fit(x, y, classes=[0, 1])
    assert clf.history_.lr == pytest.approx([0.01, 0.00505, 1e-4, 1e-4, 1e-4])
