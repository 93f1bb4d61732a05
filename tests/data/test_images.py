"""Digits from pictures: MNIST's own preprocessing (20x20 box, centre of mass at the centre),
inversion of dark-on-light pictures, and reading PNG, JPEG and .npy files."""

import io

import numpy as np
import pytest
from PIL import Image

from neural_network import load_mnist
from neural_network.data.images import load_digit, prepare_digit, read_image


@pytest.fixture(scope="module")
def digits():
    """The first 200 MNIST test digits as (200, 28, 28) uint8, and their labels."""
    _, (x_test, y_test) = load_mnist()
    return x_test[:200].reshape(-1, 28, 28), y_test[:200]


def centre_of_mass(field: np.ndarray) -> tuple[float, float]:
    field = field.reshape(28, 28).astype(np.float64)
    index = np.arange(28)
    return (
        float(field.sum(axis=1) @ index / field.sum()),
        float(field.sum(axis=0) @ index / field.sum()),
    )


def bounding_box(field: np.ndarray) -> tuple[int, int]:
    field = field.reshape(28, 28)
    rows, cols = np.flatnonzero(field.any(axis=1)), np.flatnonzero(field.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def test_returns_784_uint8(digits):
    out = prepare_digit(digits[0][0])
    assert out.shape == (784,)
    assert out.dtype == np.uint8


def test_mnist_digits_come_back_almost_unchanged(digits):
    images, _ = digits
    diffs = [np.abs(prepare_digit(d).astype(int) - d.ravel()).mean() for d in images]
    # MNIST is already in this form: most digits come back within a grey level or two.
    assert np.median(diffs) < 1.0
    assert np.mean(np.array(diffs) < 5.0) > 0.95


def test_inverted_digit_gives_the_same_input(digits):
    for image in digits[0][:20]:
        np.testing.assert_array_equal(prepare_digit(255 - image), prepare_digit(image))


def test_range_and_colour_do_not_matter(digits):
    image = digits[0][3]
    expected = prepare_digit(image)
    np.testing.assert_array_equal(prepare_digit(image / 255.0), expected)
    rgb = np.repeat((255 - image)[..., None], 3, axis=2)
    np.testing.assert_array_equal(prepare_digit(rgb), expected)


@pytest.mark.parametrize("size", [60, 100, 300])
def test_large_picture_is_scaled_into_a_20_pixel_box_centred_by_mass(digits, size):
    for image in digits[0][:10]:
        big = np.asarray(
            Image.fromarray(255 - image).resize((size, size), Image.Resampling.BICUBIC)
        )
        out = prepare_digit(big)
        assert max(bounding_box(out)) <= 21
        assert max(bounding_box(out)) >= 19
        row, col = centre_of_mass(out)
        assert abs(row - 14) <= 0.75
        assert abs(col - 14) <= 0.75


def test_position_in_the_picture_does_not_matter(digits):
    image = digits[0][5]
    outputs = []
    for top, left in [(0, 0), (50, 120), (150, 30)]:
        canvas = np.zeros((200, 200))
        canvas[top : top + 28, left : left + 28] = image
        outputs.append(prepare_digit(canvas))
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])


def test_aspect_ratio_is_kept():
    canvas = np.full((300, 300), 255.0)  # a dark vertical bar, 12 wide and 120 tall
    canvas[90:210, 144:156] = 0.0
    height, width = bounding_box(prepare_digit(canvas))
    assert height == 20
    assert 2 <= width <= 3


def test_grey_paper_and_grey_ink_are_stretched_to_black_and_white():
    canvas = np.full((100, 100), 190.0)
    canvas[20:80, 45:55] = 70.0
    out = prepare_digit(canvas)
    assert out.max() == 255
    assert np.count_nonzero(out == 0) > 600


def test_blank_and_invalid_arrays_are_refused():
    with pytest.raises(ValueError, match="blank"):
        prepare_digit(np.full((40, 40), 200))
    with pytest.raises(ValueError, match="NaN"):
        prepare_digit(np.full((28, 28), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        prepare_digit(np.zeros(784))
    with pytest.raises(ValueError, match="real numbers"):
        prepare_digit(np.array([["a"]]))


def test_png_jpeg_and_transparent_png_read_alike(tmp_path, digits):
    image = digits[0][7]
    expected = prepare_digit(image)
    Image.fromarray(255 - image).save(tmp_path / "paper.png")
    Image.fromarray(255 - image).convert("RGB").save(tmp_path / "paper.jpg", quality=95)
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = image  # black ink, opaque where the digit is, on a transparent sheet
    Image.fromarray(rgba).save(tmp_path / "transparent.png")
    np.testing.assert_array_equal(load_digit(tmp_path / "paper.png"), expected)
    np.testing.assert_array_equal(load_digit(tmp_path / "transparent.png"), expected)
    jpeg = load_digit(tmp_path / "paper.jpg").astype(int)
    assert np.abs(jpeg - expected).mean() < 4


def test_sixteen_bit_png_reads(tmp_path, digits):
    image = digits[0][9].astype(np.uint16) * 257
    Image.fromarray(image).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(load_digit(tmp_path / "deep.png"), prepare_digit(digits[0][9]))


def test_npy_digits_are_used_as_they_are(tmp_path, digits):
    image = digits[0][11]
    np.save(tmp_path / "square.npy", image)
    np.save(tmp_path / "flat.npy", image.ravel().astype(np.float32))
    np.testing.assert_array_equal(load_digit(tmp_path / "square.npy"), image.ravel())
    np.testing.assert_array_equal(load_digit(tmp_path / "flat.npy"), image.ravel())


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((27, 28)), "28x28 or 784"),
        (np.full(784, 300.0), "0-255"),
        (np.full(784, -1.0), "0-255"),
        (np.full(784, np.nan), "0-255"),
        (np.array(["x"] * 784), "numbers"),
        # True was read as 1 of 255: a 10% guess at a faint smudge, exit 0
        (np.ones((28, 28), dtype=bool), "got dtype bool .a mask: multiply it by 255 first"),
    ],
)
def test_bad_npy_arrays_are_refused(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ValueError, match=message):
        load_digit(tmp_path / "bad.npy")


