"""sample_weight and class_weight in both estimators, against duplicated samples."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from neural_network import MLPClassifier, MLPRegressor, load_model  # noqa: E402

COUNTS = np.array([2, 0, 1, 3, 1, 1, 0, 2, 1, 4, 1, 2])
# One full batch, float64: weighting and repeating may differ only by rounding.
FULL_BATCH = {"hidden_layer_sizes": (6,), "max_iter": 4, "batch_size": 1000, "dtype": "float64"}


def _data(rng, estimator):
    x = rng.normal(size=(12, 3))
    y = rng.integers(0, 3, 12) if estimator is MLPClassifier else rng.normal(size=(12, 2))
    return x, y


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_sample_weight_equals_repeated_samples(rng, estimator, method):
    x, y = _data(rng, estimator)
    extra = {"classes": [0, 1, 2]} if method == "partial_fit" and estimator is MLPClassifier else {}
    weighted = estimator(**FULL_BATCH, random_state=0)
    repeated = estimator(**FULL_BATCH, random_state=0)
    for _ in range(2 if method == "partial_fit" else 1):
        getattr(weighted, method)(x, y, sample_weight=COUNTS, **extra)
        getattr(repeated, method)(
            np.repeat(x, COUNTS, axis=0), np.repeat(y, COUNTS, axis=0), **extra
        )
    np.testing.assert_allclose(
        weighted.model_.flat.values, repeated.model_.flat.values, rtol=0, atol=1e-10
    )
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)


def test_weights_change_the_fit(rng):
    x, y = _data(rng, MLPClassifier)
    plain = MLPClassifier(**FULL_BATCH, random_state=0).fit(x, y)
    weighted = MLPClassifier(**FULL_BATCH, random_state=0).fit(x, y, sample_weight=COUNTS)
    assert not np.allclose(plain.model_.flat.values, weighted.model_.flat.values)


def test_class_weight_dict_equals_weighting_its_samples(rng):
    x, y = _data(rng, MLPClassifier)
    by_class = MLPClassifier(**FULL_BATCH, class_weight={0: 3.0, 2: 0.5}, random_state=0)
    by_sample = MLPClassifier(**FULL_BATCH, random_state=0)
    by_class.fit(x, y, sample_weight=COUNTS)
    by_sample.fit(x, y, sample_weight=COUNTS * np.array([3.0, 1.0, 0.5])[y])
    np.testing.assert_allclose(
        by_class.model_.flat.values, by_sample.model_.flat.values, atol=1e-12
    )


def test_balanced_class_weight_follows_scikit_learns_formula(rng):
    from sklearn.utils.class_weight import compute_class_weight

    x, y = rng.normal(size=(30, 3)), np.array([0] * 20 + [1] * 7 + [2] * 3)
    balanced = MLPClassifier(**FULL_BATCH, class_weight="balanced", random_state=0).fit(x, y)
    weights = compute_class_weight("balanced", classes=np.arange(3), y=y)
    explicit = MLPClassifier(**FULL_BATCH, class_weight=dict(enumerate(weights)), random_state=0)
    explicit.fit(x, y)
    np.testing.assert_allclose(balanced.model_.flat.values, explicit.model_.flat.values, atol=1e-12)


def test_balanced_class_weight_counts_repeated_samples_as_their_weights(rng):
    x, y = _data(rng, MLPClassifier)
    params = {**FULL_BATCH, "class_weight": "balanced", "random_state": 0}
    weighted = MLPClassifier(**params).fit(x, y, sample_weight=COUNTS)
    repeated = MLPClassifier(**params).fit(np.repeat(x, COUNTS, axis=0), np.repeat(y, COUNTS))
    np.testing.assert_allclose(weighted.model_.flat.values, repeated.model_.flat.values, atol=1e-10)


def test_balanced_class_weight_is_refused_in_partial_fit(rng):
    x, y = _data(rng, MLPClassifier)
    with pytest.raises(ValueError, match="compute_class_weight"):
        MLPClassifier(class_weight="balanced").partial_fit(x, y, classes=[0, 1, 2])


@pytest.mark.parametrize(
    ("class_weight", "message"),
    [
        ({7: 1.0}, "not one of the classes"),
        ({0: -1.0}, "non-negative"),
        ({0: "heavy"}, "number"),
        ("heavy", "balanced"),
        ({0: 0.0, 1: 0.0, 2: 0.0}, "weight zero"),
    ],
)
def test_bad_class_weights_are_refused(rng, class_weight, message):
    x, y = _data(rng, MLPClassifier)
    with pytest.raises(ValueError, match=message):
        MLPClassifier(class_weight=class_weight, max_iter=1).fit(x, y)


def test_zero_weights_drop_samples_from_scaling_too(rng):
    x, y = _data(rng, MLPRegressor)
    x[1] = 1e6  # an outlier of weight 0 must not squash the other inputs' scaling
    weighted = MLPRegressor(**FULL_BATCH, random_state=0).fit(x, y, sample_weight=COUNTS > 0)
    kept = COUNTS > 0
    dropped = MLPRegressor(**FULL_BATCH, random_state=0).fit(x[kept], y[kept])
    np.testing.assert_array_equal(weighted.predict(x), dropped.predict(x))


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_weighted_early_stopping_splits_the_weights_too(rng, estimator):
    x, y = rng.normal(size=(60, 3)), rng.integers(0, 2, 60)
    model = estimator((8,), max_iter=5, early_stopping=True, random_state=0)
    model.fit(x, y, sample_weight=rng.uniform(0.5, 2, 60))
    assert len(model.validation_scores_) == model.n_iter_ == 5


def test_class_weight_dict_survives_the_model_file(tmp_path, rng):
    x, y = rng.normal(size=(30, 3)), rng.choice(["a", "b"], 30)
    clf = MLPClassifier((4,), max_iter=2, class_weight={"a": 2.0}, random_state=0).fit(x, y)
    clf.save(tmp_path / "clf.npz")
    assert load_model(tmp_path / "clf.npz").get_params()["class_weight"] == {"a": 2.0}


@pytest.mark.parametrize("estimator", [MLPClassifier, MLPRegressor])
def test_in_float32_weights_and_repeats_agree_to_float32_rounding(rng, estimator):
    """What scikit-learn's sample-weight equivalence check measures, at float32's tolerance
    (the check's 1e-7 is below float32 rounding; the float64 instances pass it)."""
    x, y = _data(rng, estimator)
    params = {**FULL_BATCH, "dtype": "float32", "max_iter": 20, "random_state": 0}
    weighted = estimator(**params).fit(x, y, sample_weight=COUNTS)
    repeated = estimator(**params).fit(np.repeat(x, COUNTS, axis=0), np.repeat(y, COUNTS, axis=0))
    predict = "predict_proba" if estimator is MLPClassifier else "predict"
    np.testing.assert_allclose(
        getattr(weighted, predict)(x), getattr(repeated, predict)(x), rtol=1e-5, atol=1e-6
    )
