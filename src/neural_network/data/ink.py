"""Find the ink in a picture of one digit: the clean-up a photo needs before MNIST's convention.

A phone photo of a digit on paper is not a clean digit on a black field: the paper is grey and
unevenly lit, a shadow may cover a corner, the sensor adds noise, JPEG adds ringing, and dust
or the edge of the sheet adds blobs. :func:`find_ink` turns any such picture into an *ink map*,
values in [0, 1] that are 0 wherever there is no ink, with the functions here:

1. :func:`reduce_to_work_size`, :func:`bright_ink`: at most ``WORK_SIZE`` pixels on a side
   (area averaging), the ink made bright whichever way round it was.
2. :func:`remove_background` (white top-hat, scikit-image): the paper's brightness, lighting
   gradients and shadows are estimated by a morphological *opening* with a square larger than
   a stroke, and subtracted.
3. :func:`ink_threshold` (Otsu, scikit-image): the grey level that best separates ink from
   paper on a lightly smoothed copy, and never within the paper's own noise.
4. :func:`keep_digit` (connected components, scikit-image): the strokes above the threshold that
   make up the digit; specks and blobs that touch the picture's edge are dropped.
5. Steps 2 to 4 once more with a square :data:`STROKE_MULTIPLE` stroke widths wide
   (:func:`stroke_width`), which follows a shadow's edge closely.
6. :func:`ink_map`: the background-free values themselves on those strokes and a pixel or two
   around them, scaled so the strokes' ink is 1: soft, anti-aliased edges, not a binary mask.

scikit-image is an optional extra (``pip install "neural-network[photos]"``), imported when
first needed. A clean digit (MNIST's, a scan, a drawing) comes through with its own values.
Without scikit-image, :func:`find_ink_plainly` (NumPy and Pillow) reads clean pictures: the
paper's level taken from the picture's edge and subtracted, a fixed threshold, no clean-up of
lighting, shadows or specks; :data:`PLAIN_READING` is the sentence that says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

WORK_SIZE = 512  # longer side pictures are reduced to first: plenty for a 20x20 box, and fast
BACKGROUND_FRACTION = 0.5  # side of the opening's square, as a fraction of the shorter side
NOISE_SIGMAS = 4.0  # the threshold stays this many noise deviations above the paper
SPECK_FRACTION = 0.05  # strokes smaller than this fraction of the digit's largest are specks
NEAR_FRACTION = 0.5  # strokes farther from the largest than this times its size are not the digit
STROKE_MULTIPLE = 5  # side of the second opening's square, in stroke widths
HALO_PIXELS = 2  # soft edge kept around the strokes, in pixels of the working size
LEVEL_PERCENTILE = 99.0  # this percentile of the strokes' values is full ink: no hot pixel sets it

PHOTOS_EXTRA = 'reading pictures needs scikit-image: pip install "neural-network[photos]"'
PLAIN_READING = (
    "scikit-image is not installed: pictures are read without the photo clean-up (uneven "
    "lighting, shadows, specks); clean digits read well, for photos "
    'pip install "neural-network[photos]"'
)
PLAIN_INK_FRACTION = 0.25  # without clean-up, ink is what stands this far above the paper


class PlainReadingWarning(UserWarning):
    """A picture was read by :func:`find_ink_plainly` because scikit-image is missing."""


def has_scikit_image() -> bool:
    """Whether the photo clean-up can run (scikit-image imports)."""
    try:
        _skimage()
    except ModuleNotFoundError:
        return False
    return True


def _skimage() -> Any:
    """The scikit-image modules used here, or the one sentence a user without it reads."""
    try:
        import skimage.filters
        import skimage.measure
        import skimage.morphology
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(PHOTOS_EXTRA, name=error.name) from error
    return skimage


def reduce_to_work_size(grey: np.ndarray) -> np.ndarray:
    """``grey`` shrunk by area averaging until its longer side is at most ``WORK_SIZE``.

    A phone photo has millions of pixels; the digit needs a few hundred on a side. Averaging
    areas (Pillow's box filter) also averages away sensor noise and JPEG blocks.
    """
    height, width = grey.shape
    scale = WORK_SIZE / max(height, width)
    if scale >= 1.0:
        return grey
    from PIL import Image

    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    reduced = Image.fromarray(grey.astype(np.float32)).resize(size, Image.Resampling.BOX)
    return np.asarray(reduced, dtype=np.float64)


def bright_ink(grey: np.ndarray) -> np.ndarray:
    """``grey`` with the ink brighter than the paper: dark ink on light paper is inverted.

    The paper is what most of the picture's edge shows: when the edge's median is brighter
    than the middle of the picture's range, the ink is dark and the picture is turned over.
    The range is that of a lightly smoothed copy, so that a few hot pixels do not set it.
    """
    smoothed = smooth(grey)
    low, high = float(smoothed.min()), float(smoothed.max())
    if np.median(_edge(grey)) > (low + high) / 2:
        return float(grey.max()) + float(grey.min()) - grey
    return grey


def _edge(image: np.ndarray) -> np.ndarray:
    """The pixels of the ring along the picture's edges, 5% of its shorter side wide."""
    height, width = image.shape
    ring = max(1, round(min(height, width) * 0.05))
    mask = np.ones(image.shape, dtype=bool)
    mask[ring : height - ring, ring : width - ring] = False
    return image[mask]


def stroke_width(strokes: np.ndarray) -> float:
    """The mean width of the strokes in a mask: their area over the length of their centre
    lines (the skeleton's pixel count)."""
    skimage = _skimage()
    length = np.count_nonzero(skimage.morphology.skeletonize(strokes))
    return np.count_nonzero(strokes) / length if length else 1.0


def remove_background(image: np.ndarray, side: int | None = None) -> np.ndarray:
    """``image`` (bright ink) less its background: its white top-hat by a square.

    The opening (erosion, then dilation) by a square keeps what can hold the square: the paper,
    smooth lighting gradients and shadows, but not strokes, which are narrower. Subtracting it
    leaves the ink on a black field. The square's side is ``side`` pixels, by default
    ``BACKGROUND_FRACTION`` of the shorter side (a tightly cropped MNIST digit's strokes are a
    tenth of it); it is applied as a row and a column, the same opening and much faster.
    """
    skimage = _skimage()
    if side is None:
        side = round(min(image.shape) * BACKGROUND_FRACTION)
    side = max(3, side) | 1
    square = ((np.ones((side, 1), dtype=bool), 1), (np.ones((1, side), dtype=bool), 1))
    background = skimage.morphology.opening(image, square)
    return np.clip(image - background, 0.0, None)


def noise_level(ink: np.ndarray) -> float:
    """The paper's noise in a background-free ``ink`` image: a robust standard deviation
    (1.4826 median absolute deviations) of the darker half, which is paper in any picture of a
    digit."""
    paper = ink[ink <= np.median(ink)]
    return float(1.4826 * np.median(np.abs(paper - np.median(paper))))


def smooth(ink: np.ndarray) -> np.ndarray:
    """A lightly blurred copy (Gaussian, 1 pixel per 200 of the shorter side, at least 0.5):
    noise and JPEG ringing average out, so thresholding does not break strokes into dots."""
    skimage = _skimage()
    sigma = max(0.5, min(ink.shape) / 200)
    return skimage.filters.gaussian(ink, sigma=sigma, preserve_range=True)


def ink_threshold(smoothed: np.ndarray, noise: float) -> float:
    """Otsu's threshold of the background-free, smoothed image, kept ``NOISE_SIGMAS`` noise
    deviations above the paper so that noise alone never counts as ink."""
    skimage = _skimage()
    if smoothed.max() <= smoothed.min():
        return float(smoothed.max())
    otsu = float(skimage.filters.threshold_otsu(smoothed))
    return max(otsu, float(np.median(smoothed)) + NOISE_SIGMAS * noise)


def keep_digit(mask: np.ndarray) -> np.ndarray:
    """The strokes of ``mask`` (8-connected components) that make up the digit.

    Blobs that touch the picture's edge (the sheet's border, a shadow's rim, a finger) are
    dropped, unless nothing else is left (a digit cropped tightly). Of the rest, the largest
    component is the digit's main stroke; others are kept if they are at least
    ``SPECK_FRACTION`` of its area and lie within ``NEAR_FRACTION`` of its size from it (the
    detached bar of a 5 or a 7); the rest are specks.
    """
    skimage = _skimage()
    labels = skimage.measure.label(mask, connectivity=2)
    if labels.max() == 0:
        return mask.copy()
    regions = skimage.measure.regionprops(labels)
    height, width = mask.shape
    inside = [
        r
        for r in regions
        if r.bbox[0] > 0 and r.bbox[1] > 0 and r.bbox[2] < height and r.bbox[3] < width
    ]
    candidates = inside or regions
    main = max(candidates, key=lambda r: r.area)
    top, left, bottom, right = main.bbox
    reach = NEAR_FRACTION * max(bottom - top, right - left)
    kept = [
        r.label
        for r in candidates
        if r is main
        or (
            r.area >= SPECK_FRACTION * main.area
            and r.bbox[0] < bottom + reach
            and r.bbox[2] > top - reach
            and r.bbox[1] < right + reach
            and r.bbox[3] > left - reach
        )
    ]
    return np.isin(labels, kept)


def ink_map(ink: np.ndarray, strokes: np.ndarray) -> np.ndarray:
    """The ink values on ``strokes`` and ``HALO_PIXELS`` around them (their soft edges), 0
    elsewhere, scaled so that the strokes' ink (the ``LEVEL_PERCENTILE`` percentile of their
    values, which a hot pixel cannot set) is 1."""
    skimage = _skimage()
    halo = skimage.morphology.dilation(
        strokes, np.ones((2 * HALO_PIXELS + 1, 2 * HALO_PIXELS + 1), dtype=bool)
    )
    values = np.where(halo, ink, 0.0)
    level = max(float(np.percentile(values[strokes], LEVEL_PERCENTILE)), 1e-12)
    return np.clip(values / level, 0.0, 1.0)


def find_ink(grey: np.ndarray) -> np.ndarray:
    """The ink map of a grey picture of one digit (the module's five steps).

    Args:
        grey: ``(height, width)`` float grey values, any range, ink dark or bright.

    Returns:
        ``(h, w)`` float64 in [0, 1], 0 where there is no ink; ``h, w`` are the picture's size,
        or less for a picture larger than ``WORK_SIZE``.

    Raises:
        ValueError: if no ink stands out from the paper (a blank picture).
        ModuleNotFoundError: without scikit-image, with the sentence that says how to get it.
    """
    _skimage()
    image = bright_ink(reduce_to_work_size(grey))
    ink = remove_background(image)
    if not ink.max() > 1e-6 * max(1.0, float(np.abs(image).max())):
        raise ValueError("the image is blank: no digit found")
    strokes = _strokes(ink)
    # Again with a square a few strokes wide: it follows a shadow's edge far more closely.
    side = round(STROKE_MULTIPLE * stroke_width(strokes))
    if side < round(min(image.shape) * BACKGROUND_FRACTION):
        ink = remove_background(image, side)
        strokes = _strokes(ink)
    return ink_map(ink, strokes)


def find_ink_plainly(grey: np.ndarray) -> np.ndarray:
    """The ink map of a clean picture of one digit, with NumPy and Pillow alone.

    The paper's level is the median of the picture's edge (:func:`bright_ink`'s convention,
    with percentiles in place of a smoothed range); what stands more than
    ``PLAIN_INK_FRACTION`` of the ink's level above it is ink, kept with its own values. A
    scan, a drawing or an MNIST digit reads as with :func:`find_ink`; a photo's shadows and
    specks are not removed.

    Raises:
        ValueError: if no ink stands out from the paper (a blank picture).
    """
    image = reduce_to_work_size(grey)
    low, high = (float(v) for v in np.percentile(image, [1.0, 99.0]))
    paper = float(np.median(_edge(image)))
    if paper > (low + high) / 2:
        image = float(image.max()) + float(image.min()) - image
        paper = float(image.max()) + float(image.min()) - paper
    ink = np.clip(image - paper, 0.0, None)
    level = float(np.percentile(ink, LEVEL_PERCENTILE))
    if not level > 1e-6 * max(1.0, float(np.abs(image).max())):
        raise ValueError("the image is blank: no digit found")
    ink[ink < PLAIN_INK_FRACTION * level] = 0.0
    return np.clip(ink / level, 0.0, 1.0)


def _strokes(ink: np.ndarray) -> np.ndarray:
    """The digit's strokes in a background-free image (steps 3 and 4)."""
    smoothed = smooth(ink)
    mask = smoothed > ink_threshold(smoothed, noise_level(ink))
    if not mask.any():
        raise ValueError("the image is blank: no digit found")
    return keep_digit(mask)
