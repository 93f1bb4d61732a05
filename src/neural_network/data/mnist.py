"""MNIST, Fashion-MNIST and Kuzushiji-MNIST: bundled, from a folder, cached or downloaded.

:func:`load_mnist`, :func:`load_fashion_mnist` and :func:`load_kmnist` look for the four
files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
and ``t10k-labels-idx1-ubyte`` (each decompressed, or as ``name.gz``), file by file:

1. ``data_dir=`` when it is given, and then nowhere else (a missing file is a
   ``FileNotFoundError``). Otherwise:
2. for MNIST, the copy bundled with the package;
3. for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist``, where Debian's package
   ``dataset-fashion-mnist`` installs it;
4. the cache, ``get_cache_dir() / key`` with ``key`` one of ``mnist``, ``fashion_mnist``,
   ``kmnist``: ``$NEURAL_NETWORK_DATA`` or the platform's per-user cache folder;
5. a download of ``name.gz`` from each of ``MIRRORS[key]`` (or ``mirrors=``) in turn.

Every file is checked against its pinned size and SHA-256 digest each time it is read
(:mod:`neural_network.data.sources` says how), and parsed by the strict IDX reader of
:mod:`neural_network.data.idx`.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .idx import IDXFormatError
from .sources import DatasetSpec, PinnedFile, find_file, load_file, read_verified

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_FILE_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
# 60,000 and 10,000 images of 28x28 uint8 after a 16-byte header; labels after 8 bytes.
_FILE_SIZES = (47_040_016, 60_008, 7_840_016, 10_008)
_IMAGE_SHAPE = (28, 28)


def _pinned_files(
    sha256s: tuple[str, ...] | None = None, gz_pins: tuple[tuple[int, str], ...] | None = None
) -> tuple[PinnedFile, ...]:
    """The four standard files, pinned by the SHA-256 of their decompressed bytes
    (``sha256s``) or, where only the published .gz is known, by its size and SHA-256
    (``gz_pins``), in ``_FILE_NAMES`` order."""
    if gz_pins is None:
        return tuple(
            PinnedFile(name, size, sha256)
            for name, size, sha256 in zip(_FILE_NAMES, _FILE_SIZES, sha256s, strict=True)
        )
    return tuple(
        PinnedFile(name, size, None, gz_size, gz_sha256)
        for name, size, (gz_size, gz_sha256) in zip(_FILE_NAMES, _FILE_SIZES, gz_pins, strict=True)
    )


# Provenance of the pins. MNIST: computed from the bundled files. Fashion-MNIST: computed
# from the files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose .gz
# files are recompressed (their MD5s differ from upstream's) but whose contents have the
# same digests that other projects publish for upstream's files. Kuzushiji-MNIST: the
# SHA-256 and size of each published .gz as torchvision and others list them; no
# decompressed digest is published, and none could be computed here.
_DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        key="mnist",
        title="MNIST",
        loader="load_mnist",
        files=_pinned_files(
            (
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            )
        ),
    ),
    "fashion_mnist": DatasetSpec(
        key="fashion_mnist",
        title="Fashion-MNIST",
        loader="load_fashion_mnist",
        files=_pinned_files(
            (
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            )
        ),
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        system_hint=(
            "On Debian and its derivatives, `apt-get install dataset-fashion-mnist` installs "
            "them in /usr/share/datasets/fashion-mnist, where they are found without a download."
        ),
    ),
    "kmnist": DatasetSpec(
        key="kmnist",
        title="Kuzushiji-MNIST",
        loader="load_kmnist",
        files=_pinned_files(
            gz_pins=(
                (18_165_135, "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"),
                (29_497, "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"),
                (3_041_136, "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"),
                (5_120, "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"),
            )
        ),
    ),
}

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion_mnist": (
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    "kmnist": (
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    ),
}
"""Base URLs tried in order for each dataset's ``<file name>.gz``; ``mirrors=`` overrides.

