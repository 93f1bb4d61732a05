"""``coefs_`` and ``intercepts_`` can be assigned, as in scikit-learn: to a fitted estimator
they replace the network's weights at once, to an unfitted one they are what the next
``partial_fit`` (or warm-started ``fit``) trains from."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from estimator_fits import fit_quietly
from sklearn.exceptions import NotFittedError

from neural_network import MLPClassifier, MLPRegressor


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    return x, np.arange(20) % 3


def _weights(rng, n_out=3):
    return [rng.normal(size=(3, 4)), rng.normal(size=(4, n_out))], [
        rng.normal(size=4),
        rng.normal(size=n_out),
    ]


def test_assigning_to_a_fitted_estimator_sets_its_weights(rng):
    x, y = _data()
    clf = fit_quietly(MLPClassifier((4,), max_iter=2, random_state=0, dtype="float64"), x, y)
    coefs, intercepts = _weights(rng)
    clf.coefs_, clf.intercepts_ = coefs, intercepts
    for mine, given in zip(clf.coefs_ + clf.intercepts_, coefs + intercepts, strict=True):
        np.testing.assert_array_equal(mine, given)
    hidden = np.maximum(x @ coefs[0] + intercepts[0], 0)
    expected = np.exp(hidden @ coefs[1] + intercepts[1])
    np.testing.assert_allclose(
        clf.predict_proba(x), expected / expected.sum(axis=1, keepdims=True), rtol=1e-12
    )


def test_a_wrong_shape_is_named_and_nothing_changes(rng):
    x, y = _data()
    clf = fit_quietly(MLPClassifier((4,), max_iter=2, random_state=0), x, y)
    before = clf.model_.flat.values.copy()
    coefs, _ = _weights(rng)
    wrong = r"coefs_\[1\] has shape \(4, 2\); the network's is \(4, 3\)"
    with pytest.raises(ValueError, match=wrong):
        clf.coefs_ = [coefs[0], np.zeros((4, 2))]
    with pytest.raises(ValueError, match="intercepts_ has 1 arrays but the network has 2"):
        clf.intercepts_ = [np.zeros(4)]
    with pytest.raises(ValueError, match=r"coefs_\[0\] holds NaN"):
        clf.coefs_ = [np.full((3, 4), np.nan), coefs[1]]
    with pytest.raises(ValueError, match="n_layers_=4 but the fitted network has 3 layers"):
        clf.n_layers_ = 4
    np.testing.assert_array_equal(clf.model_.flat.values, before)


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_an_unfitted_estimator_trains_from_assigned_weights(rng, how):
    x, y = _data()
    coefs, intercepts = _weights(rng)
    settings = {"solver": "sgd", "momentum": 0.0, "max_iter": 1, "dtype": "float64",
                "random_state": 0, "shuffle": False, "hidden_layer_sizes": (4,)}  # fmt: skip
    assigned = MLPClassifier(**settings, warm_start=how == "warm_start")
    assigned.coefs_ = [None, None]  # filled in after assigning, as scikit-learn's tests do
    assigned.coefs_[0], assigned.coefs_[1] = coefs
    assigned.intercepts_ = intercepts
    assigned.t_ = 7
    # The same first step from a fitted estimator whose weights are set to those.
    reference = fit_quietly(MLPClassifier(**settings, warm_start=True), x, y)
    reference.coefs_, reference.intercepts_ = coefs, intercepts
    if how == "partial_fit":
        assigned.partial_fit(x, y, classes=[0, 1, 2])
        reference.partial_fit(x, y)
    else:
        fit_quietly(assigned, x, y)
        fit_quietly(reference, x, y)
    np.testing.assert_array_equal(assigned.model_.flat.values, reference.model_.flat.values)
    assert assigned.t_ == 7 + len(x)
    assert not np.array_equal(assigned.coefs_[0], coefs[0])  # it trained


def test_fit_without_warm_start_draws_new_weights(rng):
    x, y = _data()
    coefs, intercepts = _weights(rng)
    assigned = MLPClassifier((4,), max_iter=1, random_state=0)
    assigned.coefs_, assigned.intercepts_ = coefs, intercepts
    fresh = MLPClassifier((4,), max_iter=1, random_state=0)
    fit_quietly(assigned, x, y)
    fit_quietly(fresh, x, y)
    np.testing.assert_array_equal(assigned.model_.flat.values, fresh.model_.flat.values)


def test_assigned_weights_of_the_wrong_shape_are_refused_at_partial_fit(rng):
    x, y = _data()
    coefs, intercepts = _weights(rng)
    regressor = MLPRegressor((4,))
    regressor.coefs_, regressor.intercepts_ = coefs, intercepts  # 3 outputs for a 1-D y
    wrong = r"coefs_\[1\] has shape \(4, 3\); the network's is \(4, 1\)"
    regressor.t_ = 5
    with pytest.raises(ValueError, match=wrong):
        regressor.partial_fit(x, y.astype(float))
    # Not fitted with weights it was not given; what was assigned is kept, to correct.
    with pytest.raises(NotFittedError):
        regressor.predict(x)
    assert regressor.coefs_ is coefs and regressor.t_ == 5
    regressor.coefs_ = [coefs[0], coefs[1][:, :1]]
    regressor.intercepts_ = [intercepts[0], intercepts[1][:1]]
    regressor.partial_fit(x, y.astype(float))
    assert regressor.t_ == 5 + len(x)


def test_unfitted_estimator_reads_back_what_was_assigned(rng):
    coefs, intercepts = _weights(rng)
    clf = MLPClassifier()
    with pytest.raises(AttributeError):
        clf.coefs_  # noqa: B018
    clf.coefs_, clf.intercepts_, clf.n_layers_ = coefs, intercepts, 3
    assert clf.coefs_ is coefs and clf.intercepts_ is intercepts and clf.n_layers_ == 3
