"""``MLPRegressor``: the same network with a linear output, trained on half the squared
error (or the Huber loss), for one or many real targets."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ...checks import check_bool, check_real
from ...core.link_losses import HalfPoissonDeviance
from ...core.losses import HalfSquaredError, Huber
from ...io.archive import ModelFileError
from ...io.model_files import ModelFile
from ...train.callbacks import Callback
from .. import TARGET_ARRAYS
from .base import BaseMLP
from .files import finish_restoring, restore_estimator, save_estimator
from .rules import not_lbfgs

LOSSES = ("squared_error", "huber", "poisson")
_OWN_KEYS = frozenset({"n_outputs", "target_1d", "validation_scores"})


class ValidationR2(Callback):
    """Append the R² of the run's validation data to ``scores`` after every epoch
    (weighted when the validation data has weights)."""

    def __init__(self, scores: list[float], *, log_link: bool = False):
        self.scores, self.log_link = scores, log_link

    def on_epoch_end(self, run) -> None:
        x_val, targets, *weights = run.validation_data
        outputs = run.model.forward(x_val, training=False)
        if self.log_link:  # the network outputs log-means; R² is of the means
            outputs = np.exp(outputs)
        score = r2_score(targets, outputs, sample_weight=next(iter(weights), None))
        self.scores.append(float(score))


class MLPRegressor(RegressorMixin, BaseMLP):
    """Multi-layer perceptron regressor with scikit-learn's estimator interface.

    The network is ``Dense -> activation [-> Dropout]`` per hidden layer and a linear
    ``Dense`` output with one unit per target, trained with mini-batches by this library's
    :func:`~neural_network.fit` in the input's dtype (or the one ``dtype`` names). ``y`` may be
    ``(n_samples,)`` or ``(n_samples, n_outputs)``; :meth:`predict` returns the same shape.
    :meth:`score` is R² (averaged uniformly over the outputs).

    The loss is the (weighted) mean over samples of ``(1/2k) * sum_j r_j**2`` (half the
    squared error over ``k`` outputs, the loss scikit-learn's ``MLPRegressor`` reports), or
    of the Huber loss with ``loss="huber"``. ``loss="poisson"`` is half the Poisson deviance
    with a log link, as in scikit-learn: the network outputs ``log(mean)``, :meth:`predict`
    returns ``exp`` of it (``out_activation_ == "exp"``), the targets must be ``>= 0`` and
    are not standardised. With ``standardize_targets`` each target is
    trained as ``(y - mean) / std`` (weighted statistics of the data given to the first fit),
    which makes the default ``lr`` work whatever the targets' units; ``loss_curve_`` and
    ``huber_delta`` are then in standard deviations.

    All the other parameters, early stopping, warm starts, ``partial_fit`` and
    ``sample_weight``, ``solver="lbfgs"`` and sparse ``X`` work as in
    :class:`~neural_network.MLPClassifier`, whose docstring describes them; the validation
    score (``validation_scores_``) is R² (of the predicted means for ``"poisson"``).

    Args:
        hidden_layer_sizes: Units of each hidden layer; ``()`` gives linear regression.
        activation: Hidden activation: ``"relu"``, ``"leaky_relu"``, ``"sigmoid"`` (or
            ``"logistic"``), ``"tanh"``, ``"identity"``.
        loss: ``"squared_error"``, ``"huber"`` or ``"poisson"``.
        huber_delta: Residual size where the Huber loss turns linear (``loss="huber"``).
        standardize_targets: Train on standardised targets (see above; not with
            ``loss="poisson"``).

    Attributes:
        n_outputs_: Number of targets.
        target_mean_, target_scale_: The targets' means and standard deviations, shape
            ``(n_outputs,)`` (``None`` without ``standardize_targets``).
        validation_scores_: Validation R² of each epoch (``None`` without
            ``early_stopping``); the other fitted attributes are the classifier's.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 1e-4,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state=None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        dropout: float = 0.0,
        init: str | None = "scikit-learn",
        clip_norm: float | None = None,
        schedule: str | None = None,
        lr_decay: float = 0.5,
        lr_decay_every: int = 30,
        scale_inputs: bool = False,
        dtype: str | None = None,
        loss: str = "squared_error",
        huber_delta: float = 1.0,
        standardize_targets: bool = True,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.init = init
        self.clip_norm = clip_norm
        self.schedule = schedule
        self.lr_decay = lr_decay
        self.lr_decay_every = lr_decay_every
        self.scale_inputs = scale_inputs
        self.dtype = dtype
        self.loss = loss
        self.huber_delta = huber_delta
        self.standardize_targets = standardize_targets

    _validate_kwargs: ClassVar[dict] = {"multi_output": True, "y_numeric": True}

    def fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Train on ``(X, y)``: a new network, or with ``warm_start`` the fitted one.

        Args:
            X: Training inputs, array-like or scipy.sparse, ``(n_samples, n_features)``.
            y: Targets, shape ``(n_samples,)`` or ``(n_samples, n_outputs)``.
            sample_weight: Non-negative weight of each sample, or ``None``.

        Returns:
            self.

        Raises:
            ValueError: for invalid parameters, inputs, weights or targets, and when training
                diverges (see ``MLPClassifier.fit``).
        """
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(not_lbfgs)
    def partial_fit(self, X, y, sample_weight=None) -> MLPRegressor:
        """Train for one more epoch on ``(X, y)``, continuing from the current weights (see
        ``MLPClassifier.partial_fit``); the first call builds the network and fits the
        input and target scaling on its data.

        Returns:
            self.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predicted targets, shape ``(n_samples,)`` if ``y`` was 1-D, else
        ``(n_samples, n_outputs)``; float32 for float32 ``X``, else float64."""
        outputs = self._outputs(X)  # checks that the estimator is fitted
        if self.out_activation_ == "exp":  # loss="poisson": the outputs are log-means
            outputs = np.exp(outputs)
        if self.target_mean_ is not None:
            outputs = outputs * self.target_scale_ + self.target_mean_
        # In the input's dtype, as scikit-learn's: float32 for float32 input, else float64.
        if getattr(X, "dtype", None) == np.float32:
            outputs = outputs.astype(np.float32)
        return outputs[:, 0] if self._target_1d else outputs

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted regressor to one ``.npz`` at exactly ``path``, atomically (see
        ``MLPClassifier.save``); ``neural_network.load_model(path)`` reads it back."""
        check_is_fitted(self)
        if self.target_mean_ is None:
            target = (np.zeros(self.n_outputs_), np.ones(self.n_outputs_))
        else:
            target = (self.target_mean_, self.target_scale_)
        save_estimator(
            self,
            path,
            kind="mlp_regressor",
            config={
                "n_outputs": self.n_outputs_,
                "target_1d": self._target_1d,
                "validation_scores": self._validation_r2 if self.history_.val_loss else [],
            },
            arrays=dict(zip(TARGET_ARRAYS, target, strict=True)),
        )

    @classmethod
    def _from_model_file(cls, model_file: ModelFile) -> MLPRegressor:
        """Rebuild a saved regressor (the ``"mlp_regressor"`` loader of ``load_model``).

        Raises:
            ModelFileError: for settings that are invalid or do not describe the network.
        """
        config, n_outputs = model_file.config, model_file.model.n_classes
        estimator, _ = restore_estimator(cls, model_file, n_outputs=n_outputs, own_keys=_OWN_KEYS)
        if config["n_outputs"] != n_outputs or type(config["target_1d"]) is not bool:
            raise ModelFileError(f"n_outputs and target_1d must describe {n_outputs} outputs")
        if config["target_1d"] and n_outputs != 1:
            raise ModelFileError("a 1-D target means one output")
        mean, scale = (model_file.arrays[key] for key in TARGET_ARRAYS)
        if mean.shape != (n_outputs,) or scale.shape != (n_outputs,) or not (scale > 0).all():
            raise ModelFileError(f"the target scaling must be {n_outputs} means and scales > 0")
        scores = config["validation_scores"]
        val_epochs = len(estimator.history_.val_loss)
        if not isinstance(scores, list) or len(scores) != val_epochs:
            raise ModelFileError(f"validation_scores must hold {val_epochs} scores")
        estimator.n_outputs_, estimator._target_1d = n_outputs, config["target_1d"]
        estimator.target_mean_ = estimator.target_scale_ = None
        if estimator._standardizes:
            estimator.target_mean_, estimator.target_scale_ = mean, scale
        estimator._validation_r2 = list(scores)
        finish_restoring(estimator, config)
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _check_params(self) -> dict:
        if self.loss not in LOSSES:
            raise ValueError(f"Unknown loss {self.loss!r}; expected one of {list(LOSSES)}")
        return {
            **super()._check_params(),
            "huber_delta": check_real("huber_delta", self.huber_delta, "(0, inf)"),
            "standardize_targets": check_bool("standardize_targets", self.standardize_targets),
        }

    @property
    def _n_outputs(self) -> int:
        return self.n_outputs_

    def _check_fitted_preprocessing(self) -> None:
        super()._check_fitted_preprocessing()
        fitted = self.target_mean_ is not None
        if self._standardizes != fitted:
            raise ValueError(
                f"standardize_targets={self.standardize_targets!r} but the network was fitted "
                f"with standardize_targets={fitted}; set it back, or fit afresh with "
                "warm_start=False"
            )

    @property
    def _out_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    @property
    def _standardizes(self) -> bool:
        """Whether the targets are standardised: not for the Poisson loss, whose targets
        are counts or rates >= 0 and whose log link already adapts to their scale."""
        return bool(self.standardize_targets) and self.loss != "poisson"

    def _make_loss(self, settings: dict) -> HalfSquaredError | Huber | HalfPoissonDeviance:
        if self.loss == "huber":
            return Huber(settings["huber_delta"])
        if self.loss == "poisson":
            return HalfPoissonDeviance()
        return HalfSquaredError()

    def _prepare_targets(self, y, sample_weight, *, reset: bool, classes=None) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        targets = y.reshape(-1, 1) if y.ndim == 1 else y
        if reset:
            self.n_outputs_, self._target_1d = targets.shape[1], y.ndim == 1
            self.target_mean_ = self.target_scale_ = None
            if self._standardizes:
                self.target_mean_, self.target_scale_ = _mean_and_std(targets, sample_weight)
        elif targets.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {targets.shape[1]} outputs but the regressor was fitted on "
                f"{self.n_outputs_}"
            )
        if self.loss == "poisson" and (targets < 0).any():
            raise ValueError(
                f'loss="poisson" needs targets >= 0 (counts or rates); y holds {targets.min()}'
            )
        if self.target_mean_ is not None:
            targets = (targets - self.target_mean_) / self.target_scale_
        dtype = self._train_dtype  # set by fit before the targets
        limit = np.finfo(dtype).max
        if (np.abs(targets) > limit).any():
            raise ValueError(
                f"y holds finite values beyond {dtype}'s range ({limit:.3g}) that the "
                "network cannot train on; use standardize_targets=True or rescale y"
            )
        return targets

    def _initialize(self, X, rng, settings) -> None:
        super()._initialize(X, rng, settings)
        self._validation_r2: list[float] = []

    def _validation_callbacks(self, validation_data) -> list[Callback]:
        if validation_data is None:
            return []
        return [ValidationR2(self._validation_r2, log_link=self.loss == "poisson")]

    def _validation_score_list(self) -> list[float]:
        return self._validation_r2

    def _validation_scores(self) -> list[float]:
        return list(self._validation_r2)


def _mean_and_std(targets: np.ndarray, weights) -> tuple[np.ndarray, np.ndarray]:
    """Each column's (weighted) mean and standard deviation, without overflow for targets
    as large as float64 holds: the columns are divided by their largest magnitude first, so
    neither statistic can exceed it. A constant column gets a scale of 1."""
    peak = np.abs(targets).max(axis=0)
    peak = np.where(peak > 0, peak, 1.0)
    unit = targets / peak
    mean = np.average(unit, axis=0, weights=weights)
    std = np.sqrt(np.average((unit - mean) ** 2, axis=0, weights=weights))
    return mean * peak, np.where(std > 0, std * peak, 1.0)
