"""Image distortions (affine and elastic), and the Augment and MaxNorm callbacks in fit."""

import numpy as np
import pytest

from neural_network import Adam, Augment, MaxNorm, build_mlp, fit
from neural_network.data.augmentation import (
    RandomDistortion,
    distort,
    elastic_field_basis,
    gaussian_smoothing_matrix,
    random_affine,
    random_elastic_fields,
)

STRONG = dict(max_rotation=15.0, max_scale=0.15, max_shear=15.0, max_shift=3.0)


def digits(rng, n=16, shape=(28, 28)):
    """Blurry random strokes in [0, 1], flattened: enough structure to see pixels move."""
    images = np.zeros((n, *shape), dtype=np.float32)
    for image in images:
        rows = rng.integers(4, shape[0] - 4, 6)
        cols = rng.integers(4, shape[1] - 4, 6)
        image[rows, cols] = 1.0
        image[rows + 1, cols] = 0.5
    return images.reshape(n, -1)


def single_pixel(row, col, shape=(28, 28)):
    image = np.zeros((1, *shape), dtype=np.float32)
    image[0, row, col] = 1.0
    return image


@pytest.mark.parametrize("sigma", [1.0, 4.0, 5.0, 6.0, 12.0])
def test_smoothing_matrix_is_a_normalised_reflected_gaussian(sigma):
    matrix = gaussian_smoothing_matrix(28, sigma)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-12)
    assert (matrix >= 0).all()
    # Far from the borders a row is the plain Gaussian, centred on the diagonal.
    if 4 * sigma < 13:
        row = matrix[14]
        assert row.argmax() == 14
        np.testing.assert_allclose(row[15] / row[14], np.exp(-0.5 / sigma**2))
    # Reflected borders: the first row holds the taps that fall off the edge.
    assert matrix[0, 0] > matrix[14, 14]


def test_smoothing_matrix_matches_scipy():
    ndimage = pytest.importorskip("scipy.ndimage")
    field = np.random.default_rng(0).random((28, 28))
    for sigma in (2.0, 5.0, 9.0):
        matrix = gaussian_smoothing_matrix(28, sigma)
        expected = ndimage.gaussian_filter(field, sigma, mode="reflect")
        np.testing.assert_allclose(matrix @ field @ matrix.T, expected, atol=1e-12)


def test_smoothing_matrix_sigma_zero_and_validation():
    np.testing.assert_array_equal(gaussian_smoothing_matrix(5, 0.0), np.eye(5))
    for size, sigma in [(0, 1.0), (3.5, 1.0), (5, -1.0), (5, float("nan"))]:
        with pytest.raises(ValueError):
            gaussian_smoothing_matrix(size, sigma)


@pytest.mark.parametrize("shape, sigma", [((28, 28), 4.0), ((28, 28), 6.0), ((20, 24), 5.0)])
def test_field_basis_has_the_covariance_of_smoothed_uniform_noise(shape, sigma):
    alpha = 30.0
    basis = elastic_field_basis(shape, alpha=alpha, sigma=sigma)
    assert basis.shape[1] == shape[0] * shape[1]
    assert len(basis) <= 100  # low rank: the smoothing passes few frequencies
    rows, cols = (gaussian_smoothing_matrix(size, sigma) for size in shape)
    exact = alpha**2 / 3.0 * np.kron(rows @ rows.T, cols @ cols.T)
    np.testing.assert_allclose(basis.T @ basis, exact, atol=1e-5 * exact.max())


def test_exact_fields_are_smooth_and_scaled():
    rng = np.random.default_rng(0)
    fields = random_elastic_fields(rng, 400, alpha=34.0, sigma=5.0)
    assert fields.shape == (400, 2, 28, 28) and fields.dtype == np.float32
    # Centre pixel: alpha * std(U) * ||gaussian kernel||, U uniform(-1, 1).
    kernel = gaussian_smoothing_matrix(28, 5.0)[14]
    expected = 34.0 / np.sqrt(3.0) * np.sum(kernel**2)
    assert fields[:, :, 14, 14].std() == pytest.approx(expected, rel=0.1)
    step = np.abs(np.diff(fields, axis=3)).mean()
    assert step < 0.15 * fields.std()


