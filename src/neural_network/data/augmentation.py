"""On-the-fly distortions of image inputs: random affine maps and elastic deformations.

Every training epoch sees the digits deformed anew, as in Simard, Steinkraus & Platt 2003
(https://doi.org/10.1109/ICDAR.2003.1227801) and Cireșan et al. 2010
(https://arxiv.org/abs/1003.0358), which is how plain MLPs reach 99.3-99.65% on MNIST.

An output pixel at ``p = (row, col)`` takes its value, by bilinear interpolation, from the
input at::

    source(p) = inverse(M) @ (p - centre - shift) + centre + alpha * (G * U)(p)

where ``M`` (rotation, shear and scaling) and ``shift`` move the content about the image
centre, ``U`` is a field of independent uniform(-1, 1) displacements per pixel and axis, and
``G *`` smooths it with a normalised Gaussian of standard deviation ``sigma`` (borders
reflected, as ``scipy.ndimage.gaussian_filter``'s default). Input outside the image is 0.

How the elastic fields are drawn, and what it costs (batch of 128, float32, everything
vectorised over the batch):

- As defined (:func:`random_elastic_fields`, the reference): 2 * 784 uniform draws per
  image, and the separable smoothing as one GEMM per axis with a 28x28 matrix
  (:func:`gaussian_smoothing_matrix`) over the whole stack, plus two transposing copies.
- As :class:`RandomDistortion` draws them: ``z @ B`` with ``z`` standard normal, where ``B``
  (:func:`elastic_field_basis`) factors the fields' covariance exactly, truncated to the
  few dozen eigen-directions that a Gaussian of sigma 4-6 pixels lets through: 49 normal
  draws per field for sigma 5, one small GEMM, and the fields come out in the layout the
  sampler reads. This is "smoothing at low resolution" done without approximation: the same
  mean and covariance as the reference (to 1e-6 of the variance), the fields Gaussian rather
  than sums of some 300 uniforms. The usual shortcuts change the distribution instead:
  upsampling a coarse field blurs more than ``sigma`` says, and a pool of precomputed fields
  combined at random correlates the distortions across images and epochs.
- Sampling: source coordinates, four gathers and three linear interpolations, a few passes
  over the batch's 100 k output pixels; this is most of the cost.

``benchmarks/best_preset.py --epoch-cost`` measures what an augmented epoch costs against a
plain one. In training, apply it with the ``Augment`` callback.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_positive_int, check_real


def gaussian_smoothing_matrix(size: int, sigma: float, *, truncate: float = 4.0) -> np.ndarray:
    """The ``(size, size)`` matrix ``G`` such that ``G @ v`` is ``v`` convolved with a
    normalised Gaussian of standard deviation ``sigma`` pixels.

    Borders are reflected about the edge (``d c b a | a b c d | d c b a``) and the kernel is
    cut at ``truncate * sigma``, as ``scipy.ndimage.gaussian_filter`` does by default, so each
    row of ``G`` sums to 1. ``sigma == 0`` gives the identity.

    Raises:
        ValueError: for a size below 1 or a negative or non-finite ``sigma``.
    """
    size = check_positive_int("size", size)
    sigma = check_real("sigma", sigma, "[0, inf)")
    if sigma == 0:
        return np.eye(size)
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    # Reflection with period 2 * size: index -1 -> 0, size -> size - 1.
    sources = (np.arange(size)[:, None] + offsets[None, :]) % (2 * size)
    sources = np.where(sources >= size, 2 * size - 1 - sources, sources)
    matrix = np.zeros((size, size))
    rows = np.repeat(np.arange(size), len(offsets))
    np.add.at(matrix, (rows, sources.ravel()), np.tile(kernel, size))  # reflections add up
    return matrix


def random_elastic_fields(
    rng: np.random.Generator,
    n: int,
    shape: tuple[int, int] = (28, 28),
    *,
    alpha: float = 34.0,
    sigma: float = 5.0,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Simard's random displacement fields, computed as defined: uniform(-1, 1) noise per
    pixel and axis, smoothed by a Gaussian of ``sigma`` pixels, times ``alpha`` pixels.

    The smoothing is separable: one GEMM with :func:`gaussian_smoothing_matrix` per axis
    over the whole stack. :class:`RandomDistortion` draws fields with the same covariance
    more cheaply (see :func:`elastic_field_basis`).

    Returns:
        ``(n, 2, height, width)``: the row and the column displacement of every pixel.
    """
    height, width = shape
    smooth_rows = (alpha * gaussian_smoothing_matrix(height, sigma)).astype(dtype)
    smooth_cols = gaussian_smoothing_matrix(width, sigma).astype(dtype)
    noise = rng.uniform(-1.0, 1.0, size=(2 * n * height, width)).astype(dtype)
    along_cols = (noise @ smooth_cols.T).reshape(2 * n, height, width)
    # Smooth along the rows: transpose each field so that its columns are rows of a matrix.
    along_rows = along_cols.transpose(0, 2, 1).reshape(-1, height) @ smooth_rows.T
    return np.ascontiguousarray(along_rows.reshape(n, 2, width, height).transpose(0, 1, 3, 2))


