"""Learning-rate schedules: small frozen dataclasses, each a pure function ``epoch -> lr``.

``epoch`` counts from 0. Each carries its configuration (``get_config()``, which a
checkpoint compares to resume only the same run, and :func:`schedule_from_config` rebuilds
through ``SCHEDULES``). A training run applies one through the
:class:`~neural_network.train.callbacks.LRSchedule` callback.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from ..checks import check_non_negative_int, check_positive_int, check_real


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
        check_real("step decay factor", self.factor, "(0, 1]")
        check_positive_int("step decay 'every'", self.every)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.factor ** (epoch // self.every)

    def get_config(self) -> dict:
        return {"name": "step", **asdict(self)}


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing from ``lr`` to ``min_lr`` over ``epochs``, after an optional linear
    warm-up of ``warmup_epochs`` from ``lr / (warmup_epochs + 1)`` (Loshchilov & Hutter 2017,
    https://arxiv.org/abs/1608.03983).

    With ``epochs=None`` the schedule spans the run it is used in: ``LRSchedule`` stretches
    it over ``fit``'s epochs, or over as many as a ``TimeBudget`` plans, so the learning rate
    reaches ``min_lr`` in the last epoch either way.
    """

    lr: float
    epochs: int | None = None
    min_lr: float = 0.0
    warmup_epochs: int = 0

    def __post_init__(self) -> None:
        if self.epochs is not None:
            check_positive_int("cosine epochs", self.epochs)
        check_non_negative_int("warmup_epochs", self.warmup_epochs)
        if self.epochs is not None and self.warmup_epochs >= self.epochs:
            raise ValueError(
                f"warmup_epochs must be an integer in [0, epochs); got {self.warmup_epochs!r}"
            )
        if not (0 <= self.min_lr <= self.lr):
            raise ValueError(f"min_lr must lie in [0, lr]; got {self.min_lr!r}")

    def spanning(self, epochs: int) -> Cosine:
        """The same schedule over ``epochs`` epochs (at least one more than the warm-up)."""
        return replace(self, epochs=max(epochs, self.warmup_epochs + 1))

    def __call__(self, epoch: int) -> float:
        if self.epochs is None:
            raise ValueError(
                "this Cosine has no length: give it epochs=, or use it through LRSchedule, "
                "which stretches it over the run"
            )
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
