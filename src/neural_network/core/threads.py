"""How many threads the BLAS library (NumPy's matrix products) may use, chosen by timing.

A multi-threaded matrix product splits its work evenly over its threads. When another
program holds one of the cores, every product waits for the share of the descheduled
thread, and training can run many times slower than on one thread. So with
``threads="auto"`` a :class:`ThreadChooser` times a few training steps (or inference
batches) with each candidate count and keeps the fastest. It checks again at the start of
epochs and when the step time drifts; a count that lost waits longer and longer before it
is tried again, since one step on too many threads can cost tens of ordinary ones on a busy
machine. Where the system tells how long each core has been idle (Linux), a run on fewer
threads than cores also watches the cores it leaves: when they have stood idle (the other
program ended), more threads are tried at once, whatever the wait, since the steps of one
thread do not get faster when a second core comes free. An integer pins the count.

The bits of a product depend on the BLAS thread count, so ``"auto"`` reproduces a run to
rounding only; pin ``threads`` (any integer) for bit-identical runs and resumes. The counts
are set through threadpoolctl, and the caller's setting comes back when a chooser is done.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

ThreadsSetting = int | str

# Each candidate is timed on up to this many steps per check; one whose mean is 1.5 times the
# best after any round is dropped, so a bad count costs about one step per check. Means, not
# medians: on a shared core the steps of too many threads have a long tail of stalls, and
# the tail is what an epoch pays.
PROBE_ROUNDS = 3
DROP_RATIO = 1.5
# Under contention one step on too many threads can cost tens of normal steps, so a count
# that lost waits this many steps before it is timed again, twice as long after every
# further loss, up to ``MAX_BACKOFF`` steps (a few epochs of MNIST).
FIRST_BACKOFF = 128
MAX_BACKOFF = 2048
# After a choice, the mean of the next ``DRIFT_WINDOW`` steps is the reference; if it is
# worse than the count it replaced ran at (over all its steps since it was chosen, or, if it
# was not run, as it was timed), that one is taken back (a few timed steps can flatter a
# count). When the median of the latest steps moves this far from the
# reference (checked at most once per ``MIN_STEPS_BETWEEN_CHECKS`` steps), the counts that
# may now do better are timed: fewer threads at once when steps got slower (load came; trying
# fewer costs little), more when they got faster (load went) and they lost at least
# ``FIRST_BACKOFF`` steps ago, however long their wait.
DRIFT_WINDOW = 16
DRIFT_RATIO = 1.3
MIN_STEPS_BETWEEN_CHECKS = 64
# A run on fewer threads than cores reads the cores' idle time every
# ``MIN_STEPS_BETWEEN_CHECKS`` steps. If they were idle this share of the time for each thread
# more (a core left free by a burst of load that is over), more threads are timed at once,
# however long their wait. A load that comes and goes this fast, or a system whose idle time
# misleads (a container's CPU quota), could make that try lose every time: after each such
# loss the next try on idle cores waits twice as long, from ``MIN_STEPS_BETWEEN_CHECKS`` steps
# up to ``MAX_BACKOFF``.
SPARE_CORE_SHARE = 0.75

_controller: ThreadpoolController | None = None
# The count the latest choice settled on: inference after training starts there.
_latest_choice: int | None = None
# The choosers in use (innermost last): inference inside a training run follows its count.
_active: list[ThreadChooser] = []
# The BLAS count is one per process. The thread whose choosers set it (the first to enter
# one while none was in use), and the count the BLAS had then: the caller's setting, which
# "auto" tries no more than and which comes back when that thread's last chooser is done.
# Choosers entered meanwhile in other threads run with its count and change nothing, so
# that overlapping runs cannot hand each other's temporary counts back as the setting.
_owner: threading.Thread | None = None
_outer_limit: int | None = None
_outer_limiter = None
_lock = threading.RLock()
# More threads than any machine this runs on has: a larger count is surely a mistake (and
# does not fit the BLAS library's C int).
MAX_THREADS = 4096


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity call on macOS and Windows
        return os.cpu_count() or 1


def blas_thread_limit() -> int:
    """The threads the BLAS library may use now (``OPENBLAS_NUM_THREADS`` sets it at start)."""
    counts = [lib.get_num_threads() for lib in _blas().lib_controllers]
    return max(1, min((c for c in counts if c), default=1))


def check_threads(threads: object) -> ThreadsSetting:
    """``"auto"`` or an integer from 1 to ``MAX_THREADS`` (a NumPy integer, or a string of
    ASCII digits as a command line gives), else a ValueError naming the value given."""
    if isinstance(threads, str) and threads == "auto":
        return "auto"
    count = None
    if isinstance(threads, numbers.Integral) and not isinstance(threads, bool):
        count = int(threads)  # np.bool_ is not Integral
    elif isinstance(threads, str) and threads.isascii() and threads.isdigit():
        count = int(threads)
    if count is None or not 1 <= count <= MAX_THREADS:
        raise ValueError(
            f"threads must be 'auto' or a positive integer up to {MAX_THREADS}; got {threads!r}"
        )
    return count


def candidate_counts(cores: int) -> list[int]:
    """The counts ``"auto"`` times: 1, 2, 4, ... and ``cores`` itself."""
    counts, count = [], 1
    cores = max(1, cores)
    while count < cores:
        counts.append(count)
        count *= 2
    return [*counts, cores]


def _callers_limit() -> int:
    """:func:`blas_thread_limit` as the caller set it: while choosers run, the count from
    before the first of them, not one they set."""
    with _lock:
        if _active and _outer_limit is not None:
            return _outer_limit
        return blas_thread_limit()


def machine_idle() -> tuple[float, float] | None:
    """A clock reading and the seconds the cores this process may run on have been idle
    (Linux's ``/proc/stat``), or None where the system does not say."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            text = stat.read()
        cores = os.sched_getaffinity(0)
        ticks_per_s = os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, ValueError):
        return None
    idle = idle_ticks(text, cores)
    return None if idle is None else (time.monotonic(), idle / ticks_per_s)


