"""How well the shipped demo model reads photos of digits, once prepare_digit has cleaned them up.

Prints one line per set: the MNIST test digits as they are (the model's own measure), the same
digits through prepare_digit, photo-like pictures made from them (grey paper, lighting
gradients, shadows, noise, blur, rotation, placement, JPEG; data/photo_like.py), and the
phone-style pictures in tests/apps/data/photos/. With --before, also the same sets through the
earlier prepare_digit (no photo clean-up) for comparison.

    python benchmarks/photo_accuracy.py [--count 10000] [--seed 0] [--before]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from neural_network import load_mnist
from neural_network.apps.predictor import pixel_classifier
from neural_network.apps.server import demo_model_path
from neural_network.data.images import centre_in_field, prepare_digit, read_image
from neural_network.data.photo_like import photo_like
from neural_network.io.model_files import load_model

PHOTOS = Path(__file__).resolve().parent.parent / "tests" / "apps" / "data" / "photos"


def plain_prepare(image: np.ndarray) -> np.ndarray:
    """prepare_digit as it was before the photo clean-up: the edge's median as the paper,
    ink under 10% of the brightest dropped, nothing else."""
    grey = np.asarray(image, dtype=np.float64)
    ring = max(1, round(min(grey.shape) * 0.05))
    edge = np.ones(grey.shape, dtype=bool)
    edge[ring:-ring, ring:-ring] = False
    if grey[edge].mean() > (grey.min() + grey.max()) / 2:
        grey = grey.max() + grey.min() - grey
    return centre_in_field(np.clip(grey - np.median(grey[edge]), 0, None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="MNIST test digits to use")
    parser.add_argument("--seed", type=int, default=0, help="seed of the photo-like pictures")
    parser.add_argument("--before", action="store_true", help="also the plain preparation")
    args = parser.parse_args()

    demo = pixel_classifier(load_model(demo_model_path()))
    _, (x_test, y_test) = load_mnist()
    x, labels = x_test[: args.count], y_test[: args.count]

    def report(name: str, pixels: np.ndarray, truth: np.ndarray, seconds: float) -> None:
        accuracy = np.mean(demo.probabilities(pixels).argmax(axis=1) == truth)
        print(f"{name:<38} {100 * accuracy:6.2f}%  ({len(truth)} images, {seconds:.1f} s)")

    report("clean MNIST test digits, as they are", x, labels, 0.0)
    photos = photo_like(x, np.random.default_rng(args.seed))
    files = sorted(PHOTOS.glob("digit_*.jpg"))
    file_labels = np.array([int(f.name.split("_")[1]) for f in files])
    ways = [("prepare_digit", prepare_digit)] + ([("before", plain_prepare)] if args.before else [])
    for way, prepare in ways:
        for name, pictures, truth in [
            ("clean MNIST test digits", [d.reshape(28, 28) for d in x], labels),
            ("photo-like MNIST test digits", photos, labels),
            ("phone-style pictures", [read_image(f) for f in files], file_labels),
        ]:
            started = time.perf_counter()
            pixels = np.stack([prepare(p) for p in pictures])
            report(f"{name}, {way}", pixels, truth, time.perf_counter() - started)


if __name__ == "__main__":
    main()
