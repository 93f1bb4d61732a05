"""The BLAS thread chooser: it keeps the count whose steps are fastest, gives a count that
lost fewer and fewer tries, follows load that comes and goes, pins on request, and hands the
caller's BLAS setting back."""

import re
import threading

import numpy as np
import pytest
from threadpoolctl import ThreadpoolController

from neural_network import Adam, build_mlp, evaluate, fit
from neural_network.core import threads
from neural_network.core.layers import Layer
from neural_network.core.model import Sequential
from neural_network.core.threads import (
    MAX_BACKOFF,
    MAX_THREADS,
    ThreadChooser,
    blas_thread_limit,
    candidate_counts,
    check_threads,
)
from neural_network.train.history import History


@pytest.fixture(autouse=True)
def no_earlier_choice(monkeypatch):
    monkeypatch.setattr(threads, "_latest_choice", None)


class FakeCores:
    """The cores' idle clock as ``machine_idle`` reads it: ``spare`` cores stand idle while
    the fake steps run (none is read unless a test installs it)."""

    def __init__(self, spare: float | None = None):
        self.spare, self.clock, self.idle = spare, 0.0, 0.0

    def advance(self, seconds: float) -> None:
        self.clock += seconds
        self.idle += (self.spare or 0.0) * seconds

    def __call__(self):
        return None if self.spare is None else (self.clock, self.idle)


@pytest.fixture(autouse=True)
def cores(monkeypatch) -> FakeCores:
    """By default the system tells nothing of idle cores, so only step times decide."""
    fake = FakeCores()
    monkeypatch.setattr(threads, "machine_idle", fake)
    return fake


def run_steps(chooser: ThreadChooser, seconds_by_count, steps: int, cores=None) -> list[int]:
    """Drive ``chooser`` for ``steps`` steps that take ``seconds_by_count(count)``."""
    used = []
    for _ in range(steps):
        count = chooser.before_step()
        used.append(count)
        seconds = seconds_by_count(count)
        if cores is not None:
            cores.advance(seconds)
        chooser.after_step(seconds)
    return used


@pytest.mark.parametrize("value", ["auto", 1, 3, "2"])
def test_valid_settings(value):
    assert check_threads(value) == (value if value == "auto" else int(value))


@pytest.mark.parametrize("value", [np.int64(2), np.uint8(3), "0012"])
def test_integers_of_any_integer_type_are_settings(value):
    assert check_threads(value) == int(value) and type(check_threads(value)) is int


@pytest.mark.parametrize(
    "value",
    [0, -1, True, np.True_, 1.5, "many", "", None, "0", "²", "-2", " 2", 10**30, str(10**30),
     MAX_THREADS + 1, np.int64(-3)],
)  # fmt: skip
def test_invalid_settings_name_the_argument(value):
    message = f"threads must be 'auto' or a positive integer up to {MAX_THREADS}; got "
    with pytest.raises(ValueError, match=re.escape(message + repr(value))):
        check_threads(value)


def test_a_huge_count_is_refused_before_it_reaches_the_blas_library(rng):
    model = build_mlp(8, [4], 3, rng=rng)
    x, labels = rng.normal(size=(10, 8)).astype(np.float32), rng.integers(0, 3, 10)
    with pytest.raises(ValueError, match="threads must be"):
        fit(model, x, labels, optimizer=Adam(model.flat), epochs=1, threads=10**30)
    with pytest.raises(ValueError, match="threads must be"):
        evaluate(model, x, labels, threads=10**30)


@pytest.mark.parametrize(
    ("cores", "counts"),
    [(1, [1]), (2, [1, 2]), (3, [1, 2, 3]), (6, [1, 2, 4, 6]), (8, [1, 2, 4, 8])],
)
def test_candidate_counts(cores, counts):
    assert candidate_counts(cores) == counts


@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (2, 1)])
def test_auto_keeps_the_faster_count(fast, slow):
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        used = run_steps(chooser, {fast: 0.01, slow: 0.012}.__getitem__, 50)
    assert used[-40:] == [fast] * 40
    assert chooser.threads == fast
    assert chooser.probe_times == pytest.approx({fast: 0.01, slow: 0.012})


