"""Learning-rate schedules: values at the boundaries, validation, config round trips."""

import itertools
import json
import math

import pytest

from neural_network.optim.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    StepDecay,
    schedule_from_config,
)

LR = 0.1


def test_constant():
    schedule = Constant(LR)
    assert [schedule(epoch) for epoch in (0, 1, 100)] == [LR, LR, LR]


def test_step_decay_boundaries():
    schedule = StepDecay(LR, 0.5, 30)
    assert all(schedule(epoch) == LR for epoch in range(30))
    assert schedule(30) == pytest.approx(LR / 2, rel=1e-15)
    assert schedule(59) == pytest.approx(LR / 2, rel=1e-15)
    assert schedule(60) == pytest.approx(LR / 4, rel=1e-15)
    assert schedule(95) == pytest.approx(LR / 8, rel=1e-15)


def test_step_decay_defaults_and_factor_one():
    assert StepDecay(LR) == StepDecay(LR, 0.5, 30)
    flat = StepDecay(LR, 1.0, 2)
    assert [flat(epoch) for epoch in range(6)] == [LR] * 6


@pytest.mark.parametrize(
    "kwargs", [{"factor": 0.0}, {"factor": 1.5}, {"factor": -0.5}, {"every": 0}, {"every": 2.5}]
)
def test_step_decay_validates(kwargs):
    with pytest.raises(ValueError, match="step decay"):
        StepDecay(LR, **kwargs)


@pytest.mark.parametrize("min_lr", [0.0, 1e-3])
def test_cosine_without_warmup(min_lr):
    epochs = 11
    schedule = Cosine(LR, epochs, min_lr=min_lr)
    values = [schedule(epoch) for epoch in range(epochs)]
    assert values[0] == pytest.approx(LR, rel=1e-15)
    assert values[-1] == pytest.approx(min_lr, abs=1e-15)
    assert values[5] == pytest.approx((LR + min_lr) / 2, rel=1e-12)  # halfway
    assert all(a > b for a, b in itertools.pairwise(values))
    # It stays at min_lr past the end.
    assert schedule(epochs) == pytest.approx(min_lr, abs=1e-15)
    assert schedule(10 * epochs) == pytest.approx(min_lr, abs=1e-15)


def test_cosine_formula():
    schedule = Cosine(LR, 21, min_lr=0.01)
    for epoch in range(21):
        expected = 0.01 + 0.5 * (LR - 0.01) * (1 + math.cos(math.pi * epoch / 20))
        assert schedule(epoch) == pytest.approx(expected, rel=1e-12)


def test_cosine_with_warmup():
    epochs, warmup = 20, 4
    schedule = Cosine(LR, epochs, min_lr=1e-3, warmup_epochs=warmup)
    # Linear warm-up from lr / (warmup + 1), reaching lr at the first cosine epoch.
    for epoch in range(warmup):
        assert schedule(epoch) == pytest.approx(LR * (epoch + 1) / (warmup + 1), rel=1e-12)
    assert schedule(warmup) == pytest.approx(LR, rel=1e-15)
    assert schedule(epochs - 1) == pytest.approx(1e-3, rel=1e-12)
    values = [schedule(epoch) for epoch in range(epochs)]
    assert values[: warmup + 1] == sorted(values[: warmup + 1])
    assert values[warmup:] == sorted(values[warmup:], reverse=True)
    assert max(values) == pytest.approx(LR, rel=1e-15)


def test_cosine_single_epoch():
    assert Cosine(LR, 1)(0) == pytest.approx(LR)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"epochs": 0},
        {"epochs": 2.5},
        {"epochs": 10, "warmup_epochs": 10},
        {"epochs": 10, "warmup_epochs": -1},
        {"epochs": 10, "warmup_epochs": 1.5},
        {"epochs": 10, "min_lr": 0.2},
        {"epochs": 10, "min_lr": -1e-3},
    ],
)
def test_cosine_validates(kwargs):
    with pytest.raises(ValueError):
        Cosine(LR, **kwargs)


@pytest.mark.parametrize(
    "schedule",
    [
        Constant(0.01),
        StepDecay(0.05, 0.25, 7),
        Cosine(0.02, 30),
        Cosine(0.02, 30, min_lr=1e-4, warmup_epochs=3),
    ],
)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    assert config["name"] in SCHEDULES
    assert json.loads(json.dumps(config)) == config
    rebuilt = schedule_from_config(config)
    assert rebuilt == schedule
    assert type(rebuilt) is type(schedule)
    assert [rebuilt(epoch) for epoch in range(40)] == [schedule(epoch) for epoch in range(40)]
    assert schedule_from_config(config) is not schedule
    assert config == schedule.get_config()  # not consumed


@pytest.mark.parametrize("config", [{"name": "exponential", "lr": 0.1}, {"lr": 0.1}])
def test_unknown_schedule_lists_valid_names(config):
    with pytest.raises(ValueError, match="Unknown schedule") as info:
        schedule_from_config(config)
    for name in SCHEDULES:
        assert repr(name) in str(info.value)


def test_schedules_are_frozen():
    schedule = StepDecay(LR)
    with pytest.raises(AttributeError):
        schedule.lr = 1.0  # type: ignore[misc]
