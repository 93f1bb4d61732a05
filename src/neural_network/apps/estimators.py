"""A scikit-learn compatible ``MLPClassifier`` built on this library's training loop.

Needs scikit-learn (``pip install "neural-network[sklearn]"``). ``import neural_network``
does not import this module; ``neural_network.MLPClassifier`` imports it on first access.

It follows scikit-learn's estimator contract, so it can sit in a ``Pipeline``, be cloned by
``GridSearchCV`` and ``cross_val_score``, and be pickled to worker processes (joblib's loky
or Dask backend)::

    from sklearn.model_selection import GridSearchCV
    from neural_network import MLPClassifier

    search = GridSearchCV(
        MLPClassifier(random_state=0), {"hidden_layer_sizes": [(64,), (128,)]}, n_jobs=2
    )
    search.fit(x_train, y_train)
"""

from __future__ import annotations

import math
import numbers
import os

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
except ModuleNotFoundError as error:  # the one sentence a user without scikit-learn reads
    raise ModuleNotFoundError(
        'neural_network\'s MLPClassifier needs scikit-learn: pip install "neural-network[sklearn]"',
        name=error.name,
    ) from error
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from ..checks import check_bool, check_positive_int, check_real
from ..core.activations import get_activation
from ..core.losses import log_softmax
from ..core.model import Sequential, build_mlp
from ..data.preprocessing import MinMaxScaler
from ..io.model_files import ModelFile
from ..optim.optimizers import Optimizer, get_optimizer
from ..optim.schedules import Constant, Cosine, StepDecay
from ..train.callbacks import Callback, EarlyStopping, LRSchedule, ProgressBar
from ..train.history import History
from ..train.loop import fit
from .estimator_files import restore_classifier, save_classifier

SCHEDULE_NAMES = (None, "constant", "step", "cosine")
_PREDICT_BATCH = 2048


def _make_rng(random_state) -> np.random.Generator:
    """One ``np.random.Generator`` from scikit-learn's ``random_state`` conventions.

    ``None`` gives fresh entropy, an int a fixed seed; a ``RandomState`` is consumed (one draw
    seeds the generator, so successive fits differ), and a ``Generator`` is used as it is.
    """
    if random_state is None or (
        isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool)
    ):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return random_state
    raise ValueError(
        "random_state must be None, an int, a numpy RandomState or a numpy Generator; "
        f"got {random_state!r}"
    )


def _check_class_labels(classes: np.ndarray) -> np.ndarray:
    """Refuse labels that a model file cannot store: only booleans, integers, floats and
    strings are kept (datetime64 labels, say, would fit and then fail to save)."""
    storable = (bool, int, float, str, np.bool_, np.integer, np.floating, np.str_)
    if classes.dtype.kind not in "biufUO" or not all(
        isinstance(label, storable) for label in classes.tolist()
    ):
        raise ValueError(
            f"y holds labels of dtype {classes.dtype} ({classes[:1].tolist()[0]!r}, ...); class "
            "labels must be integers, floats, booleans or strings, which a model file can store"
        )
    return classes


