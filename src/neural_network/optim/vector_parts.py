"""The optimiser's whole-vector work, cut into fixed parts that threads may share.

An update is a dozen element-wise passes over every parameter (half a million floats for
the classic MNIST network), each bound by how fast one core streams them, so on a machine
whose cores the thread chooser found free (:mod:`neural_network.core.threads`) the vectors
are cut into one part per thread the BLAS library was given, and each thread runs all the
passes over its part. Every element sees the same arithmetic whatever the count; only the
partial sums (the L2 penalty and the gradient norm) are added part by part, so, as with
the matrix products, a run's bits depend on the thread count: pin it for bit-identical runs.

One thread keeps whole vectors: cutting them into parts (or into cache-sized blocks) was
measured to be 15-20% slower on one core, since the passes already run near one core's
arithmetic speed with the vectors in the L2/L3 caches and each part adds NumPy calls.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..core.threads import active_threads

Result = TypeVar("Result")

# The most threads an update uses, and the smallest part worth a thread; parts start on
# multiples of ALIGN elements (64 bytes of float32).
MAX_PARTS = 8
MIN_PART = 65_536
ALIGN = 16

_pool: ThreadPoolExecutor | None = None
_pool_pid: int | None = None
_pool_lock = threading.Lock()


def vector_parts(n: int, threads: int | None = None) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges that cover ``range(n)``: one per thread (by default as many
    as the active thread chooser set, else one), at most one per ``MIN_PART`` elements and
    ``MAX_PARTS`` in all; about equal and aligned."""
    threads = active_threads() if threads is None else threads
    count = max(1, min(MAX_PARTS, threads, n // MIN_PART))
    bounds = [min(n, (n * i // count) // ALIGN * ALIGN) for i in range(count)] + [n]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _workers() -> ThreadPoolExecutor:
    """The shared pool of helper threads (a new one in a forked child, whose copy has none)."""
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(MAX_PARTS - 1, thread_name_prefix="neural_network-update")
            _pool_pid = os.getpid()
        return _pool


def run_parts(work: Callable[[int, int], Result], parts: list[tuple[int, int]]) -> list[Result]:
    """``work(start, stop)`` for every part, each on a thread of its own (this one takes
    the first); the results in part order."""
    if len(parts) == 1:
        return [work(*parts[0])]
    pool = _workers()
    futures = [pool.submit(work, a, b) for a, b in parts[1:]]
    return [work(*parts[0]), *(future.result() for future in futures)]