HTTPS mirrors come first. The plain-HTTP ones that follow (the original MNIST site, the
Fashion-MNIST S3 website, which serves no HTTPS) are safe to fall back on: every file is
checked against its pinned size and SHA-256 before it is kept or parsed, so a file altered
on the way is refused like a corrupt one; what HTTP gives away is only which file is fetched.
"""

Split = tuple[np.ndarray, np.ndarray]


def _check_split(spec: DatasetSpec, images: np.ndarray, labels: np.ndarray, prefix: str) -> Split:
    """Check one split's images and labels fit together; return them flattened, int64."""
    images_name = f"{prefix}-images-idx3-ubyte"
    labels_name = f"{prefix}-labels-idx1-ubyte"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != _IMAGE_SHAPE:
        raise IDXFormatError(
            f"{images_name}: expected uint8 images of shape (n, 28, 28), "
            f"got {images.dtype.name} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXFormatError(
            f"{labels_name}: expected uint8 labels of shape (n,), "
            f"got {labels.dtype.name} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IDXFormatError(
            f"{images_name} holds {len(images)} images but {labels_name} holds {len(labels)} labels"
        )
    if labels.size and labels.max() >= spec.n_classes:
        raise IDXFormatError(
            f"{labels_name}: {spec.title} labels must be in 0..{spec.n_classes - 1}, "
            f"found {labels.max()}"
        )
    return images.reshape(len(images), -1), labels.astype(np.int64)


def _check_split_arrays(spec: DatasetSpec, arrays: list[np.ndarray]) -> tuple[Split, Split]:
    train_images, train_labels, test_images, test_labels = arrays
    return (
        _check_split(spec, train_images, train_labels, "train"),
        _check_split(spec, test_images, test_labels, "t10k"),
    )


def _resolve_mirrors(key: str, mirrors: Sequence[str] | None) -> tuple[str, ...]:
    if mirrors is None:
        return tuple(MIRRORS[key])
    if isinstance(mirrors, (str, bytes)) or not isinstance(mirrors, Sequence):
        raise TypeError(f"mirrors must be a sequence of URLs, got {type(mirrors).__name__}")
    for url in mirrors:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"mirrors must be http:// or https:// URLs, got {url!r}")
    return tuple(mirrors)


def _load_dataset(
    key: str,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    mirrors: Sequence[str] | None,
) -> tuple[Split, Split]:
    spec = _DATASETS[key]
    resolved_mirrors = _resolve_mirrors(key, mirrors)
    arrays = []
    for pinned in spec.files:
        if data_dir is None:
            arrays.append(load_file(spec, pinned, download, resolved_mirrors))
            continue
        source = find_file(Path(data_dir), pinned.name)
        if source is None:
            raise FileNotFoundError(
                f"{spec.title} file {pinned.name!r} (or {pinned.name}.gz) not found in "
                f"{os.fspath(data_dir)!r}"
            )
        arrays.append(read_verified(source, pinned))
    return _check_split_arrays(spec, arrays)


def _bundled_mnist_sources() -> list[Traversable] | None:
    """The bundled MNIST files, in ``_FILE_NAMES`` order, or None if any is missing."""
    directory = importlib.resources.files("neural_network.data") / "bundled" / "mnist"
    sources = [find_file(directory, name) for name in _FILE_NAMES]
    return None if None in sources else sources