def _encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Positions of the labels ``y`` in the sorted ``classes``.

    Raises:
        ValueError: if a label is not one of ``classes``.
    """
    labels = np.searchsorted(classes, y).clip(0, len(classes) - 1)
    unknown = classes[labels] != y
    if np.any(unknown):
        raise ValueError(
            f"y holds labels that are not in classes {classes!r}: {np.unique(y[unknown])!r}"
        )
    return labels.astype(np.intp, copy=False)


class MLPClassifier(ClassifierMixin, BaseEstimator):
    """Multi-layer perceptron classifier with scikit-learn's estimator interface.

    The network is ``Dense -> activation [-> Dropout]`` per hidden layer and a ``Dense``
    output to one logit per class, trained on softmax cross-entropy with mini-batches, by
    this library's :func:`~neural_network.fit` in float32. Labels may be of any type
    scikit-learn accepts for classification (ints, strings, ...): they are encoded as
    ``classes_`` (sorted) and decoded again by :meth:`predict`.

    Training runs for ``epochs`` epochs. With ``early_stopping``, a stratified
    ``validation_fraction`` of the training data is held out, training stops after
    ``patience`` epochs in a row without the validation loss dropping by more than
    ``min_delta``, and the weights of the epoch with the lowest validation loss are restored.

    Args:
        hidden_layer_sizes: Units of each hidden layer, e.g. ``(512, 256, 128)``; an int means
            one layer, ``()`` gives multinomial logistic regression.
        activation: Hidden activation: ``"relu"``, ``"leaky_relu"``, ``"sigmoid"`` or
            ``"tanh"``. Weights use He initialisation for the ReLU family, Glorot otherwise.
        lr: Initial learning rate.
        epochs: Maximum number of passes over the training data.
        batch_size: Samples per step (capped at the number of training samples).
        l2: Coupled L2 coefficient: ``loss += 0.5 * l2 * sum(W**2)`` over weights, not biases
            (added to the gradient before the optimiser, so with Adam this is not AdamW).
        dropout: Probability of *dropping* a hidden unit while training (inverted dropout,
            so prediction needs no rescaling); 0 disables it.
        clip_norm: Clip all gradients together to this global L2 norm; ``None`` disables it.
        optimizer: ``"adam"`` (betas 0.9, 0.999) or ``"sgd"`` (momentum 0.9).
        schedule: Learning-rate schedule over epochs: ``None`` or ``"constant"`` keeps ``lr``,
            ``"step"`` multiplies it by ``lr_decay`` every ``lr_decay_every`` epochs,
            ``"cosine"`` anneals it to 0 over ``epochs``.
        lr_decay: Factor of the ``"step"`` schedule, in ``(0, 1]``.
        lr_decay_every: Epochs between the ``"step"`` schedule's decays.
        early_stopping: Hold out a validation set and stop on its loss (see above).
        validation_fraction: Share of the training data held out with ``early_stopping``.
        patience: Epochs without improvement tolerated with ``early_stopping``.
        min_delta: Smallest validation-loss decrease that counts as improvement.
        scale_inputs: Min-max scale every feature to ``[0, 1]`` with statistics from the data
            given to :meth:`fit` (or the first :meth:`partial_fit` call). Constant features
            map to 0; values outside the training range are not clipped.
        random_state: Seed (int), ``None``, a ``np.random.RandomState`` or a
            ``np.random.Generator``; it drives weight initialisation, dropout, shuffling and
            the validation split. The same int gives bit-identical fits.
        verbose: Show a progress bar over epochs.

    Attributes:
        classes_: The class labels, sorted, shape ``(n_classes,)``.
        n_features_in_: Number of features seen by :meth:`fit`.
        feature_names_in_: Column names, when fitted on a DataFrame with string column names.
        model_: The trained :class:`~neural_network.Sequential`.
        scaler_: The fitted :class:`~neural_network.MinMaxScaler`, or ``None``.
        optimizer_: The optimiser, whose state :meth:`partial_fit` continues from.
        history_: The :class:`~neural_network.History` of all epochs run so far.
        n_iter_: Number of epochs run.
        loss_curve_: Training loss (L2 penalty included) of each epoch.
        val_loss_curve_: Validation loss of each epoch (empty without ``early_stopping``).
        validation_scores_: Validation accuracy of each epoch (empty without
            ``early_stopping``).
        best_epoch_: The epoch (from 1) whose weights were kept; ``n_iter_`` without
            ``early_stopping``.
        best_validation_score_: Validation accuracy of ``best_epoch_`` (``None`` without
            ``early_stopping``). The best epoch is chosen on loss, so this need not be the
            maximum of ``validation_scores_``.
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation: str = "relu",
        *,
        lr: float = 1e-3,
        epochs: int = 100,
        batch_size: int = 128,
        l2: float = 1e-4,
        dropout: float = 0.0,
        clip_norm: float | None = 5.0,
        optimizer: str = "adam",
        schedule: str | None = None,
        lr_decay: float = 0.5,
        lr_decay_every: int = 30,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 8,
        min_delta: float = 0.0,
        scale_inputs: bool = True,
        random_state=None,
        verbose: bool = False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.l2 = l2
        self.dropout = dropout
        self.clip_norm = clip_norm
        self.optimizer = optimizer
        self.schedule = schedule
        self.lr_decay = lr_decay
        self.lr_decay_every = lr_decay_every
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.scale_inputs = scale_inputs
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y) -> MLPClassifier:
        """Train a new network on ``(X, y)``, discarding any earlier fit.

        Args:
            X: Training inputs, array-like of shape ``(n_samples, n_features)``.
            y: Class labels, shape ``(n_samples,)``.

        Returns:
            self.

        Raises:
            ValueError: for invalid parameters, inputs or targets (regression, multilabel
                and multi-output targets included).
            TrainingDivergedError: if the loss or the gradient stops being finite.
        """
        settings = self._check_params()
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=True)
        self._check_targets(y)
        classes, labels = np.unique(y, return_inverse=True)
        self.classes_ = _check_class_labels(classes)
        labels = labels.reshape(-1).astype(np.intp, copy=False)
        rng = _make_rng(self.random_state)
        x = self._initialize(X, rng, settings)

        validation_data = early_stopping = None
        if settings["early_stopping"]:
            x, labels, validation_data = self._split_validation(x, labels, rng, settings)
            early_stopping = EarlyStopping(
                settings["patience"], settings["min_delta"], monitor="val_loss"
            )
        self._train(
            x,
            labels,
            settings,
            epochs=settings["epochs"],
            validation_data=validation_data,
            callbacks=[] if early_stopping is None else [early_stopping],
        )
        if early_stopping is not None and early_stopping.best_epoch:
            self.best_epoch_ = early_stopping.best_epoch
            self.best_validation_score_ = self.history_.val_accuracy[self.best_epoch_ - 1]
        else:
            self.best_epoch_, self.best_validation_score_ = self.n_iter_, None
        return self

    def partial_fit(self, X, y, classes=None) -> MLPClassifier:
        """Train for one more epoch on ``(X, y)``, continuing from the current weights.

        The optimiser state, the learning-rate schedule's epoch count and the history carry
        over from earlier :meth:`fit` or :meth:`partial_fit` calls. ``early_stopping`` does
        not apply here (there is no validation split), and the input scaler keeps the
        statistics of the first batch it was fitted on.

        Args:
            X: Inputs, shape ``(n_samples, n_features)``.
            y: Class labels, shape ``(n_samples,)``; each must be one of ``classes_``.
            classes: All the labels that will ever appear; required on the first call (when
                the estimator is not fitted yet), and if given later it must equal ``classes_``.

        Returns:
            self.

        Raises:
            ValueError: for invalid parameters, inputs, targets or ``classes``.
        """
        settings = self._check_params()
        first_call = not hasattr(self, "model_")
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if classes is not None:
            classes = _check_class_labels(np.unique(np.asarray(classes)))
            if not first_call and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from classes_={self.classes_!r} "
                    "of the earlier fit"
                )
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first_call)
        self._check_targets(y)
        labels = _encode_labels(y, classes if first_call else self.classes_)
        if first_call:
            self.classes_ = classes
            x = self._initialize(X, _make_rng(self.random_state), settings)
        else:
            x = self._scale(X)
        self._train(x, labels, settings, epochs=len(self.history_) + 1)
        self.best_epoch_, self.best_validation_score_ = self.n_iter_, None
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape ``(n_samples,)``, of the type of ``classes_``."""
        logits = self._logits(X)  # checks that the estimator is fitted
        return self.classes_[logits.argmax(axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities, shape ``(n_samples, n_classes)``, in the order of
        ``classes_``; computed from the logits in float64, so finite for any input."""
        return log_softmax(self._logits(X))

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, in the order of ``classes_``;
        each row sums to 1."""
        return np.exp(self.predict_log_proba(X))

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted classifier to one ``.npz`` at exactly ``path``, atomically.

        The file holds the network, the input scaler, ``classes_``, the feature names, the
        constructor parameters and the History; ``neural_network.load_model(path)`` gives
        back an ``MLPClassifier`` that predicts bit-identically. The optimiser state is not
        saved: :meth:`partial_fit` after loading starts a fresh optimiser from the loaded
        weights. A ``random_state`` that is not an int is saved as ``None``.

        Raises:
            NotFittedError: if the classifier is not fitted.
            ValueError: if the parameters were changed since fitting so that they no longer
                describe the network.
            ModelFileError: if a weight is not finite (nothing is written).
        """
        check_is_fitted(self)
        save_classifier(self, path)

    @classmethod
    def _from_model_file(cls, model_file: ModelFile) -> MLPClassifier:
        """Rebuild a saved classifier (the ``"mlp_classifier"`` loader of ``load_model``).

        Raises:
            ModelFileError: for settings that are invalid or do not describe the network.
        """
        estimator, settings = restore_classifier(cls, model_file)
        estimator.optimizer_ = estimator._make_optimizer(model_file.model, settings)
        estimator._rng = _make_rng(estimator.random_state)
        return estimator

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
        get_activation(self.activation)
        get_optimizer(self.optimizer)
        if self.schedule not in SCHEDULE_NAMES:
            raise ValueError(
                f"Unknown schedule {self.schedule!r}; expected one of {list(SCHEDULE_NAMES)}"
            )
        clip_norm = self.clip_norm
        if clip_norm is not None:
            clip_norm = check_real("clip_norm", clip_norm, "(0, inf)")
        return {
            "hidden": hidden,
            "lr": check_real("lr", self.lr, "(0, inf)"),
            "epochs": check_positive_int("epochs", self.epochs),
            "batch_size": check_positive_int("batch_size", self.batch_size),
            "l2": check_real("l2", self.l2, "[0, inf)"),
            "dropout": check_real("dropout", self.dropout, "[0, 1)"),
            "clip_norm": clip_norm,
            "lr_decay": check_real("lr_decay", self.lr_decay, "(0, 1]"),
            "lr_decay_every": check_positive_int("lr_decay_every", self.lr_decay_every),
            "early_stopping": check_bool("early_stopping", self.early_stopping),
            "validation_fraction": check_real(
                "validation_fraction", self.validation_fraction, "(0, 1)"
            ),
            "patience": check_positive_int("patience", self.patience),
            "min_delta": check_real("min_delta", self.min_delta, "[0, inf)"),
            "scale_inputs": check_bool("scale_inputs", self.scale_inputs),
        }

    @staticmethod
    def _check_targets(y: np.ndarray) -> None:
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"MLPClassifier supports binary and multiclass targets only; got {kind!r} y"
            )

    def _initialize(self, X: np.ndarray, rng: np.random.Generator, settings: dict) -> np.ndarray:
        """Fit the scaler, build the network and its optimiser; returns the scaled inputs."""
        self.scaler_ = MinMaxScaler(np.float32).fit(X) if settings["scale_inputs"] else None
        x = self._scale(X)
        self.model_: Sequential = build_mlp(
            x.shape[1],
            settings["hidden"],
            len(self.classes_),
            activation=self.activation,
            dropout=settings["dropout"] or None,
            rng=rng,
        )
        self.optimizer_ = self._make_optimizer(self.model_, settings)
        self.history_ = History()
        self._rng = rng
        return x

    def _scale(self, X: np.ndarray) -> np.ndarray:
        if self.scaler_ is not None:
            return self.scaler_.transform(X)
        return np.ascontiguousarray(X, dtype=np.float32)

    @staticmethod
    def _split_validation(x: np.ndarray, labels: np.ndarray, rng, settings: dict):
        """Hold out ``validation_fraction`` of the samples, stratified by class when every
        class can give a sample to both sides; returns ``(x, labels, (x_val, labels_val))``."""
        n_samples = len(x)
        if n_samples < 2:
            raise ValueError(f"early_stopping needs at least 2 samples; got {n_samples}")
        n_val = min(max(1, math.ceil(settings["validation_fraction"] * n_samples)), n_samples - 1)
        counts = np.bincount(labels)
        counts = counts[counts > 0]
        stratify = counts.min() >= 2 and len(counts) <= min(n_val, n_samples - n_val)
        train, val = train_test_split(
            np.arange(n_samples),
            test_size=n_val,
            stratify=labels if stratify else None,
            random_state=int(rng.integers(np.iinfo(np.int32).max)),
        )
        train = np.sort(train)
        return x[train], labels[train], (x[val], labels[val])

    def _make_optimizer(self, model: Sequential, settings: dict) -> Optimizer:
        return get_optimizer(self.optimizer)(
            model.flat, settings["lr"], l2=settings["l2"], clip_norm=settings["clip_norm"]
        )

    def _schedule(self, settings: dict):
        lr = settings["lr"]
        if self.schedule == "step":
            return StepDecay(lr, settings["lr_decay"], settings["lr_decay_every"])
        if self.schedule == "cosine":
            return Cosine(lr, settings["epochs"])
        return Constant(lr)

    def _train(
        self,
        x,
        labels,
        settings: dict,
        *,
        epochs: int,
        validation_data=None,
        callbacks: list[Callback] = (),
    ) -> None:
        callbacks = [LRSchedule(self._schedule(settings)), *callbacks]
        if self.verbose:
            callbacks.append(ProgressBar())
        fit(
            self.model_,
            x,
            labels,
            optimizer=self.optimizer_,
            epochs=epochs,
            batch_size=min(settings["batch_size"], len(x)),
            validation_data=validation_data,
            rng=self._rng,
            callbacks=callbacks,
            history=self.history_,
        )
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = list(self.history_.train_loss)
        self.val_loss_curve_ = list(self.history_.val_loss)
        self.validation_scores_ = list(self.history_.val_accuracy)

    def _logits(self, X) -> np.ndarray:
        """Float64 logits of the fitted network for raw inputs ``X``, in batches."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        x = self._scale(X)
        logits = np.empty((len(x), len(self.classes_)), dtype=np.float64)
        for start in range(0, len(x), _PREDICT_BATCH):
            batch = x[start : start + _PREDICT_BATCH]
            logits[start : start + _PREDICT_BATCH] = self.model_.forward(batch, training=False)
        return logits
