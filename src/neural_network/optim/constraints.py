"""Weight constraints applied after each optimiser step.

Max-norm (Srebro & Shraibman 2005; used with dropout by Srivastava et al. 2014,
https://jmlr.org/papers/v15/srivastava14a.html): every hidden unit's incoming weight vector
is projected back onto the ball ``||w|| <= c``. Unlike L2 it leaves weights alone until they
grow past the bound, so a large learning rate cannot blow them up.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_real
from ..core.layers import Dense
from ..core.model import Sequential


def hidden_dense_layers(model: Sequential) -> list[Dense]:
    """The model's ``Dense`` layers except the last one (which outputs the logits)."""
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    return dense[:-1]


def apply_max_norm(model: Sequential, max_norm: float) -> int:
    """Rescale, in place, each hidden unit's incoming weights to an L2 norm of at most
    ``max_norm``.

    A ``Dense`` weight is ``(n_in, n_out)``, so unit ``j``'s incoming weights are column
    ``j``: columns with a larger norm are scaled down onto the bound, the others are left
    untouched (bit for bit). Biases and the output layer are not constrained.

    Args:
        model: The network.
        max_norm: The bound ``c > 0``.

    Returns:
        The number of columns that were rescaled.

    Raises:
        ValueError: if ``max_norm`` is not a positive finite number.
    """
    max_norm = check_real("max_norm", max_norm, "(0, inf)")
    rescaled = 0
    for layer in hidden_dense_layers(model):
        weight = layer.weight.value
        squared_norms = np.einsum("ij,ij->j", weight, weight)
        over = squared_norms > max_norm * max_norm
        count = int(np.count_nonzero(over))
        if count:
            scale = np.ones_like(squared_norms)
            scale[over] = max_norm / np.sqrt(squared_norms[over])
            weight *= scale
            rescaled += count
    return rescaled
