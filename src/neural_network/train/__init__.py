"""The training loop, its History, and the callbacks that watch and steer a run."""

from .callbacks import (
    Augment,
    Callback,
    EarlyStopping,
    LRSchedule,
    MaxNorm,
    ProgressBar,
    TimeBudget,
)
from .history import History
from .lbfgs import LBFGSResult, train_lbfgs
from .loop import TrainingDivergedError, evaluate, fit
from .run import TrainingRun

__all__ = [
    "Augment",
    "Callback",
    "EarlyStopping",
    "History",
    "LBFGSResult",
    "LRSchedule",
    "MaxNorm",
    "ProgressBar",
    "TimeBudget",
    "TrainingDivergedError",
    "TrainingRun",
    "evaluate",
    "fit",
    "train_lbfgs",
]
