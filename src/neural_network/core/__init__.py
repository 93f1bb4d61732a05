"""What a network is: parameters, layers, activations, initialisers, losses and the model."""

from .activations import ACTIVATIONS, Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .initializers import INITIALIZERS, he_normal, he_uniform, xavier_normal, xavier_uniform
from .layers import Dense, Dropout, Layer
from .losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty, log_softmax, softmax
from .model import Sequential, build_mlp
from .parameters import FlatParameters, Parameter

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "Dense",
    "Dropout",
    "FlatParameters",
    "Identity",
    "Layer",
    "LeakyReLU",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "add_l2_grad",
    "build_mlp",
    "he_normal",
    "he_uniform",
    "l2_penalty",
    "log_softmax",
    "softmax",
    "xavier_normal",
    "xavier_uniform",
]
