"""solver="lbfgs" in MLPClassifier and MLPRegressor, and activation="identity" with it."""

import re
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")
from estimator_fits import fit_quietly
from sklearn.exceptions import ConvergenceWarning

from neural_network import MLPClassifier, MLPRegressor, load_model
from neural_network.train.lbfgs import lbfgs_objective


@pytest.fixture
def blobs(rng):
    x = rng.normal(size=(90, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 0.8)
    return x, y


def test_lbfgs_reports_scikit_learns_attributes(blobs):
    x, y = blobs
    clf = MLPClassifier((6,), solver="lbfgs", max_iter=500, random_state=0).fit(x, y)
    assert 0 < clf.n_iter_ < 500  # converged (no warning) before max_iter
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.loss_ == clf.loss_curve_[-1]
    assert clf.t_ == len(x) * clf.n_iter_
    assert clf.score(x, y) > 0.95
    assert not hasattr(clf, "optimizer_") and not hasattr(clf, "partial_fit")
    # loss_ is scikit-learn's objective at the returned weights: the mean cross-entropy
    # plus 0.5 * alpha * |W|^2 / n_samples.
    objective = lbfgs_objective(clf.model_, clf._scale(x), y, alpha=clf.alpha)
    value, _ = objective(clf.model_.flat.values.astype(np.float64))
    assert value == pytest.approx(clf.loss_, rel=1e-12)


def test_lbfgs_loss_curve_falls_and_warm_start_continues(blobs):
    x, y = blobs
    clf = MLPClassifier((6,), solver="lbfgs", max_iter=15, warm_start=True, random_state=0)
    fit_quietly(clf, x, y)
    first = list(clf.loss_curve_)
    assert len(first) == 15 and all(np.diff(first) <= 0)
    network = clf.model_
    fit_quietly(clf, x, y)
    assert clf.model_ is network and clf.n_iter_ == 15 and clf.loss_curve_[:15] == first
    # The second fit starts from the first one's weights: it only lowers the loss further.
    assert clf.loss_curve_[15] <= first[-1] and clf.t_ == 30 * len(x)


@pytest.mark.parametrize("limit", [{"max_iter": 3}, {"max_fun": 5}])
def test_lbfgs_warns_as_scikit_learn_when_it_runs_out(blobs, limit):
    x, y = blobs
    reg = MLPRegressor((6,), solver="lbfgs", tol=0.0, random_state=0, **limit)
    with pytest.warns(
        ConvergenceWarning, match=r"lbfgs failed to converge after \d+ iter"
    ) as caught:
        reg.fit(x, y.astype(float))
    message = str(caught[0].message)
    assert ("max_iter=3" in message) == ("max_iter" in limit)
    assert reg.n_iter_ <= limit.get("max_iter", limit.get("max_fun"))


def test_lbfgs_converged_fit_does_not_warn(blobs):
    x, y = blobs
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        MLPClassifier((), solver="lbfgs", alpha=1.0, random_state=0).fit(x, y)


def test_lbfgs_matches_scikit_learn_on_logistic_regression(blobs):
    # Without hidden layers the objective is convex: both reach the same optimum.
    from sklearn.neural_network import MLPClassifier as TheirClassifier

    x, y = blobs
    params = {"hidden_layer_sizes": (), "solver": "lbfgs", "alpha": 1e-2, "tol": 1e-10}
    params["max_iter"] = 2000
    ours = MLPClassifier(**params, scale_inputs=False, random_state=0).fit(x, y)
    theirs = TheirClassifier(**params, random_state=0).fit(x, y)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-7)
    np.testing.assert_allclose(ours.predict_proba(x), theirs.predict_proba(x), atol=5e-4)


def test_identity_activation_fits_a_linear_map(rng):
    x = rng.normal(size=(60, 3))
    w = np.array([[1.5], [-2.0], [0.5]])
    y = (x @ w)[:, 0] + 3.0
    reg = MLPRegressor((4,), activation="identity", solver="lbfgs", alpha=0.0, tol=1e-10)
    reg.set_params(scale_inputs=False, standardize_targets=False, max_iter=1000, random_state=0)
    reg.fit(x, y)
    # Two linear layers compose into one affine map: the fitted one is (w, 3).
    np.testing.assert_allclose(reg.coefs_[0] @ reg.coefs_[1], w, atol=1e-5)
    assert reg.score(x, y) > 1 - 1e-9


@pytest.mark.parametrize(
    ("params", "message"),
    [({"dropout": 0.2}, "dropout=0.2"), ({"device": "cuda"}, "device='cuda'")],
)
def test_lbfgs_refuses_what_its_objective_cannot_do(blobs, params, message):
    x, y = blobs
    with pytest.raises(ValueError, match=re.escape(message)):
        MLPClassifier((4,), solver="lbfgs", **params).fit(x, y)


def test_warm_start_refuses_other_classes_in_scikit_learns_words(blobs):
    x, y = blobs
    clf = fit_quietly(MLPClassifier((4,), solver="lbfgs", max_iter=5, warm_start=True), x, y)
    message = "as in the previous call to fit. Previously got [0 1 2], `y` has [0 1]"
    with pytest.raises(ValueError, match=re.escape(message)):
        clf.fit(x, np.minimum(y, 1))


def test_lbfgs_fit_saves_and_loads(blobs, tmp_path):
    x, y = blobs
    clf = fit_quietly(MLPClassifier((5,), solver="lbfgs", max_iter=20, random_state=0), x, y)
    clf.save(tmp_path / "clf.npz")
    loaded = load_model(tmp_path / "clf.npz")
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert loaded.loss_curve_ == clf.loss_curve_


def test_lbfgs_integer_weights_train_as_repeated_samples(blobs):
    x, y = blobs
    weights = np.arange(len(x)) % 3  # 0 leaves a sample out, 2 repeats it
    repeated = np.repeat(np.arange(len(x)), weights)
    params = {"hidden_layer_sizes": (5,), "solver": "lbfgs", "max_iter": 15, "random_state": 0}
    weighted = fit_quietly(MLPClassifier(**params), x, y, sample_weight=weights)
    plain = fit_quietly(MLPClassifier(**params), x[repeated], y[repeated])
    assert weighted.loss_ == pytest.approx(plain.loss_, rel=1e-8)
    np.testing.assert_allclose(weighted.predict_proba(x), plain.predict_proba(x), atol=1e-7)


def test_lbfgs_warning_points_at_the_callers_fit(blobs):
    x, y = blobs
    with pytest.warns(ConvergenceWarning) as caught:
        MLPClassifier((4,), solver="lbfgs", max_iter=2, random_state=0).fit(x, y)
    assert caught[0].filename == __file__


def test_lbfgs_trains_in_float32_for_float32_input(blobs):
    x, y = blobs
    clf = MLPClassifier((4,), solver="lbfgs", max_iter=10, random_state=0)
    fit_quietly(clf, x.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32 and np.isfinite(clf.loss_)


def test_lbfgs_verbose_prints_each_iteration(blobs, capsys):
    x, y = blobs
    clf = fit_quietly(MLPClassifier((4,), solver="lbfgs", max_iter=4, verbose=True), x, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"Iteration {i}, loss = {clf.loss_curve_[i - 1]:.8f}" for i in (1, 2, 3, 4)]
