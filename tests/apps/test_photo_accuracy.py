"""How well the shipped demo model reads photos once prepare_digit has cleaned them up: photo-like
pictures made from MNIST *test* digits, the phone-style pictures in data/photos/, and the clean
digits, which must read as well as before."""

from pathlib import Path

import numpy as np
import pytest

from neural_network import load_mnist
from neural_network.apps.predictor import pixel_classifier
from neural_network.apps.server import demo_model_path
from neural_network.data.images import load_digit, prepare_digit
from neural_network.data.photo_like import photo_like
from neural_network.io.model_files import load_model

PHOTOS = Path(__file__).parent / "data" / "photos"


@pytest.fixture(scope="module")
def demo():
    return pixel_classifier(load_model(demo_model_path()))


@pytest.fixture(scope="module")
def mnist_test():
    _, (x_test, y_test) = load_mnist()
    return x_test, y_test


def accuracy(demo, pixels, labels) -> float:
    return float(np.mean(demo.probabilities(np.asarray(pixels)).argmax(axis=1) == labels))


def test_clean_digits_read_as_well_as_the_model_was_measured(demo, mnist_test):
    x_test, y_test = mnist_test
    assert accuracy(demo, x_test, y_test) >= 0.9785


def test_prepare_digit_keeps_clean_digits_as_good(demo, mnist_test):
    x_test, y_test = mnist_test
    x, labels = x_test[:1000], y_test[:1000]
    prepared = np.stack([prepare_digit(d.reshape(28, 28)) for d in x])
    assert accuracy(demo, prepared, labels) >= accuracy(demo, x, labels) - 0.002


def test_photo_like_digits_read_after_clean_up(demo, mnist_test):
    x_test, y_test = mnist_test
    x, labels = x_test[::20], y_test[::20]  # 500 digits from all over the test set
    photos = photo_like(x, np.random.default_rng(7))
    prepared = np.stack([prepare_digit(photo) for photo in photos])
    read = accuracy(demo, prepared, labels)
    assert read >= 0.95
    # Nearly everything the model reads in the clean digits, it reads in their photos.
    assert read >= accuracy(demo, x, labels) - 0.015


def test_phone_style_pictures_read(demo):
    files = sorted(PHOTOS.glob("digit_*.jpg"))
    assert len(files) == 20
    labels = np.array([int(f.name.split("_")[1]) for f in files])
    prepared = np.stack([load_digit(f) for f in files])
    assert accuracy(demo, prepared, labels) >= 0.95


def drawn_digit(digit: int, size=(300, 400)) -> np.ndarray:
    """Ink coverage (0-1) of a thick digit drawn in Pillow's font, centred in ``size``."""
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("L", (size[1], size[0]), 0)
    font = ImageFont.load_default(size=200)
    ImageDraw.Draw(picture).text(
        (size[1] // 2, size[0] // 2),
        str(digit),
        fill=255,
        anchor="mm",
        font=font,
        stroke_width=6,
        stroke_fill=255,
    )
    return np.asarray(picture) / 255.0


def test_grey_paper_lighting_and_shadow_read_like_the_clean_drawing(demo):
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:300, 0:400]
    shadow = 1 / (1 + np.exp((np.hypot(rows - 300, cols - 400) - 180) / 10))
    read = []
    for digit in range(10):
        ink = drawn_digit(digit)
        clean = 255 - 255 * ink
        grey_noisy = 170 - 130 * ink + rng.normal(0, 12, ink.shape)
        gradient = (190 - 150 * ink) * (1 - 0.5 * cols / 400) + rng.normal(0, 8, ink.shape)
        shadowed = (200 - 160 * ink) * (1 - 0.5 * shadow) + rng.normal(0, 6, ink.shape)
        pictures = [clean, grey_noisy, gradient, shadowed]
        labels = demo.probabilities(np.stack([prepare_digit(p) for p in pictures])).argmax(axis=1)
        if labels[0] == digit:  # a font's 1, 6 and 9 are not handwriting: the model misreads them
            assert (labels == digit).all(), (digit, labels)
            read.append(digit)
    assert {3, 4} <= set(read) and len(read) >= 6
