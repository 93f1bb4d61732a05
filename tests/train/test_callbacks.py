"""The callback protocol: when each hook runs, in which order, what a callback can steer, and
the library's callbacks (schedules, time budgets, early stopping's state, augmentation)."""

import math
import types

import numpy as np
import pytest

from neural_network import (
    Adam,
    Augment,
    Callback,
    Checkpoint,
    Cosine,
    EarlyStopping,
    LRSchedule,
    MaxNorm,
    ProgressBar,
    StepDecay,
    TimeBudget,
    build_mlp,
    fit,
)
from neural_network.train import callbacks as callbacks_module

N_SAMPLES, BATCH = 48, 16  # three steps an epoch


def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_SAMPLES, 5)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(int)


def train(*callbacks, epochs=2, validation=False, lr=0.01):
    x, labels = problem()
    model = build_mlp(5, [8], 2, rng=np.random.default_rng(1))
    history = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=lr),
        epochs=epochs,
        batch_size=BATCH,
        validation_data=(x, labels) if validation else None,
        rng=np.random.default_rng(2),
        callbacks=list(callbacks),
    )
    return model, history


class Recorder(Callback):
    """Writes down every hook call, with the epoch it came in."""

    def __init__(self, name="recorder", log=None, order=0):
        self.name, self.log, self.order = name, [] if log is None else log, order

    def on_train_begin(self, run):
        self.log.append((self.name, "train_begin", run.epoch))

    def on_epoch_begin(self, run):
        self.log.append((self.name, "epoch_begin", run.epoch))

    def on_batch_begin(self, x_batch, run):
        self.log.append((self.name, "batch_begin", run.epoch))
        return x_batch

    def on_step_end(self, run):
        self.log.append((self.name, "step_end", run.epoch))

    def on_epoch_end(self, run):
        self.log.append((self.name, "epoch_end", run.epoch))

    def on_train_end(self, run):
        self.log.append((self.name, "train_end", run.epoch))


def test_hooks_run_at_their_points_of_the_loop():
    recorder = Recorder()
    train(recorder, epochs=2)
    step = [("recorder", "batch_begin", 1), ("recorder", "step_end", 1)]
    epoch_1 = [("recorder", "epoch_begin", 1), *step * 3, ("recorder", "epoch_end", 1)]
    epoch_2 = [(name, hook, 2 if epoch else epoch) for name, hook, epoch in epoch_1]
    expected = [("recorder", "train_begin", 0), *epoch_1, *epoch_2, ("recorder", "train_end", 2)]
    assert recorder.log == expected


def test_callbacks_run_by_order_then_as_given():
    log = []
    late, early, first_zero, second_zero = (
        Recorder("late", log, order=5),
        Recorder("early", log, order=-5),
        Recorder("zero-a", log),
        Recorder("zero-b", log),
    )
    train(late, first_zero, early, second_zero, epochs=1)
    begins = [name for name, hook, _ in log if hook == "train_begin"]
    assert begins == ["early", "zero-a", "zero-b", "late"]
    assert Checkpoint(None).order > max(c.order for c in (late, early, ProgressBar()))


def test_a_true_from_on_epoch_end_stops_after_that_epoch_and_later_callbacks_see_it():
    class StopAtTwo(Callback):
        def on_epoch_end(self, run):
            return run.epoch == 2

    seen = []

    class Watch(Callback):
        order = 1

        def on_epoch_end(self, run):
            seen.append((run.epoch, run.stop_training))

    _, history = train(StopAtTwo(), Watch(), epochs=10)
    assert len(history) == 2
    assert seen == [(1, False), (2, True)]


def test_on_train_end_runs_after_an_error():
    class Boom(Callback):
        def on_epoch_end(self, run):
            raise RuntimeError("boom")

    recorder = Recorder(order=1)
    with pytest.raises(RuntimeError, match="boom"):
        train(Boom(), recorder, epochs=3)
    assert recorder.log[-1] == ("recorder", "train_end", 1)


def test_callbacks_must_be_callback_instances():
    with pytest.raises(TypeError, match="callbacks must be Callback instances; got function"):
        train(lambda run: None)


def test_the_batch_that_on_batch_begin_returns_is_the_one_trained_on():
    class Blank(Callback):
        def on_batch_begin(self, x_batch, run):
            return np.zeros_like(x_batch)

    start = build_mlp(5, [8], 2, rng=np.random.default_rng(1))
    model, _ = train(Blank())
    # With all-zero inputs the first layer's weights get no gradient, so Adam never moves them;
    # the output layer's bias still learns the class frequencies.
    np.testing.assert_array_equal(model.layers[0].weight.value, start.layers[0].weight.value)
    assert not np.array_equal(model.layers[-1].bias.value, start.layers[-1].bias.value)


