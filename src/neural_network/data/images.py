"""Digits from image files, made to look like MNIST: grey, 28x28, centred by centre of mass.

MNIST's digits were made this way (LeCun et al., http://yann.lecun.com/exdb/mnist/): each
digit's bounding box was scaled to fit a 20x20 box, keeping its aspect ratio, with
anti-aliasing, then placed in a 28x28 field so that its centre of mass lies at the field's
centre. Ink is bright (255) on a black (0) background. :func:`prepare_digit` does the same to
any picture of one digit, a phone photo included (:mod:`neural_network.data.ink` finds the ink
first, with scikit-image); :func:`centre_in_field` is the MNIST step alone (NumPy and Pillow);
:func:`read_image` reads a PNG or JPEG file (or a ``.npy`` array) into the array it takes.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from .image_files import check_image_file
from .ink import (
    PLAIN_READING,
    WORK_SIZE,
    PlainReadingWarning,
    find_ink,
    find_ink_plainly,
    has_scikit_image,
)

FIELD = 28  # side of an MNIST image
BOX = 20  # side of the box the digit's bounding box is scaled to fit
CENTRE = 14.0  # MNIST's mean centre of mass, in pixel indices, on both axes
INK_THRESHOLD = 0.1  # fraction of the full ink level below which a pixel counts as background
# A digit spans at least this fraction of the picture's longer side, and 2 pixels: less is a
# speck (a dot on a blank page, the one decoded block of a corrupt JPEG), not a digit.
MIN_DIGIT_FRACTION = 1 / 50
MIN_DIGIT_PIXELS = 2
HUGE_VALUE = 1e30  # pictures of larger values are scaled down first (float32 ends at 3.4e38)


def _to_grey(image: np.ndarray) -> np.ndarray:
    """A 2-D float64 array from a grey ``(h, w)`` or an RGB(A) ``(h, w, 3|4)`` image."""
    image = np.asarray(image)
    if not np.issubdtype(image.dtype, np.number) or np.issubdtype(image.dtype, np.complexfloating):
        raise ValueError(f"image must hold real numbers; got dtype {image.dtype}")
    if image.ndim == 3 and image.shape[2] in (3, 4):
        # ITU-R 601 luma, as Pillow's convert("L"); an alpha channel is ignored here.
        image = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    if image.ndim != 2:
        raise ValueError(
            f"image must be 2-D (height, width) or (height, width, 3|4); got shape {image.shape}"
        )
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty; got shape {image.shape}")
    image = image.astype(np.float64)
    if not np.isfinite(image).all():
        raise ValueError("image holds NaN or infinite values")
    peak = float(np.abs(image).max())
    if peak > HUGE_VALUE:
        # Finite values near 1.7e308 overflow every difference and sum taken later: bring
        # them to 0-255's scale by a power of two, which is exact and changes no ratio.
        image = np.ldexp(image, 8 - np.frexp(peak)[1])
    return image


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a float image to ``(height, width)`` with Lanczos (anti-aliased) filtering."""
    from PIL import Image

    resized = Image.fromarray(image.astype(np.float32)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    return np.clip(np.asarray(resized, dtype=np.float64), 0.0, None)


def prepare_digit(image: np.ndarray) -> np.ndarray:
    """Turn a picture of one digit (a phone photo, a scan, a drawing) into an MNIST-like input.

    Two stages: :func:`neural_network.data.ink.find_ink` finds the ink (dark or bright; the
    paper's brightness, lighting gradients and shadows removed; an automatic threshold; specks
    and blobs at the picture's edge dropped; soft edges kept), then :func:`centre_in_field`
    puts it in MNIST's form (20x20 box, centre of mass at the centre of 28x28).

    Args:
        image: ``(height, width)`` grey or ``(height, width, 3|4)`` RGB(A) values of any
            range and size (0-255 and 0-1 work alike).

    Returns:
        ``(784,)`` uint8, the 28x28 field row by row, bright ink on black.

    Without scikit-image (``pip install "neural-network[photos]"``) the ink is found by
    :func:`~neural_network.data.ink.find_ink_plainly` (NumPy and Pillow: clean digits, scans
    and drawings read as well, photos less well), and a
    :class:`~neural_network.data.ink.PlainReadingWarning` says so.

    Raises:
        ValueError: for an array that is not an image (shape, dtype, NaN) or a blank one.
    """
    grey = _to_grey(image)
    if has_scikit_image():
        return centre_in_field(find_ink(grey))
    warnings.warn(PLAIN_READING, PlainReadingWarning, stacklevel=2)
    return centre_in_field(find_ink_plainly(grey))


def centre_in_field(ink: np.ndarray) -> np.ndarray:
    """Put an ink map in MNIST's form, as MNIST's digits were made.

    Pixels under ``INK_THRESHOLD`` of the brightest are set to 0; the rest is cropped to its
    bounding box, scaled (Lanczos, anti-aliased) so that its longer side is 20 pixels keeping
    the aspect ratio, and placed in a 28x28 field by whole pixels so that its centre of mass
    is at (14, 14), MNIST's mean, or as near as the field allows. NumPy and Pillow only: a
    clean drawing (the web page's) needs nothing else. Ink that spans less than
    ``MIN_DIGIT_FRACTION`` of the picture's longer side (or 2 pixels) is a speck, not a digit.

    Args:
        ink: ``(height, width)`` values >= 0, ink bright on a black (0) field.

    Returns:
        ``(784,)`` uint8, bright ink on black, the brightest pixel 255.

    Raises:
        ValueError: if there is no ink (no value above 0), or only a speck of it.
    """
    ink = np.asarray(ink, dtype=np.float64)
    peak = float(ink.max()) if ink.size else 0.0
    if not peak > 0:
        raise ValueError("the image is blank: no digit found")
    ink = ink / peak
    ink[ink < INK_THRESHOLD] = 0.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    extent = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    if extent < max(MIN_DIGIT_PIXELS, MIN_DIGIT_FRACTION * max(ink.shape)):
        raise ValueError(
            f"no digit found: the only ink is a speck {extent} pixel(s) across in a "
            f"{ink.shape[0]}x{ink.shape[1]} picture"
        )
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(ink.shape)
    height = max(1, min(BOX, round(ink.shape[0] * scale)))
    width = max(1, min(BOX, round(ink.shape[1] * scale)))
    box = _resize(ink, height, width)
    if box.max() <= 0:  # a speck that resampling smeared away: keep it as one full pixel
        box = np.ones((height, width))
    box *= 255.0 / box.max()
    mass = box.sum()
    centre_row = (box.sum(axis=1) @ np.arange(height)) / mass
    centre_col = (box.sum(axis=0) @ np.arange(width)) / mass
    top = int(np.clip(round(CENTRE - centre_row), 0, FIELD - height))
    left = int(np.clip(round(CENTRE - centre_col), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD))
    field[top : top + height, left : left + width] = box
    return np.clip(np.rint(field), 0, 255).astype(np.uint8).ravel()


def _flatten_alpha(picture) -> np.ndarray:
    """Grey values of a Pillow image; transparency is laid on the background the ink is not."""
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64) / 255.0
        grey = np.asarray(rgba.convert("L"), dtype=np.float64)
        if alpha.min() < 1.0:
            # Ink is what is opaque: bright ink goes on black, dark ink on white.
            weight = alpha.sum()
            ink_level = (grey * alpha).sum() / weight if weight > 0 else 0.0
            background = 0.0 if ink_level > 127.5 else 255.0
            return grey * alpha + background * (1.0 - alpha)
        return grey
    if picture.mode.startswith(("I", "F")):  # 16- and 32-bit grey: any range will do
        return np.asarray(picture, dtype=np.float64)
    return np.asarray(picture.convert("L"), dtype=np.float64)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file as a 2-D float array of grey values.

    PNG, JPEG, BMP, GIF, TIFF and WebP pictures of at most 50 megapixels give grey values
    0-255, transparency laid on white (dark ink) or black (bright ink); the format and size
    are checked from the header before anything is decoded, and a picture whose longer side
    is at least twice ``WORK_SIZE`` (512) is shrunk by a whole factor (area averaging) while
    decoding, so that its longer side is 512-1023 pixels
    (:func:`~neural_network.data.image_files.check_image_file`). A ``.npy`` file is read
    without pickle and must hold 28x28 or 784 values in 0-255: it is taken to be in MNIST's
    format already.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it is not one of those pictures, or not a valid ``.npy`` array.
    """
    path = Path(path)
    if not path.is_file():
        if not path.exists():
            raise FileNotFoundError(f"{os.fspath(path)}: no such file")
        raise ValueError(f"{os.fspath(path)}: not a file")
    check_image_file(path)
    if path.suffix.lower() == ".npy":
        return _read_npy(path)
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture = _decoded_small(picture)
            # A phone's photo may be stored sideways with an EXIF note to turn it.
            return _flatten_alpha(ImageOps.exif_transpose(picture))
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        raise ValueError(f"{os.fspath(path)}: not a readable image ({error})") from None


def _decoded_small(picture):
    """``picture`` decoded and shrunk, in Pillow's own 8-bit form, until its longer side is
    under twice ``WORK_SIZE``: every float copy made afterwards is then small (a 50-megapixel
    picture once peaked at 2 GB in float64 copies made before shrinking).

    A JPEG is decoded at 1/2, 1/4 or 1/8 of its size straight away (``draft``: the DCT
    scaled, so the full-size picture is never held); any other picture is shrunk by a whole
    factor with ``reduce`` (each output pixel the mean of a block, as the area averaging of
    :func:`~neural_network.data.ink.reduce_to_work_size`). The ink finder shrinks it the
    rest of the way.
    """
    width, height = picture.size
    factor = max(width, height) // WORK_SIZE
    if factor >= 2 and picture.format == "JPEG":
        picture.draft(None, (-(-width // factor), -(-height // factor)))
    picture.load()
    factor = max(picture.size) // WORK_SIZE
    if factor < 2:
        return picture
    transparent = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    if picture.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        # Palette, 1-bit, 16-bit and CMYK pictures: to a mode reduce() averages.
        mode = "RGBA" if transparent else "I" if picture.mode.startswith("I;16") else "L"
        picture = picture.convert(mode)
    elif "transparency" in picture.info:  # a colour key: make it an alpha channel first
        picture = picture.convert("RGBA")
    return picture.reduce(factor)


def _read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` digit whose header :func:`check_image_file` has checked (one digit's
    shape, real numbers, as many bytes as declared): only its values are left to check."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{os.fspath(path)}: not a readable .npy array ({error})") from None
    array = array.astype(np.float64).reshape(FIELD, FIELD)
    if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 255):
        raise ValueError(f"{os.fspath(path)}: a .npy digit's values must lie in 0-255")
    return array


def load_digit(path: str | os.PathLike) -> np.ndarray:
    """The ``(784,)`` uint8 input for one file: a picture goes through :func:`prepare_digit`,
    a ``.npy`` array (already MNIST-shaped) is used as it is, rounded to integers.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: if it cannot be read, or holds no digit.
    """
    image = read_image(path)
    if Path(path).suffix.lower() == ".npy":
        return np.rint(image).astype(np.uint8).ravel()
    try:
        return prepare_digit(image)
    except ValueError as error:
        raise ValueError(f"{os.fspath(path)}: {error}") from None