def test_a_count_that_only_looked_fast_while_timed_is_given_up():
    two_thread_steps = []

    def seconds(count):
        if count == 1:
            return 0.01
        two_thread_steps.append(1)
        return 0.005 if len(two_thread_steps) <= 3 else 0.05  # its luck ran out

    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        used = run_steps(chooser, seconds, 60)
    assert chooser.threads == 1 and used[-20:] == [1] * 20
    assert used.count(2) <= 3 + 16  # the probes, then one window of steps


def test_a_much_slower_count_costs_one_step_per_check():
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        used = run_steps(chooser, {1: 0.01, 2: 0.3}.__getitem__, 20)
    assert used.count(2) == 1 and used[-10:] == [1] * 10


def test_a_losing_count_is_tried_less_and_less_often():
    with ThreadChooser("auto", cores=2) as chooser:
        epochs, steps_per_epoch = 40, 100
        used = []
        for _ in range(epochs):
            chooser.begin_epoch()
            used += run_steps(chooser, {1: 0.01, 2: 0.3}.__getitem__, steps_per_epoch)
    tries = [step for step, count in enumerate(used) if count == 2]
    gaps = np.diff(tries)
    assert len(tries) <= 8  # 1 + log2(4000 / 128) or so, never once per epoch
    assert (np.diff(gaps) >= 0).all() and gaps[-1] <= MAX_BACKOFF + steps_per_epoch


def test_load_that_comes_and_goes_is_followed():
    load = {"busy": False}

    def seconds(count):
        if load["busy"]:
            return {1: 0.012, 2: 0.08}[count]
        return {1: 0.012, 2: 0.007}[count]

    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        run_steps(chooser, seconds, 100)
        assert chooser.threads == 2
        load["busy"] = True  # two-thread steps slow down: fewer threads are tried at once
        run_steps(chooser, seconds, 100)
        assert chooser.threads == 1
        load["busy"] = False  # one-thread steps do not get faster: a later epoch tries two
        for _ in range(2):
            chooser.begin_epoch()
            run_steps(chooser, seconds, 150)
        assert chooser.threads == 2


def test_steps_that_get_faster_make_it_try_more_threads_within_the_epoch():
    speed = {"one": 0.02}
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        run_steps(chooser, lambda count: speed["one"] if count == 1 else 0.3, 100)
        assert chooser.threads == 1
        speed["one"] = 0.01  # its core came free; now two threads are fastest
        used = run_steps(chooser, lambda count: speed["one"] if count == 1 else 0.006, 200)
    assert chooser.threads == 2 and used[-10:] == [2] * 10


def test_load_leaving_is_noticed_long_before_a_long_wait_ends():
    speed = {"one": 0.02, "two": 0.3}
    with ThreadChooser("auto", cores=2) as chooser:
        for _ in range(30):  # two threads lose again and again: their wait grows long
            chooser.begin_epoch()
            run_steps(chooser, lambda count: speed["one"] if count == 1 else speed["two"], 100)
        assert chooser._backoff[2] == MAX_BACKOFF
        speed.update(one=0.01, two=0.006)  # the other program ended
        used = run_steps(chooser, lambda count: speed["one"] if count == 1 else speed["two"], 400)
    assert chooser.threads == 2 and used[-100:] == [2] * 100


def test_a_challenger_is_judged_against_the_steps_of_the_count_it_replaced():
    # One thread ran steadily at 0.01 but its timed step in the next check was slow (0.05);
    # two threads were timed at 0.03, then settle at 0.02: slower than one thread really is.
    step = {"n": 0}

    def seconds(count):
        step["n"] += 1
        if count == 1:
            return 0.05 if step["n"] == 101 else 0.01
        return 0.03 if step["n"] <= 102 else 0.02

    with ThreadChooser("auto", cores=2) as chooser:
        chooser.threads = 1
        chooser._eligible_at[2] = 10**9  # one thread alone for the first 100 steps
        chooser.begin_epoch()
        run_steps(chooser, seconds, 100)
        chooser._eligible_at[2] = 0
        chooser.begin_epoch()
        used = run_steps(chooser, seconds, 60)
    assert used[:2] == [1, 2]  # the check: one thread timed slow, two threads taken
    assert chooser.threads == 1 and used[-20:] == [1] * 20