def test_augment_transforms_training_batches_with_the_run_generator():
    calls = []

    def transform(x_batch, rng):
        calls.append(rng)
        return x_batch * 2

    _, history = train(Augment(transform), validation=True, epochs=1)
    assert len(calls) == 3 and all(isinstance(rng, np.random.Generator) for rng in calls)
    assert len(set(map(id, calls))) == 1
    assert history.val_loss  # validation ran, and was not augmented (3 calls: 3 steps)


def test_max_norm_holds_after_every_step():
    norms = []

    class Watch(Callback):
        order = 1

        def on_step_end(self, run):
            norms.append(np.linalg.norm(run.model.layers[0].weight.value, axis=0).max())

    train(MaxNorm(0.5), Watch(), lr=0.5)
    assert max(norms) <= 0.5 * (1 + 1e-6)


def test_lr_schedule_sets_the_rate_of_every_epoch():
    schedule = StepDecay(0.02, 0.5, 2)
    _, history = train(LRSchedule(schedule), epochs=5)
    assert history.lr == [schedule(epoch) for epoch in range(5)]
    assert LRSchedule(schedule).get_config() == {"schedule": schedule.get_config()}
    assert LRSchedule(lambda epoch: 0.1).get_config() is None
    with pytest.raises(TypeError, match="schedule must be callable"):
        LRSchedule(0.1)


def test_a_cosine_without_epochs_spans_the_run():
    _, history = train(LRSchedule(Cosine(0.02, min_lr=0.001, warmup_epochs=1)), epochs=6)
    expected = Cosine(0.02, epochs=6, min_lr=0.001, warmup_epochs=1)
    assert history.lr == pytest.approx([expected(epoch) for epoch in range(6)], rel=1e-12)
    assert history.lr[-1] == pytest.approx(0.001)
    with pytest.raises(ValueError, match="no length"):
        Cosine(0.02)(0)


class Clock:
    """A perf_counter that moves only when told to."""

    def __init__(self):
        self.now = 1000.0

    def perf_counter(self):
        return self.now


class TenSecondEpochs(Callback):
    """Moves the clock on by ten seconds in every epoch (before the other callbacks look)."""

    order = -20

    def __init__(self, clock):
        self.clock = clock

    def on_epoch_end(self, run):
        self.clock.now += 10.0


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, run):
        if run.epoch == self.epoch:
            raise KeyboardInterrupt


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    fake_time = types.SimpleNamespace(perf_counter=clock.perf_counter)
    monkeypatch.setattr(callbacks_module, "time", fake_time)
    return clock


def test_time_budget_plans_the_epochs_that_fit_and_the_cosine_follows(clock):
    budget = TimeBudget(45.0)
    _, history = train(TenSecondEpochs(clock), budget, LRSchedule(Cosine(0.02)), epochs=10)
    # After epoch k, k * 10 s are spent; half an epoch is kept for what follows training:
    # 45 - 10 - 5 leaves 3 more epochs, then 2, 1, 0.
    assert len(history) == 4
    full, planned = Cosine(0.02, epochs=10), Cosine(0.02, epochs=4)
    assert history.lr == pytest.approx([full(0), planned(1), planned(2), planned(3)])
    assert budget.state_dict() == {"spent": pytest.approx(40.0), "planned": 4}


def test_a_run_ended_by_its_budget_is_stopped_and_a_resume_trains_no_further(clock, tmp_path):
    path = tmp_path / "run.ckpt"
    _, history = train(TenSecondEpochs(clock), TimeBudget(45.0), Checkpoint(path), epochs=10)
    assert len(history) == 4
    _, resumed = train(
        TenSecondEpochs(clock), TimeBudget(45.0), Checkpoint(None, resume_from=path), epochs=10
    )
    assert len(resumed) == 4
    assert resumed.epoch_time == history.epoch_time


def test_an_interrupted_budgeted_run_resumes_with_its_spent_time_and_plan(clock, tmp_path):
    def run(*callbacks):
        schedule = LRSchedule(Cosine(0.02))
        return train(TenSecondEpochs(clock), TimeBudget(45.0), schedule, *callbacks, epochs=10)

    _, whole = run()
    path = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        run(StopAt(3), Checkpoint(path))  # the checkpoint holds epoch 2: 20 s spent, plan 4
    _, resumed = run(Checkpoint(path, resume_from=path))
    assert len(resumed) == len(whole) == 4
    assert resumed.lr == whole.lr


def test_time_budget_state_is_checked():
    for bad in (
        {},
        {"spent": -1.0, "planned": None},
        {"spent": math.nan, "planned": None},
        {"spent": "1", "planned": None},
        {"spent": 1.0, "planned": 0},
        {"spent": 1.0, "planned": 2.5},
        {"spent": 1.0},
    ):
        with pytest.raises(ValueError, match="time budget state"):
            TimeBudget(1.0).load_state_dict(bad)
    with pytest.raises(ValueError, match="seconds must be a positive number"):
        TimeBudget(0)


