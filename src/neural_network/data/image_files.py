"""The image files ``predict`` reads, checked before anything is decoded.

Pillow reads many formats, and some of them call external programs (EPS and PostScript
call Ghostscript); a small file can also declare a huge picture (a 169 KB PNG of
12000x12000 pixels), and a ``.npy`` header can declare more values than any memory holds.
:func:`check_image_file` looks only at a file's header: the format must be one of
``IMAGE_FORMATS``, the picture at most ``MAX_PIXELS`` pixels, and a ``.npy`` array one
digit of shape 28x28 or 784 holding real numbers.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

from .files import open_regular_file
from .npy_header import read_npy_header

IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
"""Pillow's names of the formats read; all are decoded inside Pillow, none by another
program."""
MAX_PIXELS = 50_000_000  # a 50-megapixel photo; a digit needs far fewer
NPY_SHAPES = ((28, 28), (784,))


def check_image_file(path: str | os.PathLike) -> None:
    """Check an image or ``.npy`` file from its header, before it is decoded.

    A path that is not an existing file is left for the reader to report.

    Raises:
        ValueError: for a format outside ``IMAGE_FORMATS``, a picture of more than
            ``MAX_PIXELS`` pixels, or a ``.npy`` file that is not one digit of real numbers.
    """
    path = Path(path)
    if not path.is_file():
        return
    if path.suffix.lower() == ".npy":
        _check_npy_header(path)
        return
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():  # Pillow's warning for large pictures: the check is below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as picture:
                width, height = picture.size
    except UnidentifiedImageError:
        raise ValueError(
            f"{os.fspath(path)}: not a readable image in one of the formats read here "
            f"({', '.join(IMAGE_FORMATS)}, or a .npy array)"
        ) from None
    except (Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(f"{os.fspath(path)}: not a readable image ({error})") from None
    if width * height > MAX_PIXELS:
        raise ValueError(
            f"{os.fspath(path)}: {width}x{height} pixels, more than the {MAX_PIXELS:,} read "
            "here; scale the picture down first"
        )


def _check_npy_header(path: Path) -> None:
    name = os.fspath(path)
    try:
        with open_regular_file(path, ".npy file") as file:
            shape, dtype = read_npy_header(file)
            data_bytes = os.fstat(file.fileno()).st_size - file.tell()
    except (ValueError, OSError, EOFError) as error:
        raise ValueError(f"{name}: not a readable .npy array ({error})") from None
    if tuple(shape) not in NPY_SHAPES:
        raise ValueError(f"{name}: a .npy digit must hold 28x28 or 784 values; got shape {shape}")
    if dtype.kind == "b":  # True would be read as 1 of 255: a faint smudge, not a digit
        raise ValueError(
            f"{name}: a .npy digit holds grey values 0-255; got dtype bool (a mask: multiply "
            "it by 255 first)"
        )
    if dtype.hasobject or dtype.kind not in "iuf":
        raise ValueError(f"{name}: a .npy digit must hold real numbers; got dtype {dtype}")
    if data_bytes != math.prod(shape) * dtype.itemsize:
        raise ValueError(
            f"{name}: the .npy header declares {math.prod(shape) * dtype.itemsize} bytes of "
            f"data but the file holds {data_bytes}"
        )