def burst_of_load(chooser: ThreadChooser, cores: FakeCores) -> None:
    """Another program holds the second core for many epochs: two threads lose again and
    again (a step of theirs costs 23 of one thread's), and their wait grows to the longest."""
    cores.spare = 0.0
    for _ in range(30):
        chooser.begin_epoch()
        run_steps(chooser, {1: 0.005, 2: 0.116}.__getitem__, 100, cores)
    assert chooser.threads == 1 and chooser._backoff[2] == MAX_BACKOFF


def test_a_core_left_idle_is_used_again_within_the_epoch(cores):
    # One thread's steps do not get faster when the other program ends, so only the idle
    # core tells that two threads are worth trying again.
    with ThreadChooser("auto", cores=2) as chooser:
        burst_of_load(chooser, cores)
        cores.spare = 1.0  # the other program ended
        used = run_steps(chooser, {1: 0.005, 2: 0.0035}.__getitem__, 300, cores)
    assert chooser.threads == 2 and used[-150:] == [2] * 150


def test_without_idle_cores_more_threads_wait_as_before(cores):
    with ThreadChooser("auto", cores=2) as chooser:
        burst_of_load(chooser, cores)
        cores.spare = 0.1  # the other program still holds most of its core
        used = run_steps(chooser, {1: 0.005, 2: 0.116}.__getitem__, 1500, cores)
    assert used.count(2) == 0


def test_idle_cores_that_mislead_are_trusted_less_and_less(cores):
    # The system says a core is idle, yet two threads are always slow (a CPU quota, say).
    cores.spare = 1.0
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        used = run_steps(chooser, {1: 0.01, 2: 0.3}.__getitem__, 4200, cores)
    tries = [step for step, count in enumerate(used) if count == 2]
    gaps = np.diff(tries)
    assert 3 <= len(tries) <= 8 and chooser.threads == 1
    assert (np.diff(gaps) >= 0).all() and gaps[-1] <= MAX_BACKOFF + 2 * threads.DRIFT_WINDOW


def test_idle_cores_count_only_when_they_had_room_for_the_next_count(cores):
    # Half a core idle (a program that runs now and then) is not room for a second thread.
    cores.spare = 0.5
    with ThreadChooser("auto", cores=2) as chooser:
        burst_of_load(chooser, cores)
        cores.spare = 0.5
        used = run_steps(chooser, {1: 0.005, 2: 0.0035}.__getitem__, 1000, cores)
    assert used.count(2) == 0


def test_idle_ticks_sums_the_idle_and_io_wait_of_the_cores_given():
    stat = (
        "cpu  10 0 5 300 7 0 0 0 0 0\n"
        "cpu0 4 0 2 100 3 0 0 0 0 0\n"
        "cpu1 3 0 2 120 1 0 0 0 0 0\n"
        "cpu12 3 0 1 80 3 0 0 0 0 0\n"
        "intr 5 0 0\n"
    )
    assert threads.idle_ticks(stat, {0, 12}) == 100 + 3 + 80 + 3
    assert threads.idle_ticks(stat, {1}) == 121
    assert threads.idle_ticks(stat, {0, 5}) is None  # a core the text does not list
    assert threads.idle_ticks("", set()) is None


def test_noisy_steps_alone_do_not_make_it_try_more_threads():
    noise = np.random.default_rng(0)
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        # A slow first step (warming up), then steps within 20% of each other.
        run_steps(chooser, lambda count: 0.3 if count == 2 else 0.05, 2)
        used = run_steps(chooser, lambda c: 0.3 if c == 2 else 0.01 * noise.uniform(0.9, 1.1), 120)
    assert used.count(2) == 0


def test_pinned_count_is_never_changed():
    with ThreadChooser(3) as chooser:
        chooser.begin_epoch()
        used = run_steps(chooser, lambda count: 0.01 * count, 30)
        assert used == [3] * 30 and not chooser.automatic
        assert chooser.epoch_summary() == (3, pytest.approx(0.03))


def test_short_steps_do_not_count_for_the_choice():
    with ThreadChooser("auto", cores=2) as chooser:
        chooser.begin_epoch()
        for _ in range(3):  # the last, smaller batches of an epoch, say
            chooser.before_step()
            chooser.after_step(1e-6, comparable=False)
        assert chooser.probe_times == {}


def blas_threads_now() -> int:
    return ThreadpoolController().select(user_api="blas").info()[0]["num_threads"]


def test_the_blas_setting_is_applied_and_then_restored():
    before = blas_threads_now()
    with ThreadChooser(1) as chooser:
        assert blas_threads_now() == 1
        chooser.before_step()
        assert blas_threads_now() == 1
    assert blas_threads_now() == before