def test_pickled_npy_is_refused(tmp_path):
    objects = np.empty(784, dtype=object)
    objects[:] = [{"a": 1}] * 784
    np.save(tmp_path / "pickle.npy", objects, allow_pickle=True)
    # Refused from the header (an object array), before anything could be unpickled.
    with pytest.raises(ValueError, match=r"pickle\.npy: a \.npy digit must hold real numbers"):
        load_digit(tmp_path / "pickle.npy")


def test_unreadable_and_missing_files(tmp_path):
    (tmp_path / "text.png").write_text("not a picture")
    with pytest.raises(ValueError, match="not a readable image"):
        read_image(tmp_path / "text.png")
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="not a file"):
        read_image(tmp_path)
    Image.new("L", (30, 30), 255).save(tmp_path / "white.png")
    with pytest.raises(ValueError, match=r"white\.png: the image is blank"):
        load_digit(tmp_path / "white.png")


def test_read_image_refuses_formats_outside_the_list_before_decoding(tmp_path):
    # The library function checks the header too, not only the predict command.
    from PIL import Image

    path = tmp_path / "digit.ico"
    Image.new("L", (16, 16), 255).save(path, format="ICO")
    with pytest.raises(ValueError, match=r"digit\.ico"):
        read_image(path)


@pytest.mark.parametrize("kind", ["RGBA PNG", "JPEG"])
def test_a_large_picture_is_shrunk_before_any_float_copy(tmp_path, kind):
    """A 16-megapixel picture: one full-size float64 copy would be 128 MB (NumPy's
    allocations, which tracemalloc sees, peaked at 1.5 GB for 49 megapixels before)."""
    import tracemalloc

    from PIL import ImageDraw

    side = 4000
    if kind == "JPEG":
        picture = Image.new("L", (side, side), 255)
        ImageDraw.Draw(picture).line([(1700, 1000), (2000, 3000)], fill=0, width=200)
        path = tmp_path / "big.jpg"
    else:
        picture = Image.new("RGBA", (side, side), (255, 255, 255, 0))
        ImageDraw.Draw(picture).line([(1700, 1000), (2000, 3000)], fill=(0, 0, 0, 255), width=200)
        path = tmp_path / "big.png"
    picture.save(path)
    picture.resize((400, 400)).save(tmp_path / f"small{path.suffix}")
    del picture
    load_digit(tmp_path / f"small{path.suffix}")  # modules imported on first use: not counted
    tracemalloc.start()
    try:
        digit = load_digit(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < side * side * 8 / 4  # under a quarter of one full-size float64 copy
    # and the digit is still read: a stroke from top to bottom, centred
    field = digit.reshape(28, 28)
    assert field[4:24].max(axis=1).min() > 0 and field[:, :4].max() == 0


def corrupt_jpeg(path, side=7000):
    """A 300-byte JPEG that declares ``side`` x ``side`` pixels and holds one 8x8 block."""
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8), 200, np.uint8)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    marker = data.index(b"\xff\xc0")  # start of frame: height and width follow the precision
    data[marker + 5 : marker + 9] = side.to_bytes(2, "big") * 2
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("picture", ["speck on a page", "speck in a field", "corrupt JPEG"])
def test_a_speck_is_no_digit_not_a_confident_guess(tmp_path, picture):
    """A blank page with one dark pixel was read as a filled 20x20 square (an "8" at 100%);
    a corrupt JPEG's one decoded block as a "4"."""
    if picture == "corrupt JPEG":
        path = corrupt_jpeg(tmp_path / "corrupt.jpg")
    else:
        page = np.full((1000, 1000), 255, np.uint8) if picture == "speck on a page" else None
        if page is None:
            page = np.full((28, 28), 255, np.uint8)
            page[10, 10] = 0
        else:
            page[500, 400] = 0
        path = tmp_path / "speck.png"
        Image.fromarray(page).save(path)
    with pytest.raises(ValueError, match="no digit found"):
        load_digit(path)


@pytest.mark.parametrize("peak", [1.7e308, 1e300, 1e35])
def test_huge_finite_values_read_as_their_picture(digits, peak):
    """Values near 1.7e308 failed with NumPy's histogram error (the range overflowed)."""
    picture = digits[0][0].astype(np.float64)
    scaled = picture * (peak / picture.max())
    assert np.isfinite(scaled).all()
    np.testing.assert_array_equal(prepare_digit(scaled), prepare_digit(picture))
    both_signs = np.where(picture > 0, -peak, peak)  # dark ink on bright paper, at the limits
    np.testing.assert_array_equal(prepare_digit(both_signs), prepare_digit((picture > 0) * 255.0))
