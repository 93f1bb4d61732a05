"""scikit-learn's defaults and conventions in the estimators: inputs trained as given
(``scale_inputs=False``), ``shuffle=False``, and its ValueError when training diverges."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning

from neural_network import MLPClassifier, MLPRegressor, TrainingDivergedError, load_model


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_inputs_train_as_given_by_default(estimator):
    assert estimator().scale_inputs is False


def test_a_single_sample_teaches_its_feature_by_default():
    # One training sample: min-max scaling would map its feature to 0, leaving only the
    # output bias to learn the new target.
    reg = MLPRegressor((42,), random_state=42, learning_rate_init=0.01).fit([[2.0]], [4.0])
    assert reg.scaler_ is None
    for _ in range(200):
        reg.partial_fit([[2.0]], [1.0])
    np.testing.assert_allclose(reg.predict([[2.0]]), [1.0], rtol=1e-4)


def test_inputs_beyond_the_arithmetic_raise_scikit_learns_value_error(rng):
    x = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow, and x looks unscaled
        with pytest.raises(ValueError, match="Solver produced non-finite parameter") as error:
            MLPRegressor().fit(x, y)
    assert isinstance(error.value, TrainingDivergedError)  # this library's, too
    assert error.value.epoch == 1 and "before any update" in str(error.value)


def test_divergence_in_sgd_is_both_errors(rng):
    x = rng.normal(size=(60, 3))
    y = 1e3 * x[:, 0]
    reg = MLPRegressor(
        (16,), solver="sgd", learning_rate_init=10.0, clip_norm=None, standardize_targets=False,
        max_iter=50, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            reg.fit(x, y)
    assert np.isfinite(reg.model_.flat.values).all()  # the last finite weights are kept


def _fit_once(shuffle, x, y, **kwargs):
    reg = MLPRegressor((3,), max_iter=1, batch_size=1, random_state=0, shuffle=shuffle, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(x, y)


def test_shuffle_false_trains_in_the_datas_order(rng):
    x = rng.normal(size=(30, 4))
    y = x @ rng.normal(size=4)
    unshuffled = _fit_once(False, x, y)
    np.testing.assert_array_equal(_fit_once(False, x, y).coefs_[0], unshuffled.coefs_[0])
    assert not np.array_equal(_fit_once(True, x, y).coefs_[0], unshuffled.coefs_[0])
    # In order, the last samples are the last steps: training on the data reversed differs.
    assert not np.array_equal(_fit_once(False, x[::-1], y[::-1]).coefs_[0], unshuffled.coefs_[0])


def test_shuffle_false_leaves_the_generator_to_initialisation_alone(rng):
    x = rng.normal(size=(30, 4))
    y = x @ rng.normal(size=4)
    # A Generator as random_state is used as it is: with shuffle=False only the weights'
    # initialisation draws from it, so one epoch or three leave it in the same state.
    states = []
    for max_iter in (1, 3):
        generator = np.random.default_rng(5)
        reg = MLPRegressor((3,), max_iter=max_iter, random_state=generator, shuffle=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reg.fit(x, y)
        states.append(generator.bit_generator.state)
    assert states[0] == states[1]


def test_early_stopping_stratifies_as_scikit_learn_and_raises_its_error_first():
    x = [[1, 2], [2, 3], [3, 4], [4, 5]]
    # One sample of "b": scikit-learn's stratified split refuses it (naming the class as its
    # MLPClassifier encodes it) before the held-out part is found too small.
    with pytest.raises(ValueError, match=r"Classes with too few members are: \['True'\]") as error:
        MLPClassifier(early_stopping=True).fit(x, ["a", "a", "a", "b"])
    assert "samples per class: 'a': 3, 'b': 1" in str(error.value)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True).fit(x, [0.0, 1.0, 2.0, 3.0])


def test_early_stopping_refuses_fewer_held_out_samples_than_classes_as_scikit_learn(rng):
    x = rng.normal(size=(12, 2))
    y = np.repeat([0, 1, 2], 4)
    with pytest.raises(ValueError, match="The test_size = 2 should be greater or equal to the"):
        MLPClassifier(early_stopping=True).fit(x, y)
    clf = MLPClassifier((4,), early_stopping=True, validation_fraction=0.25, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)  # 3 held out, one per class
    assert len(clf.validation_scores_) == 2


def test_the_divergence_error_pickles_for_joblibs_workers(rng):
    x = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError) as caught:
            MLPRegressor().fit(x, rng.standard_normal(10))
    error = pickle.loads(pickle.dumps(caught.value))
    assert type(error) is type(caught.value) and str(error) == str(caught.value)
    assert (error.epoch, error.step) == (caught.value.epoch, caught.value.step)
    assert isinstance(error, ValueError) and isinstance(error, TrainingDivergedError)


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_gradients_are_not_clipped_by_default_as_in_scikit_learn(estimator, rng):
    assert estimator().clip_norm is None
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    kwargs = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default = estimator(**kwargs).fit(x, y)
        unclipped = estimator(**kwargs, clip_norm=None).fit(x, y)
        clipped = estimator(**kwargs, clip_norm=1e-3).fit(x, y)
    np.testing.assert_array_equal(default.model_.flat.values, unclipped.model_.flat.values)
    assert not np.array_equal(default.model_.flat.values, clipped.model_.flat.values)


def _diverging_regressor(**kwargs):
    # SGD at learning rate 1 on a linear network: the weights overflow within a few epochs.
    settings = {
        "hidden_layer_sizes": (20,), "activation": "identity", "solver": "sgd",
        "learning_rate_init": 1.0, "early_stopping": True, "n_iter_no_change": 10,
        "max_iter": 15, "random_state": 0, "standardize_targets": False,
    }  # fmt: skip
    return MLPRegressor(**{**settings, **kwargs})


def _data(rng):
    x = rng.normal(size=(150, 4)) * 3.0
    return x, x @ np.array([1.0, -2.0, 3.0, 0.5]) + 10.0


def test_divergence_with_early_stopping_records_nan_as_scikit_learn_does(rng, tmp_path):
    x, y = _data(rng)
    reg = _diverging_regressor()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg.fit(x, y)  # no error
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)  # max_iter ran out
    trained = len(reg.history_)
    assert 1 <= trained < reg.max_iter
    assert reg.n_iter_ == reg.max_iter == len(reg.loss_curve_) == len(reg.validation_scores_)
    nan_tail = reg.validation_scores_[trained:]
    assert all(isinstance(s, float) and np.isnan(s) for s in nan_tail)
    assert np.isnan(reg.loss_curve_[trained:]).all()
    assert np.isfinite(reg.validation_scores_[: reg.best_epoch_]).all()
    assert reg.best_validation_score_ == max(reg.validation_scores_[:trained])
    assert reg._no_improvement_count == 0  # a NaN score resets the count
    assert reg.t_ == reg.max_iter * round(0.9 * len(x))  # every epoch counts its samples
    # It ends on the best epoch's weights, which predict finite values.
    np.testing.assert_array_equal(reg.model_.flat.values, reg._early_stopping.best_values)
    assert np.isfinite(reg.predict(x)).all()
    # A model file keeps the epochs trained (a History holds finite numbers only).
    path = tmp_path / "diverged.npz"
    reg.save(path)
    loaded = load_model(path)
    assert loaded.n_iter_ == trained and np.isfinite(loaded.loss_curve_).all()
    np.testing.assert_array_equal(loaded.predict(x), reg.predict(x))


def test_divergence_before_any_score_goes_back_to_the_fits_starting_weights(rng, monkeypatch):
    from neural_network.apps.estimators import base

    starts = []

    def recording_fit(model, *args, **kwargs):
        starts.append(model.flat.values.copy())
        return fit(model, *args, **kwargs)

    fit = base.fit
    monkeypatch.setattr(base, "fit", recording_fit)
    x, y = _data(rng)
    reg = _diverging_regressor(learning_rate_init=1e25, batch_size=10)  # diverges in epoch 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(x, y)
    assert len(reg.history_) == 0  # no epoch was trained to its end
    assert np.isnan(reg.validation_scores_).all() and reg.n_iter_ == reg.max_iter
    np.testing.assert_array_equal(reg.model_.flat.values, starts[0])


def test_divergence_without_early_stopping_still_raises(rng):
    x, y = _data(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            _diverging_regressor(early_stopping=False).fit(x, y)