def test_early_stopping_without_patience_keeps_the_best_epoch_and_never_stops():
    keeper = EarlyStopping(patience=None, monitor="val_loss")
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, run):
            snapshots[run.epoch] = run.model.flat.values.copy()

    model, history = train(Snapshot(), keeper, validation=True, epochs=12, lr=0.2)
    assert len(history) == 12 and not keeper.stopped
    assert keeper.best_epoch == int(np.argmin(history.val_loss)) + 1
    np.testing.assert_array_equal(model.flat.values, snapshots[keeper.best_epoch])


def test_early_stopping_state_round_trips_and_refuses_what_does_not_fit():
    stopper = EarlyStopping(patience=2, monitor="val_accuracy")
    weights = np.arange(3, dtype=np.float32)
    for epoch, value in enumerate([0.5, 0.7, 0.6], start=1):
        stopper.update(value, epoch, weights + epoch)
    state = stopper.state_dict()
    twin = EarlyStopping(patience=2, monitor="val_accuracy")
    twin.load_state_dict(state)
    assert (twin.best, twin.best_epoch, twin.wait, twin.stopped) == (0.7, 2, 1, False)
    np.testing.assert_array_equal(twin.best_values, weights + 2)
    assert twin.best_values is not state["best_values"]
    fresh = EarlyStopping().state_dict()
    assert fresh == {
        "best": None,
        "best_epoch": 0,
        "wait": 0,
        "stopped": False,
        "best_values": None,
    }
    bad_states = [
        {**state, "best_epoch": -1},
        {**state, "wait": 1.5},
        {**state, "best": None},
        {**state, "best": math.inf},
        {**state, "stopped": "no"},
        {**state, "best_values": [1.0]},
        {key: value for key, value in state.items() if key != "wait"},
    ]
    for bad in bad_states:
        with pytest.raises(ValueError, match="early stopping"):
            EarlyStopping(patience=2, monitor="val_accuracy").load_state_dict(bad)


def test_a_callback_without_state_refuses_one():
    Callback().load_state_dict({})
    with pytest.raises(ValueError, match="ProgressBar keeps no state"):
        ProgressBar().load_state_dict({"x": 1})
    assert Callback().get_config() is None and Callback().state_dict() == {}


def test_a_reused_early_stopping_starts_afresh_on_a_new_run():
    stopper = EarlyStopping(patience=1, monitor="val_loss")
    # As if it had watched another run: an unbeatable loss, the weights of another model.
    stopper.update(0.0, 1, np.zeros(3, dtype=np.float32))
    assert stopper.update(1.0, 2) and stopper.stopped
    model, history = train(stopper, validation=True, epochs=3, lr=1e-3)
    assert len(history) == 3 and not stopper.stopped
    assert stopper.best_epoch >= 1 and stopper.best_values.shape == model.flat.values.shape


def test_every_on_train_end_runs_when_one_fails():
    class FailingEnd(Callback):
        order = -1

        def on_train_end(self, run):
            raise RuntimeError("end failed")

    recorder = Recorder()
    with pytest.raises(RuntimeError, match="end failed"):
        train(FailingEnd(), recorder)
    assert recorder.log[-1] == ("recorder", "train_end", 2)

    class Boom(Callback):
        def on_epoch_end(self, run):
            raise KeyError("the first error")

    recorder = Recorder()
    with (
        pytest.warns(RuntimeWarning, match="FailingEnd.on_train_end failed"),
        pytest.raises(KeyError, match="the first error"),
    ):
        train(FailingEnd(), Boom(), recorder)
    assert recorder.log[-1] == ("recorder", "train_end", 1)


def test_early_stopping_with_min_delta_restores_the_best_epoch_not_the_last_big_improvement():
    # Each epoch after the first improves on the one before, but by less than min_delta:
    # patience runs out at epoch 4, and the weights kept are epoch 4's, the lowest loss.
    stopping = EarlyStopping(patience=3, min_delta=0.2)
    weights = np.zeros(2)
    stops = []
    for epoch, loss in enumerate([1.0, 0.95, 0.9, 0.85], start=1):
        weights[:] = epoch
        stops.append(stopping.update(loss, epoch, weights))
    assert stops == [False, False, False, True]
    assert stopping.best_epoch == 4 and stopping.best == 0.85
    weights[:] = -1
    assert stopping.restore(weights)
    np.testing.assert_array_equal(weights, [4.0, 4.0])


def test_early_stopping_min_delta_still_resets_patience_on_a_big_enough_improvement():
    stopping = EarlyStopping(patience=2, min_delta=0.1)
    losses = [1.0, 0.95, 0.8, 0.79, 0.78]  # 0.8 beats 0.95 by more than 0.1: wait resets
    stops = [stopping.update(loss, epoch) for epoch, loss in enumerate(losses, start=1)]
    assert stops == [False, False, False, False, True]
    assert stopping.best_epoch == 5
