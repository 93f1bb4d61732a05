"""Estimators against hostile use: classes that cannot be labels, targets near float64's
limit, preprocessing changed after a fit, and two threads fitting one estimator."""

import threading

import numpy as np
import pytest

pytest.importorskip("sklearn")

from neural_network import MLPClassifier, MLPRegressor, load_model
from neural_network.apps.estimators import base


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([], "classes is empty"),
        ([0, 1, np.nan], "classes holds NaN"),
        (np.array([0, 1, np.nan], dtype=object), "classes holds NaN"),
    ],
)
def test_partial_fit_refuses_classes_that_cannot_be_labels(classes, message):
    x, y = np.zeros((2, 3)), np.array([0, 1])
    clf = MLPClassifier(hidden_layer_sizes=(2,))
    with pytest.raises(ValueError, match=message):
        clf.partial_fit(x, y, classes=classes)
    assert not hasattr(clf, "model_")


def test_regressor_standardises_targets_near_1e160_without_overflow(rng):
    # Standardised, 1e160 * y trains on the same numbers as y: the same fit, scaled.
    x = rng.normal(size=(60, 2))
    y = 1.0 + 0.5 * x[:, 0]
    params = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0, "dtype": "float64"}
    small = MLPRegressor(**params).fit(x, y)
    huge = MLPRegressor(**params).fit(x, 1e160 * y)
    np.testing.assert_allclose(huge.target_scale_, 1e160 * small.target_scale_, rtol=1e-12)
    predictions = huge.predict(x)
    assert np.isfinite(predictions).all()
    np.testing.assert_allclose(predictions / 1e160, small.predict(x), rtol=1e-9)


def test_regressor_without_standardising_refuses_targets_beyond_its_dtype(rng):
    x = rng.normal(size=(4, 2))
    with pytest.raises(ValueError, match="beyond float32's range"):
        MLPRegressor(max_iter=1, standardize_targets=False, dtype="float32").fit(
            x, np.full(4, 1e160)
        )


@pytest.mark.parametrize(
    ("estimator", "param"),
    [
        (MLPClassifier, "scale_inputs"),
        (MLPRegressor, "scale_inputs"),
        (MLPRegressor, "standardize_targets"),
    ],
)
def test_preprocessing_changed_after_fit_is_refused_by_save_and_warm_start(
    estimator, param, rng, tmp_path
):
    x = 10 + 5 * rng.normal(size=(40, 3))
    y = rng.integers(0, 2, 40) if estimator is MLPClassifier else 100 + 10 * x[:, 0]
    fitted = estimator(hidden_layer_sizes=(4,), max_iter=2, random_state=0, **{param: True})
    fitted.fit(x, y).set_params(**{param: False})
    with pytest.raises(ValueError, match=f"fitted with {param}=True"):
        fitted.save(tmp_path / "model.npz")
    assert not (tmp_path / "model.npz").exists()
    with pytest.raises(ValueError, match=f"fitted with {param}=True"):
        fitted.set_params(warm_start=True).fit(x, y)
    with pytest.raises(ValueError, match=f"fitted with {param}=True"):
        fitted.partial_fit(x, y)
    fitted.set_params(**{param: True})  # set back: it saves, and predicts the same loaded
    fitted.save(tmp_path / "model.npz")
    np.testing.assert_array_equal(load_model(tmp_path / "model.npz").predict(x), fitted.predict(x))


def test_a_second_fit_of_one_estimator_from_another_thread_is_refused(rng, monkeypatch):
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    inside, release = threading.Event(), threading.Event()
    original = base.BaseMLP._fit_now

    def slow_fit(self, *args, **kwargs):
        inside.set()
        release.wait(10)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(base.BaseMLP, "_fit_now", slow_fit)
    first = threading.Thread(target=clf.fit, args=(x, y))
    first.start()
    try:
        assert inside.wait(10)
        with pytest.raises(RuntimeError, match="already being fitted in another thread"):
            clf.fit(x, y)
        with pytest.raises(RuntimeError, match="already being fitted"):
            clf.partial_fit(x, y, classes=[0, 1])
        # Another estimator trains meanwhile.
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(x, y)
    finally:
        release.set()
        first.join(30)
    assert clf.n_iter_ == 2
    clf.fit(x, y)  # once the first fit is over, fitting again works


def test_scikit_learns_logistic_activation_is_the_sigmoid_layer(rng, tmp_path):
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    clf = MLPClassifier((4,), activation="logistic", max_iter=2, random_state=0).fit(x, y)
    assert type(clf.model_.layers[1]).__name__ == "Sigmoid"
    clf.save(tmp_path / "clf.npz")
    np.testing.assert_array_equal(load_model(tmp_path / "clf.npz").predict(x), clf.predict(x))


def test_verbose_prints_each_iteration_as_scikit_learn_does(rng, capsys):
    x, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    MLPClassifier((4,), max_iter=2, verbose=True, n_iter_no_change=np.inf).fit(x, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Iteration 1", "Iteration 2"]
    assert all(line.split("loss = ")[1] for line in lines)


def test_n_iter_no_change_inf_saves_and_loads(rng, tmp_path):
    x, y = rng.normal(size=(30, 3)), rng.integers(0, 2, 30)
    clf = MLPClassifier((4,), max_iter=3, n_iter_no_change=np.inf, random_state=0).fit(x, y)
    assert clf.n_iter_ == 3
    clf.save(tmp_path / "clf.npz")
    loaded = load_model(tmp_path / "clf.npz")
    assert loaded.n_iter_no_change == np.inf
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