def idle_ticks(stat_text: str, cores: set[int]) -> int | None:
    """The idle and I/O-wait ticks of ``cores`` summed from the text of ``/proc/stat``
    (lines ``cpuN user nice system idle iowait ...``); None if a core has no line."""
    ticks = {}
    for line in stat_text.splitlines():
        name, _, fields = line.partition(" ")
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            values = fields.split()
            if len(values) >= 5:
                ticks[int(name[3:])] = int(values[3]) + int(values[4])
    return sum(ticks.values()) if cores and len(ticks) == len(cores) else None


def set_blas_threads(count: int) -> None:
    """Let the BLAS library use ``count`` threads from now on."""
    _blas().limit(limits=count)


class ThreadChooser:
    """Chooses the BLAS thread count from the measured time of the steps it runs.

    Call :meth:`begin_epoch` at each epoch, then around every step :meth:`before_step`
    (which sets the count for it) and :meth:`after_step` with the step's seconds. Use it as
    a context manager: the caller's BLAS setting comes back on exit.

    Args:
        threads: ``"auto"`` or the number of threads to pin.
        cores: The most threads to try; by default the cores this process may use, but no
            more than the BLAS library allows at the start (``OPENBLAS_NUM_THREADS=1`` set
            before Python started means one).
    """

    def __init__(self, threads: ThreadsSetting = "auto", *, cores: int | None = None):
        self.setting = check_threads(threads)
        if self.setting == "auto":
            limit = cores or min(available_cores(), _callers_limit())
            self.candidates = candidate_counts(limit)
            start = _latest_choice if _latest_choice in self.candidates else self.candidates[-1]
        else:
            self.candidates, start = [self.setting], self.setting
        self.threads = start
        self.probe_times: dict[int, float] = {}
        self._probes: dict[int, list[float]] = {}
        self._queue: list[int] = []
        self._reference: float | None = None
        self._window: deque[float] = deque(maxlen=DRIFT_WINDOW)
        self._since_check = 0
        self._step = 0
        self._backoff = dict.fromkeys(self.candidates, 0)
        self._eligible_at = dict.fromkeys(self.candidates, 0)
        self._lost_at = dict.fromkeys(self.candidates, -FIRST_BACKOFF)
        self._epoch_steps: list[tuple[int, float]] = []
        # The current count's steps since it was chosen, and the count it replaced with the
        # mean time of its own such steps.
        self._run_total, self._run_steps = 0.0, 0
        self._replaced: tuple[int, float] | None = None
        self._applied: int | None = None
        self._controls = True
        # The cores' idle clock when last read and the step then; whether the check in
        # progress was started by idle cores, and how many such checks lost in a row.
        self._idle_mark: tuple[float, float] | None = None
        self._idle_mark_step = 0
        self._idle_check = False
        self._idle_misses = 0

    @property
    def automatic(self) -> bool:
        return len(self.candidates) > 1

    def __enter__(self) -> ThreadChooser:
        global _latest_choice, _owner, _outer_limit, _outer_limiter
        with _lock:
            this_thread = threading.current_thread()
            if _owner is not None and _owner is not this_thread and _owner.is_alive():
                # Another thread's run sets the count: follow it, set nothing.
                self._controls = False
                self.candidates = [blas_thread_limit()]
                self.threads = self._applied = self.candidates[0]
                _active.append(self)
                return self
            self._controls = True
            if not self.automatic:
                _latest_choice = self.threads
            if _owner is not this_thread:
                _owner, _outer_limit = this_thread, blas_thread_limit()
                # Entered, so that threadpoolctl lets other threads set limits after the
                # exit; its exit gives the caller's setting back.
                _outer_limiter = _blas().limit(limits=self.threads).__enter__()
            else:
                set_blas_threads(self.threads)
            self._applied = self.threads
            _active.append(self)
        return self

    def __exit__(self, *exc_info) -> None:
        global _owner, _outer_limiter
        with _lock:
            if self not in _active:
                return
            _active.remove(self)
            self._applied = None
            if not self._controls:
                return
            still_running = [chooser for chooser in _active if chooser._controls]
            if still_running:  # the latest one still in use goes on with its count
                count = still_running[-1]._applied
                if count is not None:
                    set_blas_threads(count)
            elif _outer_limiter is not None:
                _outer_limiter.__exit__(None, None, None)
                _outer_limiter, _owner = None, None

    def begin_epoch(self) -> None:
        """Forget the last epoch's steps; time again the counts whose wait is over."""
        self._epoch_steps = []
        self._start_check()

    def before_step(self) -> int:
        """Set and return the thread count for the coming step."""
        count = self._queue[0] if self._queue else self.threads
        if count != self._applied and self._controls:
            set_blas_threads(count)
            self._applied = count
        return count

    def after_step(self, seconds: float, *, comparable: bool = True) -> None:
        """Record a step's time; ``comparable=False`` for one that is not a full batch."""
        count = self._applied if self._applied is not None else self.threads
        self._epoch_steps.append((count, seconds))
        self._step += 1
        if not comparable or not self.automatic:
            return
        if self._queue:
            self._record_probe(self._queue.pop(0), seconds)
            return
        self._window.append(seconds)
        self._run_total += seconds
        self._run_steps += 1
        self._since_check += 1
        if len(self._window) < DRIFT_WINDOW:
            return
        recent = statistics.median(self._window)
        if self._reference is None:
            self._confirm_choice(statistics.fmean(self._window))
        elif self._since_check >= MIN_STEPS_BETWEEN_CHECKS:
            if recent > self._reference * DRIFT_RATIO:
                self._start_check([c for c in self.candidates if c < self.threads])
            elif recent < self._reference / DRIFT_RATIO:
                since = {c: self._step - self._lost_at[c] for c in self.candidates}
                more = [c for c in self.candidates if c > self.threads]
                self._start_check([c for c in more if since[c] >= FIRST_BACKOFF])
            elif self._cores_left_idle():
                self._start_check([c for c in self.candidates if c > self.threads], idle=True)

    def epoch_summary(self) -> tuple[int, float]:
        """The count that ran most of this epoch's steps, and their median seconds."""
        if not self._epoch_steps:
            return self.threads, 0.0
        counts = [count for count, _ in self._epoch_steps]
        most = max(set(counts), key=counts.count)
        return most, statistics.median(s for count, s in self._epoch_steps if count == most)

    def _cores_left_idle(self) -> bool:
        """Whether the cores had room for the next larger count since the last reading
        (read at most once per ``MIN_STEPS_BETWEEN_CHECKS`` steps), and a try on idle cores
        is not waiting after losses."""
        more = [c for c in self.candidates if c > self.threads]
        if not more or self._step - self._idle_mark_step < MIN_STEPS_BETWEEN_CHECKS:
            return False
        mark, now = self._idle_mark, machine_idle()
        self._idle_mark, self._idle_mark_step = now, self._step
        if mark is None or now is None or now[0] <= mark[0]:
            return False
        spare = (now[1] - mark[1]) / (now[0] - mark[0])
        wait = min(MAX_BACKOFF, MIN_STEPS_BETWEEN_CHECKS << self._idle_misses)
        waited = self._step - self._lost_at[more[0]] >= wait
        return waited and spare >= SPARE_CORE_SHARE * (more[0] - self.threads)

    def _mark_idle(self) -> None:
        """Read the cores' idle clock now, if fewer threads than cores run."""
        below = self.automatic and self.threads < self.candidates[-1]
        self._idle_mark = machine_idle() if below else None
        self._idle_mark_step = self._step

    def _idle_check_done(self, won: bool) -> None:
        """Count a try on idle cores that lost; one that won clears the count."""
        if self._idle_check:
            self._idle_misses = 0 if won else min(self._idle_misses + 1, 32)
            self._idle_check = False

    def _start_check(self, due: list[int] | None = None, *, idle: bool = False) -> None:
        """Time the current count and ``due`` (by default those not waiting); ``idle``
        when idle cores prompted it."""
        self._window.clear()
        self._since_check = 0
        self._idle_check = idle
        self._mark_idle()
        if due is None:
            due = [c for c in self._waited() if c != self.threads]
        if not self.automatic or not due:
            return
        # The current count first: it is warm, and it is the one most likely kept.
        self._queue = [self.threads, *due]
        self._probes = {count: [] for count in self._queue}

    def _confirm_choice(self, steady: float) -> None:
        """Keep the choice if its steps since are as fast as the count it replaced."""
        others = {c: t for c, t in self.probe_times.items() if c != self.threads}
        if self._replaced is not None:
            others = dict([self._replaced])
        better = min(others, key=others.__getitem__, default=None)
        if better is None or others[better] >= steady:
            self._reference = statistics.median(self._window)
            self._idle_check_done(won=True)
            return
        self._idle_check_done(won=False)
        self._penalise(self.threads)
        self.probe_times[self.threads] = steady
        self.threads = better
        self._window.clear()
        self._run_total, self._run_steps, self._replaced = 0.0, 0, None
        self._mark_idle()
        global _latest_choice
        _latest_choice = better

    def _penalise(self, count: int) -> None:
        self._backoff[count] = min(MAX_BACKOFF, 2 * self._backoff[count] or FIRST_BACKOFF)
        self._eligible_at[count] = self._step + self._backoff[count]
        self._lost_at[count] = self._step

    def _waited(self) -> list[int]:
        return [c for c in self.candidates if self._eligible_at[c] <= self._step]

    def _record_probe(self, count: int, seconds: float) -> None:
        self._probes[count].append(seconds)
        if self._queue:
            return
        means = {c: statistics.fmean(times) for c, times in sorted(self._probes.items())}
        best = min(means.values())
        alive = [c for c, mean in means.items() if mean <= best * DROP_RATIO]
        rounds = max(len(times) for times in self._probes.values())
        if len(alive) > 1 and rounds < PROBE_ROUNDS:
            self._queue = list(alive)
            return
        self.probe_times = means
        winner = min(alive, key=means.__getitem__)
        self._replaced = None
        if winner <= self.threads:
            self._idle_check_done(won=False)
        if winner != self.threads:
            self._backoff = dict.fromkeys(self.candidates, 0)
            if self._run_steps >= DRIFT_WINDOW:
                self._replaced = (self.threads, self._run_total / self._run_steps)
        self._run_total, self._run_steps = 0.0, 0
        self.threads = winner
        for count in self._probes:
            if count != winner:
                self._penalise(count)
        self._reference = None  # set, or the choice undone, by the steps that follow
        self._window.clear()
        self._mark_idle()
        global _latest_choice
        _latest_choice = self.threads


@contextlib.contextmanager
def inference_threads(threads: ThreadsSetting = "auto") -> Iterator[ThreadChooser]:
    """A chooser for forward passes in batches. ``"auto"`` follows the training run in
    progress, else the latest choice made in this process, else it times the batches."""
    setting = check_threads(threads)
    if setting == "auto" and _active:
        setting = _active[-1].threads
    elif setting == "auto" and _latest_choice is not None:
        setting = _latest_choice
    with ThreadChooser(setting) as chooser:
        chooser.begin_epoch()
        yield chooser


def timed_batches(chooser: ThreadChooser, starts: range, batch_size: int, n: int):
    """``starts``, with each batch's thread count set before and its time recorded after."""
    for start in starts:
        chooser.before_step()
        began = time.perf_counter()
        yield start
        chooser.after_step(time.perf_counter() - began, comparable=start + batch_size <= n)
