"""Pictures that look like phone photos of digits on paper, made from MNIST digits.

A model that reads 28x28 MNIST digits well can still fail on a photo, because a photo is not
what MNIST's digits were made from: the paper is grey, lit unevenly and partly shadowed, the
sensor adds noise, the lens blurs, the digit sits anywhere in a picture of any shape, and the
file is JPEG-compressed. :func:`photo_like` does all of that to MNIST digits, from one
``np.random.Generator``, so a test or a benchmark can ask how well a model reads photos
without a folder of photos (use MNIST's *test* digits, which the model never saw).
NumPy and Pillow only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PhotoSettings:
    """The ranges :func:`photo_like` draws each picture's look from (uniformly).

    Attributes:
        digit_height: Height of the digit's 28x28 field in the picture, in pixels.
        picture_size: Side lengths of the picture, each drawn in this range.
        paper: Grey level of the paper where it is best lit (0-255).
        ink: Grey level of the ink.
        gradient: Brightness lost across the picture by uneven lighting, as a fraction.
        shadow: How much a shadow over one corner darkens the paper, as a fraction.
        noise: Standard deviation of the sensor noise, in grey levels.
        blur: Standard deviation of the lens blur, in pixels.
        rotation: Largest tilt of the digit, in degrees either way.
        jpeg_quality: JPEG quality the picture is saved with.
    """

    digit_height: tuple[int, int] = (60, 160)
    picture_size: tuple[int, int] = (180, 320)
    paper: tuple[float, float] = (150.0, 235.0)
    ink: tuple[float, float] = (10.0, 80.0)
    gradient: tuple[float, float] = (0.0, 0.35)
    shadow: tuple[float, float] = (0.0, 0.35)
    noise: tuple[float, float] = (2.0, 10.0)
    blur: tuple[float, float] = (0.0, 1.5)
    rotation: float = 12.0
    jpeg_quality: tuple[int, int] = (35, 90)


def photo_like(
    digits: np.ndarray, rng: np.random.Generator, settings: PhotoSettings | None = None
) -> list[np.ndarray]:
    """Photo-like grey pictures of MNIST digits: dark ink on lit, shadowed, noisy paper.

    Args:
        digits: ``(n, 28, 28)`` or ``(n, 784)`` MNIST digits, bright ink (0-255) on black.
        rng: The generator every random choice is drawn from (same seed, same pictures).
        settings: The ranges the look is drawn from; :class:`PhotoSettings` by default.

    Returns:
        ``n`` uint8 arrays ``(height, width)``, each decoded from the JPEG it was saved as.

    Raises:
        ValueError: for digits of another shape.
    """
    digits = np.asarray(digits)
    if digits.ndim not in (2, 3) or digits.shape[1:] not in ((784,), (28, 28)):
        raise ValueError(f"digits must be (n, 28, 28) or (n, 784); got shape {digits.shape}")
    settings = settings or PhotoSettings()
    return [_one_photo(d.reshape(28, 28), rng, settings) for d in digits]


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds))


def _one_photo(digit: np.ndarray, rng: np.random.Generator, s: PhotoSettings) -> np.ndarray:
    """One picture: the digit scaled, tilted and placed; lit, shadowed, blurred, noisy, JPEG."""
    from PIL import Image, ImageFilter

    height = int(rng.integers(s.picture_size[0], s.picture_size[1] + 1))
    width = int(rng.integers(s.picture_size[0], s.picture_size[1] + 1))
    side = int(rng.integers(s.digit_height[0], s.digit_height[1] + 1))
    side = min(side, height, width)
    ink_field = Image.fromarray(digit.astype(np.uint8)).resize(
        (side, side), Image.Resampling.BICUBIC
    )
    ink_field = ink_field.rotate(_uniform(rng, (-s.rotation, s.rotation)), Image.Resampling.BICUBIC)
    coverage = np.zeros((height, width))
    top = int(rng.integers(0, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    coverage[top : top + side, left : left + side] = np.asarray(ink_field) / 255.0

    rows, cols = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * cols / width + np.sin(angle) * rows / height) + 1.0  # in [0, 2]
    light = 1.0 - _uniform(rng, s.gradient) * ramp / 2.0
    # A shadow: one corner darkened behind a soft, curved edge.
    corner_row, corner_col = rng.integers(0, 2, size=2) * np.array([height, width])
    distance = np.hypot((rows - corner_row) / height, (cols - corner_col) / width)
    edge = rng.uniform(0.35, 0.8)
    softness = rng.uniform(0.02, 0.1)
    in_shadow = 1.0 / (1.0 + np.exp((distance - edge) / softness))
    light *= 1.0 - _uniform(rng, s.shadow) * in_shadow

    paper, ink = _uniform(rng, s.paper), _uniform(rng, s.ink)
    picture = (paper + (ink - paper) * coverage) * light
    picture = Image.fromarray(np.clip(picture, 0, 255).astype(np.float32)).convert("L")
    radius = _uniform(rng, s.blur)
    if radius > 0.05:
        picture = picture.filter(ImageFilter.GaussianBlur(radius))
    noisy = np.asarray(picture, dtype=np.float64) + rng.normal(
        0.0, _uniform(rng, s.noise), (height, width)
    )
    buffer = io.BytesIO()
    quality = int(rng.integers(s.jpeg_quality[0], s.jpeg_quality[1] + 1))
    Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8)).save(
        buffer, format="JPEG", quality=quality
    )
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.asarray(decoded.convert("L"))
