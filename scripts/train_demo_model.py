"""Train the small network that ``neural-network serve`` uses when no model is given.

The model is a 784-128-10 ReLU ``NeuralNetwork`` trained with Adam on the bundled MNIST
training set, seed 0, for a fixed number of epochs; the test set is not used for training
or for choosing an epoch, only to report the accuracy. It is written to
``src/neural_network/apps/demo_model.npz`` (about 400 KB), and one JSON line says its size,
its test accuracy (on the test images as they are, and after ``prepare_digit``, which is
what the web page's drawings go through) and the SHA-256 of its weights.

Same seed, same weights: ``--check`` trains again and compares the new weights with the
shipped file's, bit for bit (on the same NumPy build; another BLAS may round differently).

    python scripts/train_demo_model.py            # writes the model file
    python scripts/train_demo_model.py --check    # trains and compares; writes nothing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from neural_network import NeuralNetwork, load_mnist, load_model, one_hot_encode
from neural_network.data.images import prepare_digit
from neural_network.io.model_files import parameter_arrays

DEMO_MODEL = Path(__file__).resolve().parents[1] / "src/neural_network/apps/demo_model.npz"
ARCHITECTURE = [128]
SEED = 0
SETTINGS = {
    "lr": 1e-3,
    "epochs": 12,
    "batch_size": 128,
    "lam": 1e-4,
    "dropout_keep": 1.0,
    "grad_clip": 5.0,
    "early_stopping_patience": None,
    "lr_decay": 0.5,
    "lr_decay_every": 5,
    # Pinned, so that the bits do not depend on a timing choice: two BLAS threads, OpenBLAS's
    # default on the 2-core machine that trained the shipped file.
    "threads": 2,
}


def weights_digest(network: NeuralNetwork) -> str:
    """SHA-256 over the network's parameters and scaler, in file order."""
    digest = hashlib.sha256()
    arrays = parameter_arrays(network.model)
    arrays |= {"scaler.min": network.scaler.min_, "scaler.scale": network.scaler.scale_}
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def train() -> NeuralNetwork:
    """The demo network, trained from seed ``SEED`` on the 60,000 training images."""
    (x_train, y_train), _ = load_mnist()
    network = NeuralNetwork(
        X=x_train.T,
        y=one_hot_encode(y_train, 10),
        activation="relu",
        num_labels=10,
        architecture=ARCHITECTURE,
        seed=SEED,
    )
    network.fit(**SETTINGS, verbose=False)
    return network


def accuracies(network: NeuralNetwork) -> dict[str, float]:
    """Test accuracy on the images as they are and after ``prepare_digit``."""
    _, (x_test, y_test) = load_mnist()
    prepared = np.stack([prepare_digit(image.reshape(28, 28)) for image in x_test])
    return {
        "test_accuracy": float(np.mean(network.predict(x_test.T) == y_test)),
        "test_accuracy_prepared": float(np.mean(network.predict(prepared.T) == y_test)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="train and compare with the shipped model"
    )
    parser.add_argument("--out", type=Path, default=DEMO_MODEL, help="where to write the model")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    network = train()
    seconds = time.perf_counter() - start
    digest = weights_digest(network)
    if args.check:
        shipped = weights_digest(load_model(DEMO_MODEL))
        print(json.dumps({"weights_sha256": digest, "shipped_sha256": shipped}))
        return 0 if digest == shipped else 1
    network.save(args.out)
    print(
        json.dumps(
            {
                "file": str(args.out),
                "bytes": args.out.stat().st_size,
                "architecture": [784, *ARCHITECTURE, 10],
                "seed": SEED,
                "train_seconds": round(seconds, 1),
                **accuracies(network),
                "weights_sha256": digest,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