def elastic_field_basis(
    shape: tuple[int, int] = (28, 28),
    *,
    alpha: float = 34.0,
    sigma: float = 5.0,
    tolerance: float = 1e-6,
) -> np.ndarray:
    """A matrix ``B`` such that ``z @ B``, with ``z`` standard normal, is a flattened elastic
    field with the same covariance as :func:`random_elastic_fields`' (each axis).

    A smoothed field is ``F = alpha * G_r @ U @ G_c.T`` with ``U`` uniform(-1, 1), so
    ``cov(vec F) = alpha**2 / 3 * kron(G_r G_r.T, G_c G_c.T)``. Factor each
    ``G G.T = V diag(lambda) V.T`` and keep the ``k`` leading eigenvectors (a Gaussian of
    sigma 4, 5, 6 pixels passes only the lowest frequencies of a 28-pixel side: ``k`` is 9,
    7, 6), then ``B = alpha / sqrt(3) * kron(L_r, L_c).T`` with ``L = V_k
    diag(sqrt(lambda_k))``. This is the smoothing done exactly at the lowest resolution that
    carries it: a field costs ``k_r * k_c`` (81, 49, 36) normal draws and one small GEMM,
    instead of 784 uniform draws and two GEMMs with transposes. The fields are Gaussian
    rather than sums of uniforms, which after averaging some 300 independent draws per
    pixel is no visible difference.

    Args:
        shape: ``(height, width)``.
        alpha: Displacement scale, pixels.
        sigma: Smoothing standard deviation, pixels (> 0).
        tolerance: Largest fraction of each axis' variance the dropped eigenvectors may hold.

    Returns:
        ``(k_r * k_c, height * width)`` float64.
    """
    factors = []
    for size in shape:
        smoothing = gaussian_smoothing_matrix(size, sigma)
        eigenvalues, eigenvectors = np.linalg.eigh(smoothing @ smoothing.T)
        eigenvalues = np.clip(eigenvalues[::-1], 0.0, None)
        eigenvectors = eigenvectors[:, ::-1]
        dropped = 1.0 - np.cumsum(eigenvalues) / eigenvalues.sum()
        rank = int(np.argmax(dropped <= tolerance)) + 1
        factors.append(eigenvectors[:, :rank] * np.sqrt(eigenvalues[:rank]))
    return (alpha / math.sqrt(3.0)) * np.kron(factors[0], factors[1]).T


