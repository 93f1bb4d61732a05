"""Learning-rate schedules: small frozen dataclasses, each a pure function ``epoch -> lr``.

``epoch`` counts from 0. They carry their own configuration, so a checkpoint or a config
file can rebuild them from :func:`get_config` through ``SCHEDULES``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Constant:
    """The same ``lr`` every epoch."""

    lr: float

    def __call__(self, epoch: int) -> float:
        return self.lr

    def get_config(self) -> dict:
        return {"name": "constant", **asdict(self)}


@dataclass(frozen=True)
class StepDecay:
    """Multiply ``lr`` by ``factor`` every ``every`` epochs: ``lr * factor ** (epoch // every)``."""

    lr: float
    factor: float = 0.5
    every: int = 30

    def __post_init__(self) -> None:
        if not (0 < self.factor <= 1):
            raise ValueError(f"step decay factor must lie in (0, 1]; got {self.factor!r}")
        if not (isinstance(self.every, int) and self.every >= 1):
            raise ValueError(f"step decay 'every' must be a positive integer; got {self.every!r}")

    def __call__(self, epoch: int) -> float:
        return self.lr * self.factor ** (epoch // self.every)

    def get_config(self) -> dict:
        return {"name": "step", **asdict(self)}


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing from ``lr`` to ``min_lr`` over ``epochs``, after an optional linear
    warm-up of ``warmup_epochs`` from ``lr / (warmup_epochs + 1)`` (Loshchilov & Hutter 2017,
    https://arxiv.org/abs/1608.03983)."""

    lr: float
    epochs: int
    min_lr: float = 0.0
    warmup_epochs: int = 0

    def __post_init__(self) -> None:
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"cosine epochs must be a positive integer; got {self.epochs!r}")
        if not (isinstance(self.warmup_epochs, int) and 0 <= self.warmup_epochs < self.epochs):
            raise ValueError(
                f"warmup_epochs must be an integer in [0, epochs); got {self.warmup_epochs!r}"
            )
        if not (0 <= self.min_lr <= self.lr):
            raise ValueError(f"min_lr must lie in [0, lr]; got {self.min_lr!r}")

    def __call__(self, epoch: int) -> float:
        if epoch < self.warmup_epochs:
            return self.lr * (epoch + 1) / (self.warmup_epochs + 1)
        span = max(self.epochs - self.warmup_epochs - 1, 1)
        progress = min((epoch - self.warmup_epochs) / span, 1.0)
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress))

    def get_config(self) -> dict:
        return {"name": "cosine", **asdict(self)}


SCHEDULES = {"constant": Constant, "step": StepDecay, "cosine": Cosine}


def schedule_from_config(config: dict) -> Constant | StepDecay | Cosine:
    """Rebuild a schedule from its ``get_config()``.

    Raises:
        ValueError: if the name is not a key of ``SCHEDULES``.
    """
    config = dict(config)
    name = config.pop("name", None)
    if name not in SCHEDULES:
        raise ValueError(f"Unknown schedule {name!r}; expected one of {sorted(SCHEDULES)}")
    return SCHEDULES[name](**config)
