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
from .loop import TrainingDivergedError, evaluate, fit
from .run import TrainingRun

__all__ = [
    "Augment",
    "Callback",
    "EarlyStopping",
    "History",
    "LRSchedule",
    "MaxNorm",
    "ProgressBar",
    "TimeBudget",
    "TrainingDivergedError",
    "TrainingRun",
    "evaluate",
    "fit",
]