def random_affine(
    rng: np.random.Generator,
    n: int,
    *,
    max_rotation: float = 0.0,
    max_scale: float = 0.0,
    max_shear: float = 0.0,
    max_shift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Random affine maps about the image centre, each parameter uniform in its range.

    The map is ``p -> M @ (p - centre) + centre + shift`` in ``(row, col)`` pixel units,
    ``M = rotation(theta) @ shear(phi) @ diag(scale_row, scale_col)``, with the shear slanting
    columns along rows (``col += tan(phi) * row``, italic-like).

    Args:
        rng: The generator.
        n: Number of maps.
        max_rotation: Degrees; ``theta`` in ``[-max_rotation, max_rotation]``.
        max_scale: Relative; each axis' scale independently in ``[1 - s, 1 + s]``.
        max_shear: Degrees; ``phi`` in ``[-max_shear, max_shear]``.
        max_shift: Pixels; each axis' shift independently in ``[-s, s]``.

    Returns:
        ``(matrices (n, 2, 2), shifts (n, 2))`` in float64.
    """
    draws = rng.uniform(-1.0, 1.0, size=(n, 6))
    theta = np.deg2rad(max_rotation) * draws[:, 0]
    slant = np.tan(np.deg2rad(max_shear) * draws[:, 1])
    scale_row = 1.0 + max_scale * draws[:, 2]
    scale_col = 1.0 + max_scale * draws[:, 3]
    cos, sin = np.cos(theta), np.sin(theta)
    # rotation @ [[1, 0], [slant, 1]] @ diag(scale_row, scale_col)
    matrices = np.empty((n, 2, 2))
    matrices[:, 0, 0] = (cos - sin * slant) * scale_row
    matrices[:, 0, 1] = -sin * scale_col
    matrices[:, 1, 0] = (sin + cos * slant) * scale_row
    matrices[:, 1, 1] = cos * scale_col
    shifts = max_shift * draws[:, 4:6]
    return matrices, shifts


def distort(
    images: np.ndarray,
    matrices: np.ndarray | None = None,
    shifts: np.ndarray | None = None,
    fields: np.ndarray | None = None,
) -> np.ndarray:
    """Resample a batch of images under affine maps and displacement fields (see the module
    docstring for the formula), bilinearly, with zeros outside the image.

    Args:
        images: ``(n, height, width)`` values.
        matrices: ``(n, 2, 2)`` forward linear maps of the content about the image centre,
            in ``(row, col)`` pixel coordinates; ``None`` for the identity.
        shifts: ``(n, 2)`` forward ``(row, col)`` shifts of the content in pixels; ``None``
            for none.
        fields: ``(n, 2, height, width)`` displacements added to each output pixel's source
            coordinates, in pixels; ``None`` for none.

    Returns:
        ``(n, height, width)``, float64 for float64 images and float32 otherwise. With all
        three ``None`` the images come back unchanged.

    Raises:
        ValueError: for arrays of the wrong shape, or singular matrices.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"images must be 3-D (n, height, width); got shape {images.shape}")
    n, height, width = images.shape
    dtype = np.float64 if images.dtype == np.float64 else np.float32
    if matrices is not None:
        matrices = np.asarray(matrices, dtype=np.float64)
        if matrices.shape != (n, 2, 2):
            raise ValueError(f"matrices must have shape {(n, 2, 2)}; got {matrices.shape}")
        if not (np.isfinite(matrices).all() and (np.abs(np.linalg.det(matrices)) > 1e-12).all()):
            raise ValueError("matrices must be finite and invertible")
    if shifts is not None:
        shifts = np.asarray(shifts, dtype=np.float64)
        if shifts.shape != (n, 2):
            raise ValueError(f"shifts must have shape {(n, 2)}; got {shifts.shape}")
    if fields is not None:
        fields = np.asarray(fields)
        if fields.shape != (n, 2, height, width):
            raise ValueError(f"fields must have shape {(n, 2, height, width)}; got {fields.shape}")
        fields = fields.reshape(n, 2, height * width)
    rows, cols = _source_coordinates(height, width, matrices, shifts, fields, n, dtype)
    return _sample_bilinear(images.astype(dtype, copy=False), rows, cols).reshape(images.shape)


