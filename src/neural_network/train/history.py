"""``History``: what a training run measured, epoch by epoch."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..checks import is_finite_number

# Validation is optional, and a regression run measures no accuracy.
_MAY_BE_EMPTY = frozenset({"val_loss", "val_accuracy", "train_accuracy"})
# Fields that files written by earlier versions lack.
_LATER_FIELDS = ("threads", "step_time")


@dataclass
class History:
    """Per-epoch records of a training run. Epochs count from 1.

    Train loss and accuracy are running means over the epoch's mini-batches (with dropout
    on, before each step), as Keras reports them: free to compute, slightly pessimistic.
    The train loss includes the L2 penalty; the validation loss does not. ``grad_norm`` is
    the mean global gradient norm before clipping; ``epoch_time`` is the wall time of the
    epoch's training steps in seconds (validation not included). ``threads`` is the BLAS
    thread count that ran most of the epoch's steps and ``step_time`` their median seconds
    (both 0 for epochs recorded before these were kept).
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    # A regression run (``fit`` with a regression loss) leaves both accuracy lists empty.
    threads: list[int] = field(default_factory=list)
    step_time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def record_threads(self, threads: int, step_time: float) -> None:
        """Append an epoch's thread count and median step time, after zeros for any earlier
        epochs that had none (a history read from an older file)."""
        for values in (self.threads, self.step_time):
            values.extend([0] * (len(self.epoch) - 1 - len(values)))
        self.threads.append(threads)
        self.step_time.append(step_time)

    def to_dict(self) -> dict[str, list]:
        return asdict(self)

    def last(self) -> dict[str, float]:
        """The most recent epoch's record (``nan`` for metrics not measured)."""
        return {key: (values[-1] if values else math.nan) for key, values in self.to_dict().items()}

    @classmethod
    def from_dict(cls, data: Any) -> History:
        """A History from its :meth:`to_dict`, as read back from a file.

        Raises:
            ValueError: unless ``data`` has exactly the fields of a History, each a list of
                finite numbers, epochs ``1..n`` and one value per epoch in every field (the
                validation fields and ``train_accuracy`` may be empty).
        """
        names = {f.name for f in fields(cls)}
        if isinstance(data, dict):  # files written before threads were recorded
            data = {**{key: [] for key in _LATER_FIELDS if key not in data}, **data}
        if not isinstance(data, dict) or set(data) != names:
            raise ValueError(f"history must be an object with keys {sorted(names)}")
        for key, values in data.items():
            if not isinstance(values, list) or not all(is_finite_number(v) for v in values):
                raise ValueError(f"history {key!r} must be a list of finite numbers")
        n = len(data["epoch"])
        if data["epoch"] != list(range(1, n + 1)):
            raise ValueError("history epochs must count 1, 2, ... n")
        for key, values in data.items():
            optional = key in _MAY_BE_EMPTY or key in _LATER_FIELDS
            if len(values) != n and not (optional and not values):
                raise ValueError(f"history {key!r} has {len(values)} values for {n} epochs")
        return cls(**{key: list(values) for key, values in data.items()})
