"""What ``MLPClassifier`` and ``MLPRegressor`` share: the parameters, the network, training
by :func:`~neural_network.fit`, warm starts, ``partial_fit`` with early stopping, and the
fitted attributes with scikit-learn's meanings.

A subclass says what its targets are (``_prepare_targets``), which loss trains it
(``_make_loss``) and how a validation epoch is scored (``_validation_scores``).
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import ClassVar

import numpy as np

try:
    from sklearn.base import BaseEstimator
except ModuleNotFoundError as error:  # the one sentence a user without scikit-learn reads
    raise ModuleNotFoundError(
        "neural_network's MLPClassifier and MLPRegressor need scikit-learn: "
        'pip install "neural-network[sklearn]"',
        name=error.name,
    ) from error
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ...checks import check_bool, check_positive_int, check_real
from ...core.activations import get_activation
from ...core.devices import check_device
from ...core.initializers import INITIALIZERS
from ...core.model import Sequential, build_mlp
from ...core.sparse import is_sparse
from ...optim.optimizers import SGD, Adam, Optimizer
from ...optim.schedules import Constant, Cosine, StepDecay
from ...train.callbacks import Callback, EarlyStopping, LRSchedule
from ...train.divergence import TrainingDivergedError
from ...train.history import History
from ...train.loop import check_sample_weight, fit
from .files import check_architecture, network_activation
from .fitted_attributes import FittedAttributes, assigned_counters
from .initial_weights import SCIKIT_LEARN_INIT, network_init, scikit_learn_parameters
from .lbfgs import fit_lbfgs, lbfgs_settings
from .rules import (
    BestScore,
    InverseScaling,
    NonFiniteWeightsError,
    Plateau,
    PrintIterations,
    Shifted,
    batch_size_for,
    finish_diverged_fit,
    make_rng,
    one_fit_at_a_time,
)
from .sparse_inputs import fit_input_scaler, scale_sparse
from .validation_split import split_validation

SCHEDULE_NAMES = (None, "constant", "step", "cosine")
SOLVERS = ("adam", "sgd", "lbfgs")
LEARNING_RATES = ("constant", "invscaling", "adaptive")
DTYPES = ("float32", "float64")
# The cosine schedule anneals to this fraction of lr, and stays there for later partial_fit
# calls: at 0 they would not train at all.
COSINE_FLOOR = 0.01
_PREDICT_BATCH = 2048


class BaseMLP(FittedAttributes, BaseEstimator):
    """The shared machinery; see ``MLPClassifier`` for the parameters' meanings."""

    def _make_loss(self, settings: dict):
        raise NotImplementedError

    def _prepare_targets(self, y, sample_weight, *, reset: bool, classes=None) -> np.ndarray:
        """The targets ``fit`` trains on; with ``reset``, learn their encoding first."""
        raise NotImplementedError

    def _weigh(self, weights, targets, *, incremental: bool):
        """The training weights from the sample weights (the classifier adds class weights)."""
        return weights

    def _loss_targets(self, targets: np.ndarray) -> np.ndarray:
        """The targets as the loss takes them (the classifier's binary case: a 0/1 column)."""
        return targets

    def _validation_scores(self) -> list[float] | None:
        raise NotImplementedError

    def _validation_callbacks(self, validation_data) -> list[Callback]:
        return []

    def _validation_score_list(self) -> list[float] | None:
        """The list a validation callback appends each epoch's score to, or ``None`` when
        the score is the History's ``val_accuracy``."""
        return None

    @property
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _strata(self, targets: np.ndarray) -> np.ndarray | None:
        """What early stopping's validation split is stratified by (``None``: not at all)."""
        return None

    _out_activation = "identity"
    # Keyword arguments of validate_data for y (the regressor's allow 2-D numeric y).
    _validate_kwargs: ClassVar[dict] = {}

    def _check_params(self) -> dict:
        """Validate the constructor parameters (scikit-learn defers this to ``fit``)."""
        hidden = self.hidden_layer_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = [hidden]
        if isinstance(hidden, str) or not hasattr(hidden, "__iter__"):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers; got {hidden!r}"
            )
        hidden = [check_positive_int("hidden_layer_sizes entries", units) for units in hidden]
        get_activation(network_activation(self.activation))
        if self.solver not in SOLVERS:
            raise ValueError(f"Unknown solver {self.solver!r}; expected one of {list(SOLVERS)}")
        if self.init not in (choices := [SCIKIT_LEARN_INIT, None, *sorted(INITIALIZERS)]):
            raise ValueError(f"Unknown init {self.init!r}; expected one of {choices}")
        if self.schedule not in SCHEDULE_NAMES:
            raise ValueError(
                f"Unknown schedule {self.schedule!r}; expected one of {list(SCHEDULE_NAMES)}"
            )
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(
                f"Unknown learning_rate {self.learning_rate!r}; expected one of "
                f"{list(LEARNING_RATES)}"
            )
        if self.learning_rate != "constant" and self.schedule not in (None, "constant"):
            raise ValueError(
                f"learning_rate={self.learning_rate!r} and schedule={self.schedule!r} both "
                "steer the learning rate; choose one"
            )
        clip_norm = self.clip_norm
        if clip_norm is not None:
            clip_norm = check_real("clip_norm", clip_norm, "(0, inf)")
        batch_size = self.batch_size
        if not (isinstance(batch_size, str) and batch_size == "auto"):
            batch_size = check_positive_int("batch_size", batch_size)
        n_iter_no_change = self.n_iter_no_change
        if not (isinstance(n_iter_no_change, float) and n_iter_no_change == math.inf):
            n_iter_no_change = check_positive_int("n_iter_no_change", n_iter_no_change)
        nesterov = check_bool("nesterovs_momentum", self.nesterovs_momentum)
        return {
            "hidden": hidden,
            "lr": check_real("learning_rate_init", self.learning_rate_init, "(0, inf)"),
            "epochs": check_positive_int("max_iter", self.max_iter),
            "batch_size": batch_size,
            "l2": check_real("alpha", self.alpha, "[0, inf)"),
            "power_t": check_real("power_t", self.power_t, "[0, inf)"),
            "momentum": check_real("momentum", self.momentum, "[0, 1]"),
            "nesterov": nesterov,
            "shuffle": check_bool("shuffle", self.shuffle),
            "beta_1": check_real("beta_1", self.beta_1, "[0, 1)"),
            "beta_2": check_real("beta_2", self.beta_2, "[0, 1)"),
            "epsilon": check_real("epsilon", self.epsilon, "(0, inf)"),
            "max_fun": check_positive_int("max_fun", self.max_fun),
            "dropout": check_real("dropout", self.dropout, "[0, 1)"),
            "clip_norm": clip_norm,
            "lr_decay": check_real("lr_decay", self.lr_decay, "(0, 1]"),
            "lr_decay_every": check_positive_int("lr_decay_every", self.lr_decay_every),
            "early_stopping": check_bool("early_stopping", self.early_stopping),
            "validation_fraction": check_real(
                "validation_fraction", self.validation_fraction, "(0, 1)"
            ),
            # scikit-learn stops once more than n_iter_no_change epochs did not improve.
            "patience": None if n_iter_no_change == math.inf else n_iter_no_change + 1,
            "min_delta": check_real("tol", self.tol, "[0, inf)"),
            "scale_inputs": check_bool("scale_inputs", self.scale_inputs),
            "warm_start": check_bool("warm_start", self.warm_start),
            "dtype": _check_dtype(self.dtype),
            # Only the classifier takes a device: the GPU loop trains cross-entropy.
            "device": check_device(getattr(self, "device", "cpu")),
        }

    def _fit(self, X, y, sample_weight, *, incremental: bool, classes=None):
        """``fit`` (``incremental=False``) and ``partial_fit`` (one epoch), one at a time.

        Raises:
            RuntimeError: if another thread is fitting this estimator now.
        """
        with one_fit_at_a_time(self):
            return self._fit_now(X, y, sample_weight, incremental=incremental, classes=classes)

    def _fit_now(self, X, y, sample_weight, *, incremental: bool, classes=None):
        settings = self._check_params()
        if self.solver == "lbfgs":
            settings = lbfgs_settings(settings)
        if incremental and settings["early_stopping"]:  # scikit-learn's rule and message
            raise ValueError("partial_fit does not support early_stopping=True")
        continuing = hasattr(self, "model_") and (incremental or settings["warm_start"])
        # coefs_/intercepts_ assigned before any fit: scikit-learn trains from them when it
        # continues (partial_fit, warm start) and draws new weights otherwise.
        assigned = self._has_assigned_parameters() and not hasattr(self, "model_")
        if assigned and not (incremental or settings["warm_start"]):
            self._forget_assigned_parameters()
            assigned = False
        X, y = validate_data(
            self,
            X,
            y,
            dtype=(np.float64, np.float32),
            accept_sparse="csr",
            reset=not continuing,
            **self._validate_kwargs,
        )
        if settings["dtype"] is None:  # as scikit-learn: train in the input's dtype
            settings["dtype"] = self.model_.dtype if continuing else X.dtype
        self._train_dtype = settings["dtype"]
        weights = check_sample_weight(sample_weight, X.shape[0])
        X, y, weights = _drop_unweighted(X, y, weights)
        targets = self._prepare_targets(y, weights, reset=not continuing, classes=classes)
        X, targets, weights = _drop_unweighted(
            X, targets, self._weigh(weights, targets, incremental=incremental)
        )
        targets = self._loss_targets(targets)
        if continuing:
            self._check_continuation(settings)
            self.model_.to(settings["device"])
        else:
            counters = assigned_counters(self) if assigned else {}
            drawn = scikit_learn_parameters(self, X.shape[1], settings)  # drawn first
            self._initialize(X, make_rng(self.random_state), settings)
            if drawn is not None:
                self.coefs_, self.intercepts_ = drawn
            if assigned:
                self._take_assigned_parameters(counters)
        if self.solver == "lbfgs":  # full batch: no optimiser, mini-batches or validation
            return fit_lbfgs(self, self._scale(X), targets, weights, settings)
        if not incremental or not hasattr(self, "optimizer_"):  # as scikit-learn: a new
            self.optimizer_ = self._make_optimizer(self.model_, settings)  # one per fit
            if incremental and self._sgd_rate() == "invscaling":  # a loaded network: its
                self.optimizer_.lr = InverseScaling(  # rate continues from t_
                    settings["lr"], settings["power_t"], self.t_
                ).rate()
        x = self._scale(X)
        validation_data = None
        if settings["early_stopping"]:
            x, targets, weights, validation_data = split_validation(
                x,
                targets,
                weights,
                fraction=settings["validation_fraction"],
                strata=self._strata(targets),
                seed=int(self._rng.integers(np.iinfo(np.int32).max)),
                hint=self._split_hint(targets),
            )
            if self._early_stopping is None:
                self._early_stopping = BestScore(self._validation_score_list())
            stopping = self._early_stopping  # set_params may have changed these since
            stopping.patience, stopping.min_delta = settings["patience"], settings["min_delta"]
            stopping.wait, stopping.stopped = 0, False  # each fit call has its patience
        epochs_before = len(self.history_)
        if not incremental:
            self._schedule_start = epochs_before
        callbacks = self._validation_callbacks(validation_data)
        plateau = None
        if settings["early_stopping"]:
            callbacks.append(self._early_stopping)
        else:  # as scikit-learn, partial_fit counts too (and lowers an adaptive rate)
            plateau = Plateau(
                settings,
                adaptive=self._sgd_rate() == "adaptive",
                wait=getattr(self, "_no_improvement_count", 0),  # 0 after _initialize
                best=min(self.history_.train_loss, default=math.inf),
            )
            callbacks.append(plateau)
        nan_epochs = self._train(
            x,
            targets,
            weights,
            settings,
            epochs=epochs_before + (1 if incremental else settings["epochs"]),
            validation_data=validation_data,
            callbacks=callbacks,
        )
        self._set_fitted_attributes(epochs_before, nan_epochs)
        self.t_ += x.shape[0] * self.n_iter_
        watcher = self._early_stopping if plateau is None else plateau
        # scikit-learn's name for the epochs in a row without improvement (code written for
        # it reads it); the next warm start or partial_fit continues the count. A NaN
        # score resets it there (no comparison with NaN holds).
        self._no_improvement_count = 0 if nan_epochs else watcher.wait
        if not incremental and not watcher.stopped and self.n_iter_ == settings["epochs"]:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({settings['epochs']}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,  # the caller of fit
            )
        return self

    def _sgd_rate(self) -> str:
        """scikit-learn's ``learning_rate``, which steers SGD only (Adam keeps its rate)."""
        return self.learning_rate if self.solver == "sgd" else "constant"

    def _initialize(self, X: np.ndarray, rng: np.random.Generator, settings: dict) -> None:
        """Fit the input scaler and build a new network, with a fresh History."""
        dtype = settings["dtype"]
        self.scaler_ = fit_input_scaler(X, dtype) if settings["scale_inputs"] else None
        self.model_: Sequential = self._build_network(X.shape[1], settings, rng)
        self.history_ = History()
        self.t_ = 0
        self._no_improvement_count = 0
        self._rng = rng
        self._early_stopping: EarlyStopping | None = None
        self._schedule_start = 0
        self.__dict__.pop("optimizer_", None)

    def _build_network(self, n_features: int, settings: dict, rng) -> Sequential:
        """The one place the estimators call ``build_mlp``: a constructor parameter that
        the network takes is passed on here."""
        return build_mlp(
            n_features,
            settings["hidden"],
            self._n_outputs,
            activation=network_activation(self.activation),
            dropout=settings["dropout"] or None,
            init=network_init(self.init),
            rng=rng,
            dtype=settings["dtype"],
            device=settings["device"],
        )

    def _check_continuation(self, settings: dict) -> None:
        """Refuse a warm start or ``partial_fit`` the fitted network cannot continue."""
        params = self.get_params()
        check_architecture(self.model_, params, self.n_features_in_, self._n_outputs)
        self._check_fitted_preprocessing()
        # The validation curves cover every epoch or none (model files hold them so).
        validated = bool(self.history_.val_loss)
        if len(self.history_) and validated != settings["early_stopping"]:
            raise ValueError(
                f"this network was trained with early_stopping={validated}; a warm start "
                "or partial_fit keeps that setting (or fit afresh with warm_start=False)"
            )
        if not hasattr(self, "_early_stopping"):  # loaded from a file: no memory of the best
            self._early_stopping = None
        if not hasattr(self, "t_"):  # loaded from a file, which does not keep t_
            self.t_ = 0

    def _check_fitted_preprocessing(self) -> None:
        """Refuse parameters changed since the fit that no longer describe the fitted
        preprocessing: a warm start would ignore them, and a saved file would be read back
        with preprocessing the network was not trained with."""
        fitted = self.scaler_ is not None
        if bool(self.scale_inputs) != fitted:
            raise ValueError(
                f"scale_inputs={self.scale_inputs!r} but the network was fitted with "
                f"scale_inputs={fitted}; set it back, or fit afresh with warm_start=False"
            )

    def _make_optimizer(self, model: Sequential, settings: dict) -> Optimizer:
        common = {"l2": settings["l2"], "clip_norm": settings["clip_norm"]}
        if self.solver == "sgd":
            # scikit-learn's velocity carries the learning rate of each past step.
            return SGD(
                model.flat,
                settings["lr"],
                settings["momentum"],
                nesterov=settings["nesterov"],
                lr_in_velocity=True,
                **common,
            )
        return Adam(
            model.flat,
            settings["lr"],
            settings["beta_1"],
            settings["beta_2"],
            settings["epsilon"],
            **common,
        )

    def _schedule(self, settings: dict):
        lr = settings["lr"]
        if self.schedule == "step":
            schedule = StepDecay(lr, settings["lr_decay"], settings["lr_decay_every"])
        elif self.schedule == "cosine":
            schedule = Cosine(lr, settings["epochs"], min_lr=COSINE_FLOOR * lr)
        else:
            schedule = Constant(lr)
        return Shifted(schedule, getattr(self, "_schedule_start", 0))

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if is_sparse(X):
            return scale_sparse(self.scaler_, X, self.model_.dtype)
        if self.scaler_ is not None:
            return self.scaler_.transform(X)
        limit = np.finfo(self.model_.dtype).max
        if X.dtype.itemsize > self.model_.dtype.itemsize and (np.abs(X) > limit).any():
            raise ValueError(
                f"X holds finite values beyond {self.model_.dtype}'s range ({limit:.3g}); "
                'scale them, or use scale_inputs=True or dtype="float64"'
            )
        return np.ascontiguousarray(X, dtype=self.model_.dtype)

    def _train(self, x, targets, weights, settings, *, epochs, validation_data, callbacks) -> int:
        """Train the network; returns how many epochs a diverged fit records as NaN (0 else)."""
        if self._sgd_rate() == "invscaling":
            rate = InverseScaling(settings["lr"], settings["power_t"], self.t_)
            callbacks = [rate, *callbacks]
        elif self._sgd_rate() == "constant":  # "adaptive": the plateau callback lowers it
            callbacks = [LRSchedule(self._schedule(settings)), *callbacks]
        if self.verbose:
            callbacks.append(PrintIterations())
        batch_size = batch_size_for(settings["batch_size"], x.shape[0])
        # With early stopping a diverging fit ends as scikit-learn's does (rules.py); it
        # goes back to these weights if no epoch had a validation score to keep.
        start = None if validation_data is None else self.model_.flat.values.copy()
        try:
            fit(
                self.model_,
                x,
                targets,
                optimizer=self.optimizer_,
                epochs=epochs,
                batch_size=batch_size,
                validation_data=validation_data,
                rng=self._rng,
                callbacks=callbacks,
                history=self.history_,
                loss=self._make_loss(settings),
                sample_weight=weights,
                shuffle=settings["shuffle"],
                # scikit-learn's alpha: each batch's penalty 0.5 * alpha * |W|^2 is divided
                # by that batch's sample-weight sum (its size when unweighted).
                batch_l2=settings["l2"],
            )
        except TrainingDivergedError as error:
            if validation_data is None:
                raise NonFiniteWeightsError(error) from error
            return finish_diverged_fit(self, epochs, start)
        return 0

    def _split_hint(self, targets: np.ndarray) -> str:
        """A sentence on early stopping's split, for its errors."""
        return (
            f"early_stopping holds out validation_fraction={self.validation_fraction} of the "
            f"{len(targets)} training samples"
        )

    def _set_fitted_attributes(self, epochs_before: int, nan_epochs: int = 0) -> None:
        """scikit-learn's fitted attributes from the History, then ``nan_epochs`` epochs of
        NaN loss and score (``rules.finish_diverged_fit``)."""
        self.n_outputs_ = self._n_outputs
        self.out_activation_ = self._out_activation
        history = self.history_
        nans = [math.nan] * nan_epochs
        self.n_iter_ = len(history) - epochs_before + nan_epochs
        self.loss_curve_ = list(history.train_loss) + nans
        validating = bool(history.val_loss) or bool(nan_epochs)
        self.best_loss_ = None if validating else min(self.loss_curve_)
        self.val_loss_curve_ = list(history.val_loss) + nans if validating else None
        self.validation_scores_ = self._validation_scores() + nans if validating else None
        stopping = getattr(self, "_early_stopping", None)
        if validating and stopping is not None and stopping.best_epoch:
            self.best_epoch_ = stopping.best_epoch
            self.best_validation_score_ = self.validation_scores_[self.best_epoch_ - 1]
        else:
            self.best_epoch_, self.best_validation_score_ = len(history), None

    def _outputs(self, X) -> np.ndarray:
        """Float64 outputs of the fitted network for raw inputs ``X``, in batches."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), accept_sparse="csr", reset=False)
        x = self._scale(X)
        # NumPy in and out, whichever device the network is on.
        return self.model_.predict_logits(x, batch_size=_PREDICT_BATCH).astype(np.float64)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # scipy.sparse X, kept sparse (see sparse_inputs)
        return tags


def _check_dtype(dtype) -> np.dtype | None:
    """The training dtype, or ``None`` for the input's (resolved by ``fit``)."""
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in DTYPES:
        return np.dtype(dtype)
    raise ValueError(f"Unknown dtype {dtype!r}; expected None or one of {list(DTYPES)}")


def _drop_unweighted(X, targets, weights):
    """Leave out the samples of weight 0, so that they change nothing (not even scaling)."""
    if weights is None or weights.all():
        return X, targets, weights
    kept = np.flatnonzero(weights)
    return X[kept], targets[kept], weights[kept]
