"""``solver="lbfgs"`` in the estimators: scikit-learn's rules around
:func:`~neural_network.train.lbfgs.train_lbfgs`.

L-BFGS trains on the whole training set at once (no mini-batches, optimiser state, learning
rate or validation split), so of the estimators' parameters it uses ``alpha``, ``max_iter``
(L-BFGS iterations), ``max_fun`` (objective evaluations), ``tol`` (the largest entry of the
projected gradient that counts as converged, scipy's ``gtol``), ``warm_start`` and
``verbose``; ``early_stopping`` and the stochastic solvers' parameters are ignored, as in
scikit-learn. Each iteration is one entry of ``history_`` (its training loss is the
objective, L2 included; it has no learning rate or gradient norm, recorded as 0).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ...train.lbfgs import LBFGSResult, train_lbfgs
from .rules import NON_FINITE_WEIGHTS


def lbfgs_settings(settings: dict) -> dict:
    """The settings of an L-BFGS fit, refusing what its deterministic full-batch objective
    cannot do (``early_stopping`` is ignored, as scikit-learn ignores it).

    Raises:
        ValueError: for ``dropout > 0`` or a GPU ``device``.
    """
    if settings["dropout"]:
        raise ValueError(
            f'solver="lbfgs" needs a deterministic loss; got dropout={settings["dropout"]}: '
            'set dropout=0 or use solver="adam" or "sgd"'
        )
    if settings["device"] != "cpu":
        raise ValueError(
            f'solver="lbfgs" trains on the CPU; got device={settings["device"]!r}: '
            'set device="cpu" or use solver="adam" or "sgd"'
        )
    return {**settings, "early_stopping": False}


def fit_lbfgs(estimator, x, targets, weights, settings: dict):
    """Train the estimator's network (built or warm-started by ``fit``) by L-BFGS on the
    whole of ``(x, targets)``, record each iteration in ``history_``, set the fitted
    attributes, and warn as scikit-learn does when it stops before converging.

    Returns:
        The estimator.

    Raises:
        ValueError: if the weights stopped being finite (scikit-learn's words).
    """
    estimator.__dict__.pop("optimizer_", None)  # L-BFGS keeps no optimiser between fits
    history = estimator.history_
    epochs_before = len(history)
    if history.train_accuracy:  # L-BFGS measures none: a History keeps all or none
        history.train_accuracy.clear()
    clock = [time.perf_counter()]

    def record(iteration: int, objective: float) -> None:
        now = time.perf_counter()
        _record_iteration(history, objective, now - clock[0])
        clock[0] = now
        if estimator.verbose:
            print(f"Iteration {len(history)}, loss = {objective:.8f}")

    result = train_lbfgs(
        estimator.model_,
        x,
        targets,
        loss=estimator._make_loss(settings),
        alpha=settings["l2"],
        sample_weight=weights,
        maxiter=settings["epochs"],
        maxfun=settings["max_fun"],
        tol=settings["min_delta"],
        callback=record,
    )
    if not np.isfinite(estimator.model_.flat.values).all():
        raise ValueError(NON_FINITE_WEIGHTS)
    if result.n_iter == 0 or history.train_loss[-1] != result.loss:
        # The weights scipy returned are not those of the last iteration recorded (none
        # ran, or it stopped inside a line search): the curve ends on their loss.
        _record_iteration(history, result.loss, time.perf_counter() - clock[0])
    estimator._set_fitted_attributes(epochs_before)
    estimator.n_iter_ = result.n_iter
    estimator.t_ += x.shape[0] * result.n_iter  # 0 after a fresh start
    if not result.converged:
        warnings.warn(convergence_message(result, settings["epochs"]), ConvergenceWarning,
                      stacklevel=5)  # fmt: skip
    return estimator


def convergence_message(result: LBFGSResult, max_iter: int) -> str:
    """scikit-learn's warning when L-BFGS stops before converging."""
    message = (
        f"lbfgs failed to converge after {result.n_iter} iteration(s) "
        f"(status={result.status}):\n{result.message}\n"
    )
    if result.n_iter == max_iter:
        message += (
            f"\nIncrease the number of iterations to improve the convergence (max_iter={max_iter})."
        )
    return message + (
        "\nYou might also want to scale the data as shown in:\n"
        "    https://scikit-learn.org/stable/modules/preprocessing.html"
    )


def _record_iteration(history, objective: float, seconds: float) -> None:
    history.epoch.append(len(history) + 1)
    history.train_loss.append(float(objective))
    history.lr.append(0.0)
    history.grad_norm.append(0.0)
    history.epoch_time.append(seconds)
    history.record_threads(0, 0.0)