def _source_coordinates(
    height: int,
    width: int,
    matrices: np.ndarray | None,
    shifts: np.ndarray | None,
    fields: np.ndarray | None,
    n: int,
    dtype: type,
) -> tuple[np.ndarray, np.ndarray]:
    """Row and column source coordinates ``(n, height * width)`` of every output pixel, with
    fields flattened to ``(n, 2, height * width)``."""
    centre = np.array([(height - 1) / 2.0, (width - 1) / 2.0])
    grid_row = np.repeat(np.arange(height, dtype=dtype) - dtype(centre[0]), width)
    grid_col = np.tile(np.arange(width, dtype=dtype) - dtype(centre[1]), height)
    inverse = np.broadcast_to(np.eye(2), (n, 2, 2)) if matrices is None else _inv2(matrices)
    # source = inverse @ (p - centre - shift) + centre = inverse @ (p - centre) + offset
    offset = np.broadcast_to(centre, (n, 2))
    if shifts is not None:
        offset = offset - np.einsum("nij,nj->ni", inverse, shifts)
    inverse, offset = inverse.astype(dtype), offset.astype(dtype)
    coordinates = []
    for axis in (0, 1):
        source = inverse[:, axis, 0, None] * grid_row
        source += inverse[:, axis, 1, None] * grid_col
        source += offset[:, axis, None]
        if fields is not None:
            source += fields[:, axis]
        coordinates.append(source)
    return coordinates[0], coordinates[1]


def _inv2(matrices: np.ndarray) -> np.ndarray:
    """Inverses of a stack of 2x2 matrices ``(n, 2, 2)``, in closed form."""
    (a, b), (c, d) = matrices[:, 0].T, matrices[:, 1].T
    inverse = np.stack([np.stack([d, -b], axis=1), np.stack([-c, a], axis=1)], axis=1)
    return inverse / (a * d - b * c)[:, None, None]


