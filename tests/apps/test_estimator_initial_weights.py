"""The estimators start from scikit-learn's initial weights: the same random_state draws
the same weights and biases as scikit-learn's MLPClassifier and MLPRegressor."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn import neural_network as sk

from neural_network import MLPClassifier, MLPRegressor, load_model


def _starting_parameters(estimator, x, y, **kwargs):
    """The parameters after one SGD step of 1e-300, which moves no float64 weight."""
    settings = {"solver": "sgd", "learning_rate_init": 1e-300, "momentum": 0.0, "max_iter": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator(**settings, **kwargs).fit(x, y)
    return [np.array(p) for p in (*fitted.coefs_, *fitted.intercepts_)]


TARGETS = {
    "multiclass": (MLPClassifier, sk.MLPClassifier, lambda rng: rng.integers(0, 3, 40)),
    "binary": (MLPClassifier, sk.MLPClassifier, lambda rng: rng.integers(0, 2, 40)),
    "regression": (MLPRegressor, sk.MLPRegressor, lambda rng: rng.normal(size=40)),
    "two outputs": (MLPRegressor, sk.MLPRegressor, lambda rng: rng.normal(size=(40, 2))),
}


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh", "identity"])
@pytest.mark.parametrize(("hidden", "random_state"), [((7, 4), 0), (5, 3)])
def test_the_same_random_state_starts_from_scikit_learns_weights(
    rng, target, activation, hidden, random_state
):
    ours, theirs, make_y = TARGETS[target]
    x, y = rng.normal(size=(40, 6)), make_y(rng)
    kwargs = {"hidden_layer_sizes": hidden, "activation": activation, "random_state": random_state}
    expected = _starting_parameters(theirs, x, y, **kwargs)
    got = _starting_parameters(ours, x, y, **kwargs)
    assert [p.shape for p in got] == [p.shape for p in expected]
    for mine, scikit_learns in zip(got, expected, strict=True):
        np.testing.assert_array_equal(mine, scikit_learns)


def test_a_random_state_object_is_drawn_from_as_scikit_learn_draws(rng):
    # The weights are its first draws on both sides; what training draws next from it
    # (scikit-learn's shuffling, this library's generator seed) differs.
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    ours = np.random.RandomState(7)
    expected = _starting_parameters(sk.MLPClassifier, x, y, random_state=np.random.RandomState(7))
    got = _starting_parameters(MLPClassifier, x, y, random_state=ours)
    for mine, scikit_learns in zip(got, expected, strict=True):
        np.testing.assert_array_equal(mine, scikit_learns)
    again = _starting_parameters(MLPClassifier, x, y, random_state=ours)
    assert not np.array_equal(again[0], got[0])  # drawn further, not from the start again


def test_float32_training_starts_from_the_same_draws_rounded(rng):
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    expected = _starting_parameters(sk.MLPClassifier, x, y, hidden_layer_sizes=(5,), random_state=1)
    fitted = MLPClassifier((5,), random_state=1, dtype="float32", max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted.set_params(solver="sgd", learning_rate_init=1e-30, momentum=0.0).fit(x, y)
    np.testing.assert_allclose(fitted.coefs_[0], expected[0].astype(np.float32), rtol=1e-6)


def test_random_state_none_draws_fresh_weights(rng):
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    first = _starting_parameters(MLPClassifier, x, y, hidden_layer_sizes=(5,))
    second = _starting_parameters(MLPClassifier, x, y, hidden_layer_sizes=(5,))
    assert not np.array_equal(first[0], second[0])


def test_the_librarys_own_initialisers_remain_with_zero_biases(rng):
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    params = _starting_parameters(MLPClassifier, x, y, hidden_layer_sizes=(5,), init=None)
    assert np.abs(params[2]).max() < 1e-290 > np.abs(params[3]).max()  # zero biases (+ a step)
    drawn = _starting_parameters(MLPClassifier, x, y, hidden_layer_sizes=(5,), random_state=0)
    assert drawn[2].all() and drawn[3].all()  # scikit-learn draws its biases too


def test_an_unknown_init_is_refused_by_name(rng):
    with pytest.raises(ValueError, match=r"Unknown init 'glorot'.*'scikit-learn'"):
        MLPClassifier(init="glorot").fit(rng.normal(size=(10, 2)), [0, 1] * 5)


def test_model_files_keep_the_default_initialiser(rng, tmp_path):
    x, y = rng.normal(size=(40, 6)), rng.integers(0, 3, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = MLPClassifier((5,), max_iter=3, random_state=0).fit(x, y)
        fitted.save(tmp_path / "model.npz")
        loaded = load_model(tmp_path / "model.npz")
        assert loaded.get_params()["init"] == "scikit-learn"
        np.testing.assert_array_equal(loaded.predict_proba(x), fitted.predict_proba(x))
        loaded.set_params(warm_start=True).fit(x, y)  # the architecture check accepts it


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_scikit_learn_cannot_take_is_refused_by_name(rng, seed):
    x, y = rng.normal(size=(10, 2)), [0, 1] * 5
    with pytest.raises(ValueError, match=r"random_state must be in \[0, 2\*\*32 - 1\]"):
        MLPClassifier(random_state=seed).fit(x, y)
    if seed > 0:  # this library's own initialisers take any seed a Generator takes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            MLPClassifier(random_state=seed, init=None, max_iter=1).fit(x, y)