def test_distortion_fields_are_smooth():
    """Neighbouring source coordinates differ little: the elastic part is a smooth field."""
    rng = np.random.default_rng(1)
    basis = elastic_field_basis(alpha=34.0, sigma=5.0)
    fields = (rng.standard_normal((400, len(basis))) @ basis).reshape(200, 2, 28, 28)
    spread = fields.std()
    assert 0.8 < spread < 3.0  # pixels
    for axis in (2, 3):
        assert np.abs(np.diff(fields, axis=axis)).max() < 0.5 * spread * 6
        assert np.abs(np.diff(fields, axis=axis)).mean() < 0.15 * spread


def test_same_generator_same_distortions(rng):
    x = digits(rng)
    augment = RandomDistortion(**STRONG)
    first = augment(x, np.random.default_rng(7))
    second = augment(x, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, augment(x, np.random.default_rng(8)))
    assert not np.array_equal(first, x)
    # Consecutive calls draw new distortions.
    generator = np.random.default_rng(7)
    assert not np.array_equal(augment(x, generator), augment(x, generator))


def test_zero_magnitudes_are_the_identity(rng):
    x = digits(rng)
    identity = RandomDistortion(
        max_rotation=0, max_scale=0, max_shear=0, max_shift=0, elastic_alpha=0
    )
    out = identity(x, rng)
    np.testing.assert_array_equal(out, x)
    assert out is not x
    np.testing.assert_array_equal(distort(x.reshape(-1, 28, 28)), x.reshape(-1, 28, 28))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(28, 28), (20, 24)])
def test_shapes_dtypes_and_range(rng, dtype, shape):
    x = digits(rng, 33, shape).astype(dtype)
    out = RandomDistortion(shape, **STRONG, elastic_alpha=38.0, elastic_sigma=4.0)(x, rng)
    assert out.shape == x.shape and out.dtype == dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    # Content moves but is mostly kept inside the field.
    assert 0.6 < out.sum() / x.sum() < 1.4


@pytest.mark.parametrize("shift", [(2.0, -3.0), (-5.0, 4.0), (0.0, 1.0)])
def test_shift_moves_a_bright_pixel(shift):
    image = single_pixel(10, 12)
    out = distort(image, shifts=np.array([shift]))
    expected = single_pixel(10 + int(shift[0]), 12 + int(shift[1]))
    np.testing.assert_array_equal(out, expected)


def test_half_pixel_shift_interpolates():
    out = distort(single_pixel(10, 12), shifts=np.array([[0.0, 0.5]]))[0]
    assert out[10, 12] == pytest.approx(0.5) and out[10, 13] == pytest.approx(0.5)
    assert out.sum() == pytest.approx(1.0)


def test_rotation_and_scale_about_the_centre():
    # Quarter turn in (row, col) coordinates: (r, c) - centre -> (-(c - centre), r - centre).
    quarter_turn = np.array([[[0.0, -1.0], [1.0, 0.0]]])
    out = distort(single_pixel(5, 20), matrices=quarter_turn)
    # centre 13.5: (5, 20) -> offsets (-8.5, 6.5) -> (-6.5, -8.5) -> (7, 5)
    np.testing.assert_allclose(out, single_pixel(7, 5), atol=1e-6)
    doubling = np.array([[[2.0, 0.0], [0.0, 2.0]]])
    out = distort(single_pixel(11, 15), matrices=doubling)[0]
    # (11, 15) -> offsets (-2.5, 1.5) -> (-5, 3) -> (8.5, 16.5): the four pixels around it
    # sample (11, 15) +- (0.25, 0.25), so each gets 0.75 * 0.75; the pixel is blown up 2x.
    np.testing.assert_allclose(out[8:10, 16:18], 0.5625, rtol=1e-6)
    assert out.max() == pytest.approx(0.5625)
    assert out.sum() == pytest.approx(4.0)


