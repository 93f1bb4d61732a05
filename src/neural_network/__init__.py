"""A multi-layer perceptron written from scratch in NumPy, with hand-derived backprop.

Start with :func:`build_mlp` and :func:`fit`, or with the seed-compatible
:class:`NeuralNetwork`. MNIST is bundled: ``(x_train, y_train), (x_test, y_test) = load_mnist()``.
"""

import importlib.util

from .apps.classic import NeuralNetwork, one_hot_encode
from .apps.presets import PRESETS, train_preset
from .core.activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh
from .core.initializers import INITIALIZERS, he_normal, he_uniform, xavier_normal, xavier_uniform
from .core.layers import Dense, Dropout, FlatParameters, Layer, Parameter
from .core.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty, log_softmax, softmax
from .core.model import Sequential, build_mlp
from .data.augmentation import RandomDistortion, distort
from .data.mnist import (
    ChecksumError,
    DownloadError,
    IDXFormatError,
    get_cache_dir,
    load_fashion_mnist,
    load_kmnist,
    load_mnist,
    read_idx,
)
from .data.preprocessing import MinMaxScaler, one_hot
from .io.model_files import ModelFileError, load_model, register_model_kind, save_model
from .optim.constraints import apply_max_norm
from .optim.optimizers import OPTIMIZERS, SGD, Adam, Optimizer, clip_by_global_norm
from .optim.schedules import SCHEDULES, Constant, Cosine, StepDecay
from .train.loop import EarlyStopping, History, TrainingDivergedError, evaluate, fit

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the scikit-learn estimator on first access, so that scikit-learn stays optional
    and ``import neural_network`` does not pay for importing it."""
    if name == "MLPClassifier":
        try:
            from .apps.estimators import MLPClassifier
        except ModuleNotFoundError as error:
            if error.name is None or error.name.split(".")[0] != "sklearn":
                raise
            raise ModuleNotFoundError(
                "neural_network.MLPClassifier needs scikit-learn: "
                'pip install "neural-network[sklearn]"',
                name=error.name,
            ) from error
        return MLPClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "OPTIMIZERS",
    "PRESETS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "ChecksumError",
    "Constant",
    "Cosine",
    "Dense",
    "DownloadError",
    "Dropout",
    "EarlyStopping",
    "FlatParameters",
    "History",
    "IDXFormatError",
    "Layer",
    "LeakyReLU",
    "MinMaxScaler",
    "ModelFileError",
    "NeuralNetwork",
    "Optimizer",
    "Parameter",
    "RandomDistortion",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "TrainingDivergedError",
    "__version__",
    "add_l2_grad",
    "apply_max_norm",
    "build_mlp",
    "clip_by_global_norm",
    "distort",
    "evaluate",
    "fit",
    "get_cache_dir",
    "he_normal",
    "he_uniform",
    "l2_penalty",
    "load_fashion_mnist",
    "load_kmnist",
    "load_mnist",
    "load_model",
    "log_softmax",
    "one_hot",
    "one_hot_encode",
    "read_idx",
    "register_model_kind",
    "save_model",
    "softmax",
    "train_preset",
    "xavier_normal",
    "xavier_uniform",
]

# A star import must not fail without the optional scikit-learn: list the estimator only
# where it can be imported (find_spec does not import scikit-learn).
if importlib.util.find_spec("sklearn") is not None:
    __all__.append("MLPClassifier")
