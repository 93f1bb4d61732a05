"""The optimiser step as fused CUDA kernels (CuPy ``ElementwiseKernel``/``ReductionKernel``).

On a GPU the step is bound by kernel launches, not arithmetic: :meth:`Optimizer.step` is a
dozen whole-vector operations, each a launch and a pass over memory. Here the same step is
three launches over the model's flat buffers, whatever its size:

1. ``SQUARED_WEIGHT_NORM``: the L2 penalty ``0.5 * l2 * sum(W**2)`` (weights only);
2. ``SQUARED_GRAD_NORM``: ``sum(g**2)`` of the penalised gradient ``g = dL/dW + l2 * W``;
3. ``ADAM_UPDATE``, ``SGD_UPDATE`` or ``NESTEROV_UPDATE``: per element, the penalised
   gradient again, scaled by the clipping factor computed from step 2's result *on the
   device*, then the update rule.

The bodies are the equations of :mod:`neural_network.optim.reference` (and of
:mod:`neural_network.optim.optimizers`, whose folded Adam constants ``step_size`` and
``eps_t`` they take), one statement a line. ``decay`` is 1 for weights and 0 for biases, so
L2 skips the biases as ``Parameter.decay`` says. Each body also reads as Python, and a test
runs it on NumPy arrays against the optimisers. Denormals are not flushed here: a GPU adds
them at full speed.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

PREAMBLE = """
__device__ double square(double x) { return x * x; }
"""

# Reductions accumulate in double precision; their results stay on the device (0-d arrays).
SQUARED_WEIGHT_NORM = {
    "in_params": "T w, T decay, T l2",
    "out_params": "float64 penalty",
    "map_expr": "0.5 * l2 * square(decay * w)",
    "reduce_expr": "a + b",
    "post_map_expr": "penalty = a",
    "identity": "0",
    "reduce_type": "double",
    "name": "squared_weight_norm",
}

SQUARED_GRAD_NORM = {
    "in_params": "T grad, T w, T decay, T l2",
    "out_params": "float64 sq_norm",
    "map_expr": "square(grad + l2 * decay * w)",
    "reduce_expr": "a + b",
    "post_map_expr": "sq_norm = a",
    "identity": "0",
    "reduce_type": "double",
    "name": "squared_grad_norm",
}

# fmin(1, clip_norm / norm): 1 when the norm is within the bound (or zero), else the factor
# that brings it onto the bound; clip_norm = inf means no clipping.
ADAM_UPDATE = """
T scale = fmin(1.0, clip_norm / sqrt(sq_norm));
T g = (grad + l2 * decay * w) * scale;
m_sum = beta1 * m_sum + g;
v_sum = beta2 * v_sum + g * g;
w = w - step_size * m_sum / (sqrt(v_sum) + eps_t);
"""
ADAM_PARAMS = (
    "T grad, T decay, float64 sq_norm, T l2, float64 clip_norm, "
    "T beta1, T beta2, T step_size, T eps_t",
    "T w, T m_sum, T v_sum",
)

# With momentum 0 this is plain SGD (velocity is then just g).
SGD_UPDATE = """
T scale = fmin(1.0, clip_norm / sqrt(sq_norm));
T g = (grad + l2 * decay * w) * scale;
velocity = momentum * velocity + g;
w = w - lr * velocity;
"""
SGD_PARAMS = (
    "T grad, T decay, float64 sq_norm, T l2, float64 clip_norm, T momentum, T lr",
    "T w, T velocity",
)

# SGD with Nesterov's momentum: the same velocity, the step looks one velocity ahead.
NESTEROV_UPDATE = """
T scale = fmin(1.0, clip_norm / sqrt(sq_norm));
T g = (grad + l2 * decay * w) * scale;
velocity = momentum * velocity + g;
w = w - lr * (g + momentum * velocity);
"""


def has_kernels(xp: ModuleType) -> bool:
    """True when ``xp`` can compile CUDA kernels (CuPy can; NumPy and stand-ins cannot)."""
    return hasattr(xp, "ElementwiseKernel") and hasattr(xp, "ReductionKernel")


_compiled: dict[tuple[int, str], Any] = {}


def kernel(xp: ModuleType, name: str) -> Any:
    """The compiled kernel ``name`` (``"squared_weight_norm"``, ``"squared_grad_norm"``,
    ``"adam_update"``, ``"sgd_update"`` or ``"nesterov_update"``); CuPy compiles it on first
    use and caches it."""
    key = (id(xp), name)
    if key not in _compiled:
        if name == "squared_weight_norm":
            built = xp.ReductionKernel(**SQUARED_WEIGHT_NORM, preamble=PREAMBLE)
        elif name == "squared_grad_norm":
            built = xp.ReductionKernel(**SQUARED_GRAD_NORM, preamble=PREAMBLE)
        elif name == "adam_update":
            built = xp.ElementwiseKernel(*ADAM_PARAMS, ADAM_UPDATE, name, preamble=PREAMBLE)
        elif name == "sgd_update":
            built = xp.ElementwiseKernel(*SGD_PARAMS, SGD_UPDATE, name, preamble=PREAMBLE)
        elif name == "nesterov_update":
            built = xp.ElementwiseKernel(*SGD_PARAMS, NESTEROV_UPDATE, name, preamble=PREAMBLE)
        else:
            raise ValueError(f"Unknown kernel {name!r}")
        _compiled[key] = built
    return _compiled[key]


def as_python(body: str) -> str:
    """An update body as Python statements (the ``T`` declarations and ``;`` removed), so a
    test can run the kernel's own equations on NumPy arrays."""
    lines = []
    for line in body.strip().splitlines():
        line = line.strip().rstrip(";")
        lines.append(line[2:] if line.startswith("T ") else line)
    return "\n".join(lines)