def _sample_bilinear(images: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples ``(n, height * width)`` of ``images (n, height, width)`` at the
    source coordinates ``rows, cols (n, height * width)`` (overwritten), 0 outside."""
    n, height, width = images.shape
    one = images.dtype.type(1.0)
    # Zeros around the image, one pixel before and two after: with sources clipped to
    # [-1, size], both neighbours of every sample lie inside the padded image.
    padded_width = width + 3
    padded_size = (height + 3) * padded_width
    padded = np.zeros((n, height + 3, padded_width), dtype=images.dtype)
    padded[:, 1 : height + 1, 1 : width + 1] = images
    np.clip(rows, -1.0, height, out=rows)
    np.clip(cols, -1.0, width, out=cols)
    row_floor, col_floor = np.floor(rows), np.floor(cols)
    rows -= row_floor  # the fractional parts, the interpolation weights
    cols -= col_floor
    # Flat index of the top-left neighbour in the padded stack (exact in float32: < 2**24
    # per image, and the image offset is added in integers).
    row_floor += one
    row_floor *= images.dtype.type(padded_width)
    row_floor += col_floor
    row_floor += one
    top_left = row_floor.astype(np.intp)
    top_left += (np.arange(n) * padded_size)[:, None]
    flat = padded.ravel()
    top = np.take(flat, top_left)
    top_right = np.take(flat, top_left + 1)
    top_left += padded_width
    bottom = np.take(flat, top_left)
    bottom_right = np.take(flat, top_left + 1)
    # top += cols * (top_right - top); bottom likewise; top += rows * (bottom - top)
    top_right -= top
    top_right *= cols
    top += top_right
    bottom_right -= bottom
    bottom_right *= cols
    bottom += bottom_right
    bottom -= top
    bottom *= rows
    top += bottom
    return top


class RandomDistortion:
    """Deforms every batch anew: a random affine map and an elastic field per image.

    Use it as ``fit(..., callbacks=[Augment(RandomDistortion())])``: it takes a batch of
    flattened images ``(n, height * width)`` with values in ``[0, 1]`` and the training
    generator, and returns the distorted batch (a new array of the same shape and dtype,
    values in ``[0, 1]``).
    All randomness comes from the generator it is called with, so a seeded run repeats.

    The elastic fields have the covariance of Simard's (see :func:`elastic_field_basis`).
    The defaults are a little milder than Cireșan et al. 2010's: elastic ``alpha = 34``,
    ``sigma = 5`` pixels (Simard 2003: ``alpha = 34``, ``sigma = 4``); rotation within 10
    degrees, each axis scaled within 10%, shear within 10 degrees and shifts within 2
    pixels. Zero magnitudes switch each part off; with all of them zero the batch comes back
    unchanged.

    Args:
        shape: ``(height, width)`` of an image; a batch's rows hold ``height * width``.
        max_rotation: Degrees.
        max_scale: Relative, per axis.
        max_shear: Degrees.
        max_shift: Pixels, per axis.
        elastic_alpha: Scale of the elastic displacements, in pixels (0 disables them).
        elastic_sigma: Standard deviation of their Gaussian smoothing, in pixels (> 0).
    """

    def __init__(
        self,
        shape: tuple[int, int] = (28, 28),
        *,
        max_rotation: float = 10.0,
        max_scale: float = 0.1,
        max_shear: float = 10.0,
        max_shift: float = 2.0,
        elastic_alpha: float = 34.0,
        elastic_sigma: float = 5.0,
    ):
        shape = tuple(shape)
        try:
            height, width = (check_positive_int("", side) for side in shape)
        except ValueError:  # a side that is not a positive integer, or not two sides
            raise ValueError(
                f"shape must be two positive integers (height, width); got {shape!r}"
            ) from None
        self.shape = (height, width)
        self.max_rotation = check_real("max_rotation", max_rotation, "[0, 90]")
        self.max_scale = check_real("max_scale", max_scale, "[0, 0.9]")
        self.max_shear = check_real("max_shear", max_shear, "[0, 60]")
        self.max_shift = check_real("max_shift", max_shift, "[0, inf)")
        self.elastic_alpha = check_real("elastic_alpha", elastic_alpha, "[0, inf)")
        self.elastic_sigma = check_real("elastic_sigma", elastic_sigma, "(0, inf)")
        self._affine = any((self.max_rotation, self.max_scale, self.max_shear, self.max_shift))
        basis = elastic_field_basis(self.shape, alpha=self.elastic_alpha, sigma=self.elastic_sigma)
        self._basis = {dtype: basis.astype(dtype) for dtype in (np.float32, np.float64)}

    def __call__(self, x_batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Distort ``x_batch (n, height * width)``; returns a new array of its shape."""
        n = len(x_batch)
        height, width = self.shape
        if x_batch.ndim != 2 or x_batch.shape[1] != height * width:
            raise ValueError(
                f"x_batch must have shape (n, {height * width}) for images of shape "
                f"{self.shape}; got {x_batch.shape}"
            )
        dtype = np.float64 if x_batch.dtype == np.float64 else np.float32
        matrices = shifts = fields = None
        if self._affine:
            matrices, shifts = random_affine(
                rng,
                n,
                max_rotation=self.max_rotation,
                max_scale=self.max_scale,
                max_shear=self.max_shear,
                max_shift=self.max_shift,
            )
        if self.elastic_alpha:
            basis = self._basis[dtype]
            weights = rng.standard_normal((2 * n, len(basis)), dtype=dtype)
            fields = (weights @ basis).reshape(n, 2, height * width)
        images = x_batch.astype(dtype, copy=False).reshape(n, height, width)
        rows, cols = _source_coordinates(height, width, matrices, shifts, fields, n, dtype)
        out = _sample_bilinear(images, rows, cols)
        # Interpolation is a convex combination; clipping only removes rounding past 0 or 1.
        np.clip(out, 0.0, 1.0, out=out)
        return out.astype(x_batch.dtype, copy=False)

    def get_config(self) -> dict:
        """The constructor's arguments, JSON-safe."""
        return {
            "shape": list(self.shape),
            "max_rotation": self.max_rotation,
            "max_scale": self.max_scale,
            "max_shear": self.max_shear,
            "max_shift": self.max_shift,
            "elastic_alpha": self.elastic_alpha,
            "elastic_sigma": self.elastic_sigma,
        }
