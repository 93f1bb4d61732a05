"""MinMaxScaler (per feature, fitted on train only, constant features safe) and one_hot."""

import warnings

import numpy as np
import pytest

from neural_network import MinMaxScaler, one_hot


def make_data(seed=0, n_samples=50):
    """Features on very different scales, one of them constant."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [
            rng.normal(size=n_samples),
            rng.uniform(-500, 3000, size=n_samples),
            np.full(n_samples, 7.5),
            rng.integers(0, 256, size=n_samples),
        ]
    )
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8, np.int64])
def test_min_max_maps_training_data_into_unit_interval_per_feature(dtype):
    x = np.abs(make_data()).astype(dtype)
    scaled = MinMaxScaler().fit_transform(x)
    assert scaled.shape == x.shape
    assert scaled.dtype == np.float32
    # float32 arithmetic may overshoot the ends by a rounding error, never by more.
    assert scaled.min() >= -1e-6
    assert scaled.max() <= 1.0 + 1e-6
    varying = x.max(axis=0) > x.min(axis=0)
    np.testing.assert_allclose(scaled.min(axis=0)[varying], 0.0, atol=1e-6)
    np.testing.assert_allclose(scaled.max(axis=0)[varying], 1.0, atol=1e-6)
    expected = (x - x.min(axis=0)) / np.where(varying, np.ptp(x, axis=0), 1.0)
    expected[:, ~varying] = 0.0
    np.testing.assert_allclose(scaled, expected, atol=1e-6)


def test_min_max_maps_constant_features_to_zero_without_warnings():
    x = np.array([[1.0, 5.0, 0.0], [2.0, 5.0, 0.0], [3.0, 5.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaler = MinMaxScaler().fit(x)
        scaled = scaler.transform(x)
        unseen = scaler.transform(np.array([[10.0, 99.0, -3.0]]))
    np.testing.assert_array_equal(scaled[:, 1:], 0.0)
    np.testing.assert_array_equal(unseen[:, 1:], 0.0)
    assert np.isfinite(scaled).all()
    np.testing.assert_allclose(scaled[:, 0], [0.0, 0.5, 1.0])


def test_min_max_of_a_single_sample_maps_to_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = MinMaxScaler().fit_transform(np.array([[3.0, -2.0]]))
    np.testing.assert_array_equal(scaled, [[0.0, 0.0]])


def test_min_max_is_fitted_on_train_only_and_does_not_clip():
    train = np.array([[0.0, -1.0], [10.0, 1.0]])
    test = np.array([[20.0, 3.0], [-5.0, -1.0], [5.0, 0.0]])
    scaler = MinMaxScaler().fit(train)
    np.testing.assert_allclose(scaler.transform(test), [[2.0, 2.0], [-0.5, 0.0], [0.5, 0.5]])
    # Transforming test data leaves the fitted statistics alone.
    np.testing.assert_array_equal(scaler.min_, [0.0, -1.0])
    np.testing.assert_allclose(scaler.scale_, [0.1, 0.5])


def test_min_max_transform_does_not_modify_its_input():
    x = make_data()
    original = x.copy()
    scaled = MinMaxScaler(dtype=np.float64).fit_transform(x)
    np.testing.assert_array_equal(x, original)
    assert not np.shares_memory(scaled, x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_min_max_output_dtype(dtype):
    scaled = MinMaxScaler(dtype=dtype).fit_transform(make_data())
    assert scaled.dtype == dtype


def test_min_max_transform_before_fit_raises():
    with pytest.raises(RuntimeError, match="before fit"):
        MinMaxScaler().transform(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        MinMaxScaler().get_state()


@pytest.mark.parametrize("shape", [(4, 3), (4, 5), (4,), (2, 4, 4)])
def test_min_max_transform_rejects_a_wrong_feature_count(shape):
    scaler = MinMaxScaler().fit(make_data())
    with pytest.raises(ValueError, match=r"fitted on 4 features"):
        scaler.transform(np.zeros(shape))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_min_max_fit_rejects_non_finite_values(bad):
    x = make_data()
    x[3, 1] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        MinMaxScaler().fit(x)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (np.zeros((0, 3)), "non-empty 2-D"),
        (np.zeros(5), "non-empty 2-D"),
        (np.zeros((2, 2, 2)), "non-empty 2-D"),
        (np.array([["a", "b"]]), "numbers"),
    ],
)
def test_min_max_fit_rejects_bad_shapes_and_types(x, match):
    with pytest.raises(ValueError, match=match):
        MinMaxScaler().fit(x)


def test_min_max_state_round_trip():
    x = make_data()
    scaler = MinMaxScaler().fit(x)
    state = scaler.get_state()
    assert set(state) == {"min", "scale"}
    restored = MinMaxScaler.from_state(state)
    test = make_data(seed=1)
    expected = scaler.transform(test)
    np.testing.assert_array_equal(restored.transform(test), expected)
    # get_state returns copies: changing them does not change the scaler.
    scaler.get_state()["min"][:] = 123.0
    np.testing.assert_array_equal(scaler.transform(test), expected)


# --- one_hot --------------------------------------------------------------------------------


def test_one_hot_shape_and_values():
    labels = np.array([2, 0, 1, 2, 4])
    encoded = one_hot(labels, 5)
    assert encoded.shape == (5, 5)
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded.sum(axis=1), 1.0)
    np.testing.assert_array_equal(encoded.argmax(axis=1), labels)
    np.testing.assert_array_equal(encoded[0], [0, 0, 1, 0, 0])


@pytest.mark.parametrize(
    "labels", [[0, 1, 2], np.array([0, 1, 2], dtype=np.uint8), np.array([0.0, 1.0, 2.0])]
)
def test_one_hot_accepts_integers_and_whole_floats(labels):
    np.testing.assert_array_equal(one_hot(labels, 3), np.eye(3))


@pytest.mark.parametrize("dtype", [np.float64, np.int8, np.float32])
def test_one_hot_dtype(dtype):
    assert one_hot([1, 0], 2, dtype=dtype).dtype == dtype


def test_one_hot_of_no_labels():
    assert one_hot(np.array([], dtype=int), 4).shape == (0, 4)


@pytest.mark.parametrize(
    ("labels", "n_classes", "match"),
    [
        ([0, 1, 3], 3, r"labels must lie in \[0, 3\)"),
        ([-1, 0], 3, r"labels must lie in \[0, 3\)"),
        ([0.5, 1.0], 3, "integer class ids"),
        ([np.nan, 1.0], 3, "integer class ids"),
        (["a", "b"], 3, "integer class ids"),
        ([[0, 1], [1, 0]], 3, "1-D"),
        ([0, 1], 0, "n_classes"),
        ([0, 1], -2, "n_classes"),
        ([0, 1], 2.0, "n_classes"),
        ([0, 1], True, "n_classes"),
    ],
)
def test_one_hot_rejects_bad_input(labels, n_classes, match):
    with pytest.raises(ValueError, match=match):
        one_hot(labels, n_classes)


def test_min_max_subtracts_before_casting_so_large_offsets_keep_their_resolution():
    x = (1.7e9 + np.arange(200.0)).reshape(-1, 1)
    scaled = MinMaxScaler().fit_transform(x)
    assert scaled.dtype == np.float32
    assert len(np.unique(scaled)) == 200
    np.testing.assert_allclose(scaled[:, 0], np.arange(200) / 199, atol=1e-6)


def test_min_max_scales_finite_values_beyond_float32s_range():
    x = np.array([[-1e300], [0.0], [1e300]])
    scaled = MinMaxScaler().fit_transform(x)
    np.testing.assert_allclose(scaled[:, 0], [0.0, 0.5, 1.0], atol=1e-6)


def test_min_max_names_overflow_not_nan_for_values_far_outside_the_fitted_range():
    scaler = MinMaxScaler().fit(np.array([[0.0], [1.0]]))
    with pytest.raises(ValueError, match="overflows float32") as caught:
        scaler.transform(np.array([[1e39]]))
    assert "NaN" not in str(caught.value)
    with pytest.raises(ValueError, match="NaN or infinite"):
        scaler.transform(np.array([[np.nan]]))
