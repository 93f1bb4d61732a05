"""The optimiser's element-wise passes as compiled loops (Numba), when Numba is installed.

NumPy runs an expression one operation at a time, each a whole pass over its vectors:
Adam's update in :class:`~neural_network.optim.optimizers.Adam` is ten passes over the
model's flat buffers, and adding the L2 gradient two more. On a CPU the buffers of an MLP
fit in cache, so each pass costs the arithmetic of one core on one operation plus the
reading and writing of whole vectors. A loop compiled by Numba does all of an update's
operations on each element before moving to the next, in one pass, and LLVM vectorises it.

The numbers are the same as NumPy's, bit for bit: each loop performs the same floating-point
operations, in the same order and precision, as the NumPy code it replaces (scalars are cast
to the buffers' dtype first, as NumPy casts a Python float). Numba compiles without
``fastmath``, so LLVM neither fuses a multiply and an add into one rounding nor reorders
anything, and with ``error_model="numpy"`` a division by zero gives ``inf`` as NumPy does
instead of raising. A test runs both on the same machine and compares the bits.

Numba is optional (``pip install "neural-network[fast]"``). Without it, with
``NUMBA_DISABLE_JIT=1``, or with ``NEURAL_NETWORK_KERNELS=numpy`` in the environment, the
optimisers run their NumPy code. Arrays that are not NumPy arrays (CuPy's, on a GPU) always
take the NumPy code, which CuPy runs (:mod:`neural_network.optim.cuda_kernels` fuses it there).
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

import numpy as np

# Set to False to run the NumPy code even with Numba installed (the tests compare the two).
ENABLED = True
# Importing Numba and loading (or compiling) the loops takes a few tenths of a second once per
# process; a step over fewer values than this saves too little to pay that back soon.
MIN_SIZE = 100_000


def kernels_for(*arrays: object) -> SimpleNamespace | None:
    """The compiled kernels if they can run on ``arrays``, else ``None`` (use NumPy).

    They run on contiguous float32 or float64 NumPy arrays of at least ``MIN_SIZE`` values
    when Numba is installed and enabled; the first call imports Numba and compiles (or loads
    from Numba's cache).
    """
    if not ENABLED or not arrays:
        return None
    for array in arrays:
        if (
            type(array) is not np.ndarray  # a GPU array: CuPy runs the NumPy code
            or array.dtype not in (np.float32, np.float64)
            or not array.flags.c_contiguous
        ):
            return None
    if arrays[0].size < MIN_SIZE:
        return None
    return compiled()


@functools.cache
def compiled() -> SimpleNamespace | None:
    """The compiled loops (``add_scaled``, ``adam_update``, ``sgd_update``, ``flush_tiny``),
    or ``None`` without Numba; the first call imports Numba and compiles them."""
    if os.environ.get("NEURAL_NETWORK_KERNELS", "").lower() == "numpy":
        return None
    try:
        import numba
    except ImportError:
        return None
    if numba.config.DISABLE_JIT:  # the loops would run as Python, element by element
        return None
    try:
        return _define(numba, cache=True)
    except RuntimeError:  # no writable place for Numba's cache: compile in memory only
        return _define(numba, cache=False)


def _define(numba, *, cache: bool) -> SimpleNamespace:
    jit = numba.njit(nogil=True, error_model="numpy", cache=cache)

    @jit
    def add_scaled(target, source, scale):  # target += source * scale
        for i in range(target.size):
            target[i] = target[i] + source[i] * scale

    @jit
    def adam_update(w, g, m_sum, v_sum, beta1, beta2, eps_t, step_size):
        # Adam._update_arrays' ten passes, per element, in their order.
        for i in range(w.size):
            gi = g[i]
            m = m_sum[i] * beta1 + gi
            v = v_sum[i] * beta2 + gi * gi
            m_sum[i] = m
            v_sum[i] = v
            w[i] = w[i] - m / (np.sqrt(v) + eps_t) * step_size

    @jit
    def sgd_update(w, g, velocity, momentum, lr, nesterov):
        # SGD._update_arrays' passes, per element; momentum 0 leaves the velocity alone.
        for i in range(w.size):
            gi = g[i]
            if momentum != 0:
                vel = velocity[i] * momentum + gi
                velocity[i] = vel
                gi = vel * momentum + gi if nesterov else vel
            w[i] = w[i] - gi * lr

    @jit
    def flush_tiny(array, threshold):  # denormals.flush_tiny without its scratch pass
        for i in range(array.size):
            if abs(array[i]) < threshold:
                array[i] = 0

    return SimpleNamespace(
        add_scaled=add_scaled,
        adam_update=adam_update,
        sgd_update=sgd_update,
        flush_tiny=flush_tiny,
    )
