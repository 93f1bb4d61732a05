"""Make the phone-style pictures under tests/apps/data/photos/: handwritten-looking digits in pen
on textured paper, photographed: tilted, unevenly lit, a shadow, dust, the table at one edge,
a little blur, saved as JPEG. Deterministic; rerun it to remake the files exactly.

    python scripts/make_phone_photos.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (320, 240)  # width, height of each picture


def _arc(cx, cy, rx, ry, start, stop, n=24):
    angles = np.radians(np.linspace(start, stop, n))
    return list(zip(cx + rx * np.cos(angles), cy + ry * np.sin(angles), strict=True))


# Each digit as pen strokes in a unit square (x right, y down), written as by hand.
STROKES = {
    0: [_arc(0.5, 0.5, 0.3, 0.42, -100, 265)],
    1: [[(0.42, 0.2), (0.58, 0.08), (0.52, 0.5), (0.47, 0.92)]],
    2: [[*_arc(0.5, 0.32, 0.3, 0.24, 200, 370), (0.7, 0.52), (0.2, 0.9), (0.85, 0.88)]],
    3: [_arc(0.48, 0.28, 0.28, 0.2, 200, 450) + _arc(0.48, 0.7, 0.32, 0.22, -90, 160)],
    4: [[(0.55, 0.08), (0.18, 0.62), (0.86, 0.6)], [(0.66, 0.3), (0.62, 0.95)]],
    5: [[(0.8, 0.1), (0.32, 0.12), (0.27, 0.45), *_arc(0.5, 0.66, 0.3, 0.24, -130, 150)]],
    6: [[(0.68, 0.08), (0.42, 0.3), *_arc(0.5, 0.68, 0.26, 0.25, 200, 560)]],
    7: [[(0.15, 0.14), (0.84, 0.12), (0.42, 0.94)], [(0.35, 0.52), (0.75, 0.5)]],
    8: [_arc(0.5, 0.28, 0.22, 0.2, 90, 450) + _arc(0.5, 0.7, 0.27, 0.23, -90, 270)],
    9: [[*_arc(0.48, 0.3, 0.25, 0.21, 0, 360), (0.73, 0.32), (0.66, 0.95)]],
}


def _paper(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Paper grey with fibres: coarse blotches and fine grain."""
    coarse = Image.fromarray(rng.normal(0, 1, (height // 16, width // 16)).astype(np.float32))
    coarse = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC))
    grain = rng.normal(0, 1, (height, width))
    return rng.uniform(175, 225) + 5 * coarse + 3 * grain


def make_photo(digit: int, rng: np.random.Generator) -> Image.Image:
    """One picture of ``digit``."""
    width, height = SIZE
    scale = 3  # draw large, then shrink: smooth pen edges
    side = int(rng.uniform(0.45, 0.7) * height) * scale
    left = int(rng.uniform(0.1, 0.9) * (width * scale - side))
    top = int(rng.uniform(0.15, 0.85) * (height * scale - side))
    pen = Image.new("L", (width * scale, height * scale), 0)
    draw = ImageDraw.Draw(pen)
    pen_width = int(rng.uniform(0.07, 0.11) * side)
    for stroke in STROKES[digit]:
        points = [
            (left + side * (x + rng.normal(0, 0.01)), top + side * (y + rng.normal(0, 0.01)))
            for x, y in stroke
        ]
        draw.line(points, fill=255, width=pen_width, joint="curve")
        for x, y in (points[0], points[-1]):
            r = pen_width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    # Tilt: a small rotation of the sheet, as a hand holding a phone does.
    pen = pen.rotate(rng.uniform(-8, 8), Image.Resampling.BICUBIC)
    ink = np.asarray(pen.resize(SIZE, Image.Resampling.LANCZOS), dtype=np.float64) / 255
    ink = np.clip(ink, 0, 1)

    picture = _paper(rng, width, height) * (1 - ink) + rng.uniform(25, 70) * ink
    rows, cols = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)
    picture *= 1 - 0.25 * (np.cos(angle) * cols / width + np.sin(angle) * rows / height + 1) / 2
    # The phone's shadow over one corner, with a soft edge.
    shadow = Image.new("L", SIZE, 0)
    corner = (
        (0, 0) if rng.random() < 0.5 else (width, 0),
        (width, height) if rng.random() < 0.5 else (0, height),
    )[int(rng.integers(0, 2))]
    reach = rng.uniform(0.35, 0.55)
    ImageDraw.Draw(shadow).ellipse(
        (
            corner[0] - reach * width,
            corner[1] - reach * height,
            corner[0] + reach * width,
            corner[1] + reach * height,
        ),
        fill=255,
    )
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(12)), dtype=np.float64) / 255
    picture *= 1 - rng.uniform(0.2, 0.4) * shadow
    # Dust: a few dark specks.
    for _ in range(int(rng.integers(2, 6))):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        picture[max(0, y - 1) : y + 1, max(0, x - 1) : x + 1] *= 0.5
    # The table beyond the sheet's edge, along one side.
    edge = int(rng.uniform(0.03, 0.08) * width)
    if rng.random() < 0.5:
        picture[:, :edge] = rng.uniform(40, 90)
    else:
        picture[:, width - edge :] = rng.uniform(40, 90)
    picture += rng.normal(0, 3, picture.shape)
    photo = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8))
    photo = photo.filter(ImageFilter.GaussianBlur(0.8))
    # A phone's colours: a warm cast on the grey.
    warm = np.asarray(photo, dtype=np.float64)[..., None] * np.array([1.0, 0.96, 0.88])
    return Image.fromarray(np.clip(warm, 0, 255).astype(np.uint8), "RGB")


def main(out_dir: str = "tests/apps/data/photos") -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2024)
    for copy in range(2):
        for digit in range(10):
            make_photo(digit, rng).save(out / f"digit_{digit}_{copy}.jpg", quality=75)


if __name__ == "__main__":
    main(*sys.argv[1:])