def test_auto_tries_no_more_threads_than_the_blas_library_allows():
    with ThreadpoolController().limit(limits=1, user_api="blas"):
        assert blas_thread_limit() == 1
        assert ThreadChooser("auto").candidates == [1]


def test_runs_that_overlap_in_two_threads_hand_back_the_callers_setting():
    """Run A (one thread) starts, B starts in another thread while A has set its count, A
    ends, then B ends: the caller's count comes back, and later "auto" runs may use it all."""
    entered, a_done = threading.Event(), threading.Event()
    seen = {}

    def run_b():
        entered.wait()
        with ThreadChooser("auto") as chooser:
            seen["b_limit"] = max(chooser.candidates)
            a_done.set()
            for _ in range(40):
                chooser.before_step()
                chooser.after_step(0.01)

    with ThreadpoolController().limit(limits=2, user_api="blas"):
        b = threading.Thread(target=run_b)
        b.start()
        with ThreadChooser(1) as chooser:
            chooser.before_step()
            entered.set()
            a_done.wait()
        b.join()
        assert blas_threads_now() == 2
        assert blas_thread_limit() == 2
        assert max(ThreadChooser("auto").candidates) == min(2, threads.available_cores())
        # The same in one thread, with lifetimes that overlap without nesting.
        first = ThreadChooser(1).__enter__()
        second = ThreadChooser("auto").__enter__()
        assert max(second.candidates) == min(2, threads.available_cores())
        first.__exit__(None, None, None)
        second.__exit__(None, None, None)
        assert blas_threads_now() == 2
    assert seen["b_limit"] == 1  # B followed A's count, which it could not change


class BlasProbe(Layer):
    """The identity, recording how many BLAS threads each forward pass ran with."""

    def __init__(self):
        self.seen: list[int] = []

    def forward(self, x, *, training=False):
        self.seen.append(blas_thread_limit())
        return x

    def backward(self, grad_out, *, input_grad=True):
        return grad_out


def probe_model(rng):
    model = build_mlp(8, [16], 3, rng=rng)
    probe = BlasProbe()
    return Sequential([probe, *model.layers]), probe


def test_fit_records_the_count_and_step_time_of_every_epoch(rng):
    model, probe = probe_model(rng)
    x, labels = rng.normal(size=(100, 8)).astype(np.float32), rng.integers(0, 3, 100)
    history = fit(model, x, labels, optimizer=Adam(model.flat), epochs=3, batch_size=20, rng=rng,
                  validation_data=(x[:10], labels[:10]), threads=1)  # fmt: skip
    assert history.threads == [1, 1, 1]
    assert len(history.step_time) == 3 and all(s > 0 for s in history.step_time)
    assert set(probe.seen) == {1}  # training and validation alike
    # Prediction and evaluation afterwards follow the run's choice.
    probe.seen.clear()
    model.predict(x)
    evaluate(model, x, labels)
    assert set(probe.seen) == {1}


def test_evaluate_can_pin_its_own_count(rng):
    model, probe = probe_model(rng)
    x, labels = rng.normal(size=(50, 8)).astype(np.float32), rng.integers(0, 3, 50)
    evaluate(model, x, labels, batch_size=10, threads=1)
    assert set(probe.seen) == {1}


def test_fit_refuses_a_bad_thread_setting(rng):
    model = build_mlp(8, [4], 3, rng=rng)
    x, labels = rng.normal(size=(10, 8)).astype(np.float32), rng.integers(0, 3, 10)
    with pytest.raises(ValueError, match="threads must be"):
        fit(model, x, labels, optimizer=Adam(model.flat), epochs=1, threads=0)


def test_a_history_from_before_threads_were_recorded_reads_and_continues():
    old = History(epoch=[1, 2], train_loss=[1.0, 0.5], train_accuracy=[0.5, 0.7], lr=[0.1] * 2,
                  grad_norm=[1.0] * 2, epoch_time=[0.1] * 2).to_dict()  # fmt: skip
    del old["threads"], old["step_time"]
    history = History.from_dict(old)
    assert history.threads == [] and history.step_time == []
    history.epoch.append(3)
    history.record_threads(2, 0.01)
    assert history.threads == [0, 0, 2] and history.step_time == [0, 0, 0.01]
