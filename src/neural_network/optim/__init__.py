"""How a network learns: optimisers, learning-rate schedules and weight constraints."""

from .constraints import apply_max_norm
from .optimizers import OPTIMIZERS, SGD, Adam, Optimizer, clip_by_global_norm
from .schedules import SCHEDULES, Constant, Cosine, StepDecay

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adam",
    "Constant",
    "Cosine",
    "Optimizer",
    "StepDecay",
    "apply_max_norm",
    "clip_by_global_norm",
]
