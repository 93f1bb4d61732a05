"""Full-batch training with L-BFGS: ``scipy.optimize.minimize(method="L-BFGS-B")`` over the
model's flat parameter vector, with this library's forward, loss and backward.

The objective is scikit-learn's for ``solver="lbfgs"``::

    f(theta) = sum_i w_i l_i / sum_i w_i  +  0.5 * alpha * sum(W**2) / sum_i w_i

(``w_i = 1`` without sample weights, so the denominator is ``n_samples``): the loss's
(weighted) mean over the whole training set plus an L2 penalty on the weights, not the
biases, that shrinks as the data grows. Its gradient is what ``model.backward`` leaves in
``model.flat.grads`` plus ``alpha * W / sum_i w_i``.

scipy works in float64; the model keeps its dtype (a float32 model computes its loss and
gradients in float32, as scikit-learn does with float32 inputs). scipy is imported here only,
when the function is called: it comes with the ``[sklearn]`` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..checks import check_positive_int
from ..core.layers import Dropout
from ..core.losses import SoftmaxCrossEntropy
from ..core.model import Sequential
from .loop import check_dataset, check_sample_weight

# Samples per forward/backward pass inside one evaluation of f: the activations of a chunk,
# not of the whole training set, are held for backward.
CHUNK_ROWS = 8192


@dataclass(frozen=True)
class LBFGSResult:
    """What :func:`train_lbfgs` reports.

    Attributes:
        n_iter: L-BFGS iterations done, at most ``maxiter`` (scikit-learn's ``n_iter_``).
        loss: The objective at the returned weights, L2 included (scikit-learn's ``loss_``).
        converged: True when scipy stopped on its tolerances (``status == 0``); false when it
            ran out of ``maxiter`` or ``maxfun``, or the line search failed (then scikit-learn
            warns ``ConvergenceWarning``).
        status: scipy's status code: 0 converged, 1 ``maxiter`` or ``maxfun`` reached,
            2 stopped for another reason (e.g. an abnormal line search).
        message: scipy's message, for the warning's text.
        n_fun: Evaluations of the objective and its gradient.
    """

    n_iter: int
    loss: float
    converged: bool
    status: int
    message: str
    n_fun: int


def train_lbfgs(
    model: Sequential,
    x,
    targets,
    *,
    loss: Any = None,
    alpha: float = 0.0,
    sample_weight=None,
    maxiter: int = 200,
    maxfun: int = 15000,
    tol: float = 1e-4,
    ftol: float | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> LBFGSResult:
    """Train ``model`` in place by L-BFGS-B on the whole of ``(x, targets)``.

    scikit-learn's ``MLPClassifier/MLPRegressor(solver="lbfgs")`` in one call: ``tol`` is
    passed as scipy's ``gtol`` (the projected gradient's largest entry), ``ftol`` keeps
    scipy's default unless given (scikit-learn leaves it), ``maxiter`` is ``max_iter`` and
    ``maxfun`` is ``max_fun``.

    Args:
        model: A CPU model without active dropout (the objective must be deterministic).
        x: ``(n_samples, n_features)`` inputs.
        targets: What ``loss`` takes (class ids for cross-entropy, real values for a
            regression loss, a 0/1 matrix for a multilabel loss).
        loss: The criterion (``SoftmaxCrossEntropy()`` by default); any loss of
            :mod:`neural_network.core.losses`.
        alpha: scikit-learn's ``alpha``: the objective gets ``0.5 * alpha * sum(W**2) /
            sum(w)`` (see the module docstring), which is *not* the per-batch ``l2`` of the
            optimisers.
        sample_weight: ``(n_samples,)`` non-negative weights, or ``None``.
        maxiter: Most L-BFGS iterations.
        maxfun: Most evaluations of the objective.
        tol: scipy's ``gtol``.
        ftol: scipy's ``ftol`` (relative decrease of f that stops), or ``None`` for scipy's.
        callback: Called after each iteration with ``(iteration, objective)``.

    Returns:
        An :class:`LBFGSResult`; the model holds the weights scipy returned.

    Raises:
        ValueError: for invalid data or settings, a model on a GPU, or active dropout.
        ModuleNotFoundError: without scipy (one sentence naming the extra).
    """
    try:
        from scipy.optimize import minimize
    except ModuleNotFoundError as error:  # the one sentence a user without scipy reads
        raise ModuleNotFoundError(
            'L-BFGS needs scipy: pip install "neural-network[sklearn]"', name=error.name
        ) from error
    _check_model(model)
    maxiter = check_positive_int("maxiter", maxiter)
    maxfun = check_positive_int("maxfun", maxfun)
    alpha = _check_non_negative("alpha", alpha)
    tol = _check_non_negative("tol", tol)
    loss = SoftmaxCrossEntropy() if loss is None else loss
    x, targets = check_dataset(model, x, targets, loss=loss)
    weights = check_sample_weight(sample_weight, x.shape[0])
    objective = _Objective(model, x, targets, loss, alpha, weights)

    iterations = 0

    def on_iteration(intermediate_result) -> None:
        nonlocal iterations
        iterations += 1
        if callback is not None:
            callback(iterations, float(intermediate_result.fun))

    options: dict[str, Any] = {"maxiter": maxiter, "maxfun": maxfun, "gtol": tol}
    if ftol is not None:
        options["ftol"] = _check_non_negative("ftol", ftol)
    result = minimize(
        objective,
        model.flat.values.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        options=options,
        callback=on_iteration,
    )
    model.flat.values[...] = result.x
    return LBFGSResult(
        n_iter=min(int(result.nit), maxiter),
        loss=float(result.fun),
        converged=result.status == 0,
        status=int(result.status),
        message=str(result.message),
        n_fun=int(result.nfev),
    )


def lbfgs_objective(
    model: Sequential, x, targets, *, loss: Any = None, alpha: float = 0.0, sample_weight=None
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The function :func:`train_lbfgs` hands scipy: ``theta (float64) -> (f, grad)``.

    It writes ``theta`` into the model's parameters (in the model's dtype) and leaves them
    there. For checks and for other optimisers over the same objective.
    """
    _check_model(model)
    loss = SoftmaxCrossEntropy() if loss is None else loss
    x, targets = check_dataset(model, x, targets, loss=loss)
    weights = check_sample_weight(sample_weight, x.shape[0])
    return _Objective(model, x, targets, loss, _check_non_negative("alpha", alpha), weights)


class _Objective:
    """``theta -> (f(theta), grad f(theta))`` in float64, over chunks of rows."""

    def __init__(self, model: Sequential, x, targets, loss, alpha: float, weights):
        self.model, self.x, self.targets, self.loss = model, x, targets, loss
        self.weights = weights
        self.total = float(x.shape[0] if weights is None else weights.sum())
        self.alpha = alpha
        self.grad = np.empty(len(model.flat), dtype=np.float64)

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        model, flat = self.model, self.model.flat
        flat.values[...] = theta
        value = 0.0
        self.grad.fill(0.0)
        n = self.x.shape[0]
        for start in range(0, n, CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            chunk_weights = None if self.weights is None else self.weights[rows]
            share = (
                min(n - start, CHUNK_ROWS) if chunk_weights is None else chunk_weights.sum()
            ) / self.total
            if share == 0:
                continue  # every weight of this chunk is 0: it adds nothing
            outputs = model.forward(self.x[rows], training=True)
            value += share * self.loss.forward(outputs, self.targets[rows], chunk_weights)
            model.backward(self.loss.backward())
            self.grad += share * flat.grads
        if self.alpha:
            weights = theta[: flat.n_decay]
            value += 0.5 * self.alpha * float(weights @ weights) / self.total
            self.grad[: flat.n_decay] += (self.alpha / self.total) * weights
        return value, self.grad.copy()


def _check_model(model: Sequential) -> None:
    if not isinstance(model, Sequential) or model.flat is None:
        raise TypeError(f"model must be a Sequential with parameters; got {type(model).__name__}")
    if model.device != "cpu":
        raise ValueError(
            f"L-BFGS trains on the CPU; the model is on {model.device!r}: call model.to('cpu')"
        )
    for layer in model.layers:
        if isinstance(layer, Dropout) and layer.rate > 0:
            raise ValueError(
                f"L-BFGS needs a deterministic objective; the model has Dropout(rate="
                f"{layer.rate}): set its rate to 0"
            )


def _check_non_negative(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-negative number; got {value!r}") from None
    if not (number >= 0 and np.isfinite(number)):
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}")
    return number
