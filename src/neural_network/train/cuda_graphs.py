"""Experimental, off by default: the training step captured once in a CUDA graph, then replayed.

Each kernel launch costs the CPU microseconds, and a step launches a few dozen kernels; a CUDA
graph (``cupy.cuda.Graph``) records the step's launches once and replays them all with one
call. A replay repeats every launch with the same arguments, so whatever changes from one
step to the next is read from device memory instead:

- the batch's sample indices, from a fixed buffer holding the epoch's order, at the row of a
  step counter that the graph itself increments;
- Adam's folded step size and eps (SGD's learning rate), from arrays filled once per epoch;
- the step writes its loss, correct count and gradient norm at the counter's slot.

The graph's temporaries come from a memory pool of its own that nothing else allocates from,
so no other array takes their memory while the graph lives, and everything runs on one CUDA
stream, so replays and ordinary launches keep their order.

Only with the fused kernels (Adam or SGD on CuPy), without dropout and without callbacks
that act on batches or steps; an epoch's last, smaller batch runs without the graph. It is
off until ``benchmarks/gpu_speed.py`` shows on a GPU that it is faster:
``use_cuda_graphs(True)`` turns it on for the following ``fit`` calls.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ..core.layers import Dropout
from ..optim.optimizers import Adam, Optimizer

_enabled = False


def use_cuda_graphs(enabled: bool = True) -> None:
    """Capture the training step in a CUDA graph in later ``fit`` calls on ``"cuda"``."""
    global _enabled
    _enabled = bool(enabled)


def can_capture(run, xp: ModuleType, fused: bool, hooks: list) -> bool:
    """Whether this run's steps can be replayed from a graph (see the module docstring)."""
    cuda = getattr(xp, "cuda", None)
    return (
        _enabled
        and fused
        and not hooks
        and hasattr(cuda, "Graph")
        and not any(isinstance(layer, Dropout) and layer.rate for layer in run.model.layers)
        and len(run.x) >= run.batch_size
    )


def per_step_scalars(optimizer: Optimizer, n_steps: int, dtype) -> np.ndarray:
    """``(2, n_steps)``: what the update kernel takes for each of the next ``n_steps`` steps:
    Adam's ``step_size`` and ``eps_t`` for step ``t``, or SGD's ``lr`` (and 0)."""
    start = optimizer.iterations
    scalars = np.zeros((2, n_steps), dtype=dtype)
    try:
        for k in range(n_steps):
            optimizer.iterations = start + k + 1
            optimizer._prepare_step()
            if isinstance(optimizer, Adam):
                scalars[:, k] = optimizer._step_size, optimizer._eps_t
            else:
                scalars[0, k] = optimizer.lr
    finally:
        optimizer.iterations = start
    return scalars


class GraphedEpochs:
    """Runs the full batches of each epoch by replaying one captured step.

    Args:
        xp: CuPy.
        optimizer: The run's optimiser (its step count is advanced here).
        n_samples: Training samples.
        batch_size: Samples per step.
        step: ``step(batch_indices, slot, scalars)``, one training step on the device that
            writes its records at ``slot`` and passes ``scalars`` (0-d arrays) to the update.
    """

    def __init__(
        self,
        xp: ModuleType,
        optimizer: Optimizer,
        n_samples: int,
        batch_size: int,
        step: Callable[[Any, Any, tuple[Any, Any]], None],
    ):
        self.xp, self.optimizer, self.step = xp, optimizer, step
        self.n_full = n_samples // batch_size
        self.order = xp.empty(n_samples, dtype=np.int64)
        self.order_steps = self.order[: self.n_full * batch_size].reshape(self.n_full, -1)
        self.scalars = xp.empty((2, self.n_full), dtype=optimizer.flat.dtype)
        self.counter = xp.zeros((), dtype=np.int64)
        self.stream = xp.cuda.Stream(non_blocking=True)
        self.pool = xp.cuda.MemoryPool()
        self.graph = None

    def __enter__(self) -> GraphedEpochs:
        # Everything from here on runs on this stream; the data copied before must be there.
        self.xp.cuda.get_current_stream().synchronize()
        self.stream.__enter__()
        return self

    def __exit__(self, *error) -> None:
        self.stream.__exit__(*error)
        self.stream.synchronize()

    def run_epoch(self, permutation: np.ndarray) -> None:
        """The epoch's full batches, in the order of ``permutation``."""
        xp = self.xp
        self.order[...] = xp.asarray(permutation)
        self.scalars[...] = xp.asarray(
            per_step_scalars(self.optimizer, self.n_full, self.scalars.dtype)
        )
        self.counter.fill(0)
        replays = self.n_full
        if self.graph is None:
            with xp.cuda.using_allocator(self.pool.malloc):
                self._step()  # a real first step, which also compiles every kernel
                self.stream.begin_capture()
                try:
                    self._step()
                except Exception:
                    self.stream.end_capture()
                    raise
                self.graph = self.stream.end_capture()
            replays -= 1
        for _ in range(replays):
            self.graph.launch(self.stream)
        self.optimizer.iterations += self.n_full

    def _step(self) -> None:
        counter = self.counter
        batch = np.take(self.order_steps, counter, axis=0)
        self.step(batch, counter, (self.scalars[0][counter], self.scalars[1][counter]))
        counter += 1
