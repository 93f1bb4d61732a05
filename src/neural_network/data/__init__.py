"""Data: the IDX parser, dataset sources and the cache, MNIST and friends, preprocessing,
augmentation, and digits from pictures. Needs NumPy only (Pillow for pictures, and
scikit-image, the ``photos`` extra, to clean up photos in ``ink``)."""

from .augmentation import RandomDistortion, distort
from .idx import IDXFormatError, parse_idx, read_idx
from .mnist import MIRRORS, load_fashion_mnist, load_kmnist, load_mnist
from .preprocessing import MinMaxScaler, one_hot
from .sources import ChecksumError, DownloadError, get_cache_dir, verify_sha256

__all__ = [
    "MIRRORS",
    "ChecksumError",
    "DownloadError",
    "IDXFormatError",
    "MinMaxScaler",
    "RandomDistortion",
    "distort",
    "get_cache_dir",
    "load_fashion_mnist",
    "load_kmnist",
    "load_mnist",
    "one_hot",
    "parse_idx",
    "read_idx",
    "verify_sha256",
]
