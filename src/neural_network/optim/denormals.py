"""Keeping float32 training out of the denormal range.

NumPy has no flush-to-zero switch, and arithmetic on denormals (``|x| < 1.2e-38`` in
float32) runs up to 20 times slower than on normal numbers. They arise on their own in an
MLP: the weights of an input that is always 0 (67 MNIST pixels are) or of a dead ReLU unit
see only the L2 gradient ``l2 * w`` and shrink geometrically, and so do their Adam moments.

So every ``FLUSH_EVERY`` steps the optimisers set such values to exactly 0 (their L2
optimum), before anything derived from them (``l2 * w``, ``g**2``, ``w * x``) can underflow.
The thresholds are far below what float32 resolves next to the values they are added to, so
results change only by floating-point noise: a weight under 1e-15 moves no activation, a
first moment under 1e-20 moves no weight, and a second moment under 1e-30 is invisible next
to Adam's ``eps``.
"""

from __future__ import annotations

import numpy as np

from . import cpu_kernels

FLUSH_EVERY = 16
VALUE_BELOW = 1e-15
MOMENT_BELOW = 1e-20
SECOND_MOMENT_BELOW = 1e-30


def flush_tiny(array: np.ndarray, threshold: float, scratch: np.ndarray) -> None:
    """Set the entries of ``array`` with ``|x| < threshold`` to 0, in place.

    Args:
        array: The values to flush.
        threshold: Entries smaller than this in magnitude become 0.
        scratch: A buffer of ``array``'s shape and dtype, overwritten.
    """
    kernels = cpu_kernels.kernels_for(array)
    if kernels is not None:  # one compiled pass, no scratch
        kernels.flush_tiny(array, array.dtype.type(threshold))
        return
    np.abs(array, out=scratch)
    np.copyto(array, 0, where=scratch < threshold)
