"""scikit-learn's defaults and conventions in the estimators: inputs trained as given
(``scale_inputs=False``), ``shuffle=False``, and its ValueError when training diverges."""

import pickle
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning

from neural_network import MLPClassifier, MLPRegressor, TrainingDivergedError


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
