"""A multi-layer perceptron written from scratch in NumPy, with hand-derived backprop.

Start with :func:`build_mlp` and :func:`fit`, or with the classic :class:`NeuralNetwork`.
MNIST is bundled: ``(x_train, y_train), (x_test, y_test) = load_mnist()``.

The package is laid out in layers, each importing only the ones below it::

    apps    NeuralNetwork, MLPClassifier, MLPRegressor, presets, plotting, the CLI, web demo
    io      model files, atomic writes, checkpoints
    train   fit, evaluate, History, callbacks
    optim   optimisers, schedules, constraints, and the plain reference step
    core    parameters, layers, activations, initialisers, losses, Sequential
    data    (beside core) IDX files, datasets, preprocessing, augmentation, pictures
    checks  the argument checks every layer uses
"""

import importlib.util

from .apps.classic import NeuralNetwork, one_hot_encode
from .apps.presets import PRESETS, train_preset
from .core.activations import ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .core.devices import DEVICES, DeviceUnavailableError
from .core.initializers import INITIALIZERS, he_normal, he_uniform, xavier_normal, xavier_uniform
from .core.layers import Dense, Dropout, Layer
from .core.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty, log_softmax, softmax
from .core.model import Sequential, build_mlp
from .core.parameters import FlatParameters, Parameter
from .data.augmentation import RandomDistortion, distort
from .data.idx import IDXFormatError, read_idx
from .data.mnist import load_fashion_mnist, load_kmnist, load_mnist
from .data.preprocessing import MinMaxScaler, one_hot
from .data.sources import ChecksumError, DownloadError, get_cache_dir
from .io.archive import ModelFileError
from .io.checkpoints import Checkpoint
from .io.model_files import load_model, register_model_kind, save_model
from .optim.constraints import apply_max_norm
from .optim.optimizers import OPTIMIZERS, SGD, Adam, Optimizer, clip_by_global_norm
from .optim.schedules import SCHEDULES, Constant, Cosine, StepDecay
from .train.callbacks import (
    Augment,
    Callback,
    EarlyStopping,
    LRSchedule,
    MaxNorm,
    ProgressBar,
    TimeBudget,
)
from .train.history import History
from .train.loop import TrainingDivergedError, evaluate, fit
from .train.run import TrainingRun

__version__ = "0.1.0"


def __getattr__(name: str):
    """Import the scikit-learn estimators on first access, so that scikit-learn stays optional
    and ``import neural_network`` does not pay for importing it."""
    if name == "MLPClassifier":
        from .apps.estimators import MLPClassifier

        return MLPClassifier
    if name == "MLPRegressor":
        from .apps.estimators import MLPRegressor

        return MLPRegressor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACTIVATIONS",
    "DEVICES",
    "INITIALIZERS",
    "OPTIMIZERS",
    "PRESETS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "Augment",
    "Callback",
    "Checkpoint",
    "ChecksumError",
    "Constant",
    "Cosine",
    "Dense",
    "DeviceUnavailableError",
    "DownloadError",
    "Dropout",
    "EarlyStopping",
    "FlatParameters",
    "History",
    "IDXFormatError",
    "Identity",
    "LRSchedule",
    "Layer",
    "LeakyReLU",
    "MaxNorm",
    "MinMaxScaler",
    "ModelFileError",
    "NeuralNetwork",
    "Optimizer",
    "Parameter",
    "ProgressBar",
    "RandomDistortion",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "StepDecay",
    "Tanh",
    "TimeBudget",
    "TrainingDivergedError",
    "TrainingRun",
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
    __all__ += ["MLPClassifier", "MLPRegressor"]
