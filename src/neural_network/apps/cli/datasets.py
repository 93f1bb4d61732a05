"""The datasets the command trains and evaluates on, by the names ``--dataset`` takes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...data.mnist import load_fashion_mnist, load_kmnist, load_mnist
from ..predictor import DIGITS


@dataclass(frozen=True)
class Dataset:
    """A dataset the CLI can train and evaluate on: its loader and its class names."""

    load: Callable[..., tuple]
    class_names: tuple[str, ...]


FASHION = ("T-shirt", "trouser", "pullover", "dress", "coat")
FASHION += ("sandal", "shirt", "sneaker", "bag", "boot")
HIRAGANA = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
DATASETS: dict[str, Dataset] = {
    "mnist": Dataset(load_mnist, DIGITS),
    "fashion-mnist": Dataset(load_fashion_mnist, FASHION),
    "kmnist": Dataset(load_kmnist, HIRAGANA),
}


def load_dataset(name: str, data_dir: str | None, limit_test: int | None = None) -> tuple:
    """The dataset's ``(x_train, y_train), (x_test, y_test)``, the test set cut to
    ``limit_test``."""
    loader = DATASETS[name].load
    (x_train, y_train), (x_test, y_test) = (
        loader() if data_dir is None else loader(data_dir=data_dir)
    )
    if limit_test is not None:
        x_test, y_test = x_test[:limit_test], y_test[:limit_test]
    return (x_train, y_train), (x_test, y_test)