@functools.lru_cache(maxsize=1)
def _load_bundled_mnist() -> tuple[Split, Split] | None:
    """The bundled MNIST, read-only, decoded once per process; None if it is missing."""
    sources = _bundled_mnist_sources()
    if sources is None:
        return None
    spec = _DATASETS["mnist"]
    arrays = [
        read_verified(source, pinned) for source, pinned in zip(sources, spec.files, strict=True)
    ]
    splits = _check_split_arrays(spec, arrays)
    for split in splits:
        for array in split:
            array.flags.writeable = False
    return splits


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load MNIST (handwritten digits 0-9), from the copy bundled with the package by default.

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise the bundled copy, and should it be missing (a trimmed
    install), the cache ``get_cache_dir() / "mnist"``, then a download from ``mirrors``.
    Every file's decompressed bytes are checked against a pinned size and SHA-256 each
    time they are read; then the images are checked to be uint8 of shape (n, 28, 28), the
    labels uint8 of shape (n,) with values 0..9, and the two counts to agree.

    The bundled copy is decoded once per process, and each call returns fresh copies (about
    20 ms for the 55 MB), so a caller may modify what it gets without affecting later calls.

    Args:
        data_dir: A folder holding the four files ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte``, each as ``name.gz`` or decompressed as ``name``
            (the decompressed one is used where both exist). ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["mnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: ``x`` is uint8 of shape (n, 784), each
        row a 28x28 image flattened row by row; ``y`` is int64 of shape (n,). There are
        60,000 training and 10,000 test samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a file's decompressed bytes do not have the pinned digest.
        IDXFormatError: If a file is corrupt or of the wrong size, or its contents are not
            MNIST-shaped (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    if data_dir is None and (bundled := _load_bundled_mnist()) is not None:
        (x_train, y_train), (x_test, y_test) = bundled
        return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())
    return _load_dataset("mnist", data_dir, download, mirrors)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load Fashion-MNIST (Zalando's 28x28 grey clothing images, 10 classes).

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise ``/usr/share/datasets/fashion-mnist``, where Debian's
    package ``dataset-fashion-mnist`` installs them, then the cache
    ``get_cache_dir() / "fashion_mnist"``, then a download from ``mirrors``. Every file's
    decompressed bytes are checked against a pinned size and SHA-256 each time they are
    read (so Debian's recompressed .gz files pass as well as upstream's); then the images
    are checked to be uint8 of shape (n, 28, 28), the labels uint8 of shape (n,) with
    values 0..9, and the two counts to agree.

    Classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress, 4 coat, 5 sandal, 6 shirt,
    7 sneaker, 8 bag, 9 ankle boot.

    Args:
        data_dir: A folder holding the four files ``train-images-idx3-ubyte``,
            ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
            ``t10k-labels-idx1-ubyte``, each as ``name.gz`` or decompressed as ``name``
            (the decompressed one is used where both exist). ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["fashion_mnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as :func:`load_mnist` returns them:
        60,000 and 10,000 samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a file's decompressed bytes do not have the pinned digest.
        IDXFormatError: If a file is corrupt or of the wrong size, or its contents are not
            shaped as above (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    return _load_dataset("fashion_mnist", data_dir, download, mirrors)


def load_kmnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
) -> tuple[Split, Split]:
    """Load Kuzushiji-MNIST (10 classes of cursive Japanese hiragana, 28x28 grey).

    Where the files come from (see the module docstring): with ``data_dir``, that folder
    and nowhere else; otherwise the cache ``get_cache_dir() / "kmnist"``, then a download
    from ``mirrors``. Only the SHA-256 of the published ``.gz`` files is pinned for this
    set, so the files must be those exact .gz files (a decompressed or recompressed copy is
    refused); each is checked every time it is read, and its decompressed size too. Then the
    images are checked to be uint8 of shape (n, 28, 28), the labels uint8 of shape (n,) with
    values 0..9, and the two counts to agree.

    Classes (Clanuwat et al., 2018, https://arxiv.org/abs/1812.01718): 0 o, 1 ki, 2 su,
    3 tsu, 4 na, 5 ha, 6 ma, 7 ya, 8 re, 9 wo.

    Args:
        data_dir: A folder holding the four published files ``train-images-idx3-ubyte.gz``,
            ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
            ``t10k-labels-idx1-ubyte.gz``. ``None``: see above.
        download: Whether a file found nowhere else may be downloaded.
        mirrors: Base URLs (http or https) to fetch ``name.gz`` from, in order; ``None``
            uses ``MIRRORS["kmnist"]``.

    Returns:
        ``(x_train, y_train), (x_test, y_test)`` as :func:`load_mnist` returns them:
        60,000 and 10,000 samples.

    Raises:
        FileNotFoundError: If a file is missing from ``data_dir``, or from everywhere with
            ``download=False``.
        DownloadError: If every mirror failed for a file.
        ChecksumError: If a .gz file does not have the pinned digest.
        IDXFormatError: If a file is corrupt, of the wrong size or not compressed, or its
            contents are not shaped as above (labels outside 0..9 included).
        TypeError: If ``mirrors`` is not a sequence.
        ValueError: If a mirror is not an http or https URL.
    """
    return _load_dataset("kmnist", data_dir, download, mirrors)
