"""Finding the ink in photos: lighting and shadows removed, noise and JPEG ignored, specks and
edge blobs dropped, the digit's own strokes (detached ones too) kept with their soft edges."""

import io
import sys

import numpy as np
import pytest
from PIL import Image

from neural_network import load_mnist
from neural_network.data import ink
from neural_network.data.images import centre_in_field, prepare_digit
from neural_network.data.ink import PlainReadingWarning
from neural_network.data.photo_like import PhotoSettings, photo_like


@pytest.fixture(scope="module")
def digits():
    _, (x_test, _) = load_mnist()
    return x_test[:40].reshape(-1, 28, 28)


def on_paper(digit, *, size=(240, 320), at=(60, 100), side=112, paper=200.0, pen=40.0):
    """An MNIST digit drawn large in dark ink on flat paper, and its ink coverage."""
    coverage = np.zeros(size)
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    coverage[at[0] : at[0] + side, at[1] : at[1] + side] = np.asarray(big) / 255.0
    return paper + (pen - paper) * coverage


def difference(a, b) -> float:
    """Mean absolute difference of two prepared inputs in grey levels, the better of the nine
    alignments a pixel apart (centring by whole pixels may round either way)."""
    a, b = a.reshape(28, 28).astype(float), b.reshape(28, 28).astype(float)
    return min(
        float(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).mean())
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )


def close(a, b, tolerance=6.0):
    return difference(a, b) < tolerance


def test_lighting_gradient_is_removed(digits):
    for digit in digits[:10]:
        clean = on_paper(digit)
        rows, cols = np.mgrid[0:240, 0:320]
        lit = clean * (1.0 - 0.5 * cols / 320) * (1.0 - 0.2 * rows / 240)
        assert close(prepare_digit(lit), prepare_digit(clean))


def test_a_shadow_over_a_corner_is_not_ink(digits):
    rows, cols = np.mgrid[0:240, 0:320]
    shadow = 1.0 / (1.0 + np.exp((np.hypot(rows - 240, cols) - 140) / 8))
    for digit in digits[:10]:
        clean = on_paper(digit)
        assert close(prepare_digit(clean * (1 - 0.45 * shadow)), prepare_digit(clean))


def test_specks_and_the_table_at_the_edge_are_dropped(digits):
    for digit in digits[:10]:
        clean = on_paper(digit)
        messy = clean.copy()
        messy[20:23, 20:23] = 40.0  # dust
        messy[200:204, 280:283] = 60.0
        messy[:, 300:] = 70.0  # the table beyond the sheet
        messy[230:, :] = 90.0
        assert close(prepare_digit(messy), prepare_digit(clean), tolerance=4.0)


def test_noise_and_jpeg_do_not_change_the_digit(digits, rng):
    diffs = []
    for digit in digits[:10]:
        clean = on_paper(digit)
        noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy).save(buffer, format="JPEG", quality=30)
        jpeg = np.asarray(Image.open(io.BytesIO(buffer.getvalue())))
        diffs.append(difference(prepare_digit(jpeg), prepare_digit(clean)))
    assert max(diffs) < 12
    assert np.median(diffs) < 5


def test_a_small_digit_anywhere_in_a_large_picture(digits):
    for digit in digits[:10]:
        centred = on_paper(digit, size=(600, 800), at=(250, 350), side=80)
        corner = on_paper(digit, size=(600, 800), at=(500, 20), side=80)
        assert close(prepare_digit(corner), prepare_digit(centred), tolerance=8.0)
        # A digit a few hundredths of the picture is still dark ink on light paper.
        tiny = on_paper(digit, size=(900, 1200), at=(100, 1000), side=60)
        assert close(prepare_digit(tiny), prepare_digit(centred), tolerance=10.0)


def test_a_detached_stroke_of_the_digit_is_kept_and_a_far_speck_is_not():
    mask = np.zeros((100, 100), dtype=bool)
    mask[30:70, 40:44] = True  # the digit's main stroke
    mask[24:27, 38:60] = True  # its detached bar, as a 5's
    mask[90:93, 5:8] = True  # a speck far away
    mask[0:10, 95:100] = True  # a blob at the edge
    kept = ink.keep_digit(mask)
    assert kept[30:70, 40:44].all() and kept[24:27, 38:60].all()
    assert not kept[90:93, 5:8].any() and not kept[0:10, 95:100].any()


def test_a_digit_cropped_tightly_against_the_edge_is_kept():
    mask = np.zeros((30, 30), dtype=bool)
    mask[0:30, 12:16] = True  # touches top and bottom: a 1 cropped to its height
    np.testing.assert_array_equal(ink.keep_digit(mask), mask)


def test_strokes_stay_soft_not_a_binary_mask(digits):
    out = prepare_digit(on_paper(digits[0]))
    assert np.count_nonzero((out > 20) & (out < 235)) > 40


def test_photo_like_pictures_come_out_near_their_clean_digit(digits):
    photos = photo_like(digits[:20], np.random.default_rng(3))
    diffs = [
        np.abs(prepare_digit(p).astype(float) - prepare_digit(d).astype(float)).mean()
        for p, d in zip(photos, digits[:20], strict=True)
    ]
    assert np.median(diffs) < 25


def test_blank_paper_with_noise_and_light_is_blank(rng):
    cols = np.arange(300)[None, :]
    paper = 190 - 40 * cols / 300 + rng.normal(0, 4, (200, 300))
    with pytest.raises(ValueError, match="blank"):
        prepare_digit(paper)


def test_photo_like_is_deterministic_and_checks_its_digits(digits):
    a = photo_like(digits[:3], np.random.default_rng(5))
    b = photo_like(digits[:3], np.random.default_rng(5))
    for x, y in zip(a, b, strict=True):
        assert x.dtype == np.uint8 and x.ndim == 2
        np.testing.assert_array_equal(x, y)
    c = photo_like(digits[:3], np.random.default_rng(6))
    assert any(x.shape != y.shape or (x != y).any() for x, y in zip(a, c, strict=True))
    settings = PhotoSettings(picture_size=(100, 100), digit_height=(50, 50))
    assert all(
        p.shape == (100, 100) for p in photo_like(digits[:3], np.random.default_rng(0), settings)
    )
    with pytest.raises(ValueError, match=r"\(n, 28, 28\) or \(n, 784\)"):
        photo_like(np.zeros((2, 27, 28)), np.random.default_rng(0))


def test_without_scikit_image_clean_digits_read_and_a_warning_says_what_to_install(
    monkeypatch, digits
):
    cleaned = prepare_digit(digits[0].astype(float))
    for name in [m for m in sys.modules if m == "skimage" or m.startswith("skimage.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.warns(PlainReadingWarning, match=r'pip install "neural-network\[photos\]"'):
        plain = prepare_digit(digits[0])
    # A clean digit reads nearly the same: the same box, nearly the same ink.
    assert np.mean(np.abs(plain.astype(float) - cleaned)) < 8
    assert ((plain > 0) == (cleaned > 0)).mean() > 0.95
    # MNIST's step alone (the web page's drawings) needs no scikit-image.
    out = centre_in_field(digits[0].astype(float))
    assert out.shape == (784,) and out.max() == 255


def test_centre_in_field_refuses_a_field_without_ink():
    with pytest.raises(ValueError, match="blank"):
        centre_in_field(np.zeros((28, 28)))