def test_out_of_range_is_black():
    out = distort(single_pixel(1, 1), shifts=np.array([[-30.0, 0.0]]))
    np.testing.assert_array_equal(out, 0.0)


def test_random_affine_ranges(rng):
    matrices, shifts = random_affine(
        rng, 2000, max_rotation=10.0, max_scale=0.1, max_shear=0.0, max_shift=2.0
    )
    assert matrices.shape == (2000, 2, 2) and shifts.shape == (2000, 2)
    assert np.abs(shifts).max() <= 2.0 and np.abs(shifts).max() > 1.9
    determinants = np.linalg.det(matrices)  # product of the two scales
    assert determinants.min() >= 0.81 - 1e-9 and determinants.max() <= 1.21 + 1e-9
    identity, no_shift = random_affine(rng, 3)
    np.testing.assert_array_equal(identity, np.broadcast_to(np.eye(2), (3, 2, 2)))
    np.testing.assert_array_equal(no_shift, 0.0)


def test_validation(rng):
    with pytest.raises(ValueError, match="max_rotation"):
        RandomDistortion(max_rotation=-1.0)
    with pytest.raises(ValueError, match="elastic_sigma"):
        RandomDistortion(elastic_sigma=0.0)
    with pytest.raises(ValueError, match="shape"):
        RandomDistortion((28,))
    with pytest.raises(ValueError, match="x_batch"):
        RandomDistortion()(np.zeros((2, 100), dtype=np.float32), rng)
    with pytest.raises(ValueError, match="shifts"):
        distort(np.zeros((2, 5, 5)), shifts=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="invertible"):
        distort(np.zeros((1, 5, 5)), matrices=np.zeros((1, 2, 2)))
    config = RandomDistortion(**STRONG).get_config()
    assert RandomDistortion(**{**config, "shape": tuple(config["shape"])}).get_config() == config


def train_digits(seed, *callbacks):
    data_rng = np.random.default_rng(0)
    x = digits(data_rng, 64)
    labels = data_rng.integers(0, 3, 64)
    rng = np.random.default_rng(seed)
    model = build_mlp(784, [16], 3, rng=rng)
    history = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=1e-2),
        epochs=3,
        batch_size=16,
        validation_data=(x[:8], labels[:8]),
        rng=rng,
        callbacks=list(callbacks),
        threads=1,
    )
    return model, history


def test_fit_with_augmentation_is_deterministic():
    augment = RandomDistortion(**STRONG)
    model_a, history_a = train_digits(3, Augment(augment))
    model_b, history_b = train_digits(3, Augment(augment))
    np.testing.assert_array_equal(model_a.flat.values, model_b.flat.values)
    timings = {"epoch_time": 0, "step_time": 0, "threads": 0}  # measured, not computed
    assert history_a.to_dict() | timings == history_b.to_dict() | timings
    plain, _ = train_digits(3)
    assert not np.array_equal(plain.flat.values, model_a.flat.values)


def test_fit_augments_training_batches_only():
    seen = []

    def augment(x_batch, rng):
        seen.append(x_batch.shape)
        assert isinstance(rng, np.random.Generator)
        return x_batch

    model, _ = train_digits(0, Augment(augment))
    plain, _ = train_digits(0)
    assert seen == [(16, 784)] * 12  # 4 batches x 3 epochs, no validation batches
    np.testing.assert_array_equal(model.flat.values, plain.flat.values)


def test_fit_with_max_norm_keeps_the_bound():
    model, _ = train_digits(0, MaxNorm(0.5))
    hidden = model.layers[0].weight.value
    assert np.linalg.norm(hidden, axis=0).max() <= 0.5 * (1 + 1e-6)
    free, _ = train_digits(0)
    assert np.linalg.norm(free.layers[0].weight.value, axis=0).max() > 0.5


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: MaxNorm(0.0), ValueError),
        (lambda: MaxNorm(-2.0), ValueError),
        (lambda: Augment(3), TypeError),
    ],
)
def test_the_hooks_validate_their_settings(make, error):
    with pytest.raises(error, match=r"max_norm|transform"):
        make()
