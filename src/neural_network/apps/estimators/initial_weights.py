"""scikit-learn's initial weights, drawn exactly as its MLP draws them.

scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` start every layer from Glorot's
uniform distribution, biases included: each layer's weights, then its biases, from
``uniform(-b, b)`` with ``b = sqrt(6 / (fan_in + fan_out))`` (``sqrt(2 / ...)`` for the
logistic activation), drawn in layer order from ``check_random_state(random_state)`` before
anything else. With ``init="scikit-learn"`` (the estimators' default) the same
``random_state`` gives the same starting weights as scikit-learn's, so a fit switched from
one library to the other starts where it did. This library's own stream (shuffling,
dropout, the validation split) is a separate generator.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np
from sklearn.utils import check_random_state

from .rules import check_random_state_kind

SCIKIT_LEARN_INIT = "scikit-learn"
# The initialiser whose name the network records for init="scikit-learn": the same
# distribution for the weights (the biases are then drawn too).
_RECORDED_AS = "xavier_uniform"


def network_init(init: str | None) -> str | None:
    """The network's initialiser for an estimator's ``init``."""
    return _RECORDED_AS if init == SCIKIT_LEARN_INIT else init


def draw_scikit_learn_parameters(
    random_state, layer_units: list[int], logistic: bool, dtype
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(coefs, intercepts)`` as scikit-learn's ``_initialize`` draws them for layers of
    ``layer_units`` (inputs, hidden layers, outputs), in ``dtype``. ``random_state`` is an
    int, ``None`` (NumPy's global state, as scikit-learn), a ``RandomState`` (drawn from,
    as scikit-learn) or a ``Generator`` (drawn from alike)."""
    if isinstance(random_state, numbers.Integral) and not 0 <= random_state < 2**32:
        raise ValueError(
            "random_state must be in [0, 2**32 - 1] with init='scikit-learn', the seeds a "
            f"numpy RandomState takes, as in scikit-learn; got {random_state!r}"
        )
    if not isinstance(random_state, np.random.Generator):
        random_state = check_random_state(random_state)
    factor = 2.0 if logistic else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(layer_units):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coefs.append(random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        intercepts.append(random_state.uniform(-bound, bound, fan_out).astype(dtype))
    return coefs, intercepts


def scikit_learn_parameters(estimator, n_features: int, settings: dict):
    """The estimator's initial ``(coefs, intercepts)`` as scikit-learn draws them, or
    ``None`` unless its ``init`` is ``"scikit-learn"``."""
    if estimator.init != SCIKIT_LEARN_INIT:
        return None
    check_random_state_kind(estimator.random_state)
    units = [n_features, *settings["hidden"], estimator._n_outputs]
    logistic = estimator.activation in ("logistic", "sigmoid")
    return draw_scikit_learn_parameters(estimator.random_state, units, logistic, settings["dtype"])
