"""``MLPClassifier``: the scikit-learn classifier on this library's network and loop."""

from __future__ import annotations

import os
from typing import ClassVar

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ...core.link_losses import SigmoidBinaryCrossEntropy
from ...core.losses import SoftmaxCrossEntropy, log_softmax
from ...io.model_files import ModelFile
from ...train.callbacks import Callback
from .base import BaseMLP
from .binary import binary_log_probabilities, binary_probabilities, binary_targets, predict_labels
from .classifier_files import classifier_file_config, restore_classifier
from .files import save_estimator
from .labels import check_class_labels, check_same_classes, encode_labels
from .multilabel import (
    SubsetAccuracy,
    check_multilabel_options,
    indicator_targets,
    log_probabilities,
    predict_indicators,
    probabilities,
)
from .rules import not_lbfgs
from .weights import class_weights, combine_weights


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier with scikit-learn's estimator interface.

    The network is ``Dense -> activation [-> Dropout]`` per hidden layer and a ``Dense``
    output to one logit per class, trained on softmax cross-entropy with mini-batches, by
    this library's :func:`~neural_network.fit` in the input's dtype (see ``dtype``). Two
    classes have one output unit instead, as in scikit-learn: the logit of ``classes_[1]``,
    trained on binary cross-entropy (``out_activation_ == "logistic"``, ``coefs_[-1]`` of
    shape ``(n_hidden, 1)``, :meth:`predict_proba` ``[1 - p, p]``). A model file written
    before, with two softmax units for two classes, loads, predicts and warm-starts as it
    was trained; a fresh :meth:`fit` gives it the one output.
    Labels may be of any type scikit-learn accepts for classification (ints, strings,
    ...): they are encoded as ``classes_`` (sorted) and decoded again by :meth:`predict`.
    A 0/1 label-indicator ``y`` of shape ``(n_samples, n_labels)`` is multilabel
    classification, as in scikit-learn: one sigmoid output per label trained on binary
    cross-entropy, ``classes_ = arange(n_labels)``, ``out_activation_ == "logistic"``,
    :meth:`predict` returning the indicator matrix and :meth:`predict_proba` each label's
    probability; ``score`` and early stopping use the subset accuracy, the validation split
    is not stratified, and ``class_weight`` and ``device="cuda"`` are refused.

    ``X`` may be a scipy.sparse matrix or array: it stays sparse (only the first layer
    multiplies it), and ``scale_inputs`` then divides each feature by its largest magnitude
    instead of min-max scaling it (the same for a non-negative feature holding a 0).

    ``solver="lbfgs"`` trains on the whole set at once with scipy's L-BFGS-B on
    scikit-learn's objective (the mean loss plus ``0.5 * alpha * sum(W**2) / n_samples``):
    ``max_iter`` caps its iterations, ``max_fun`` its loss evaluations, ``tol`` is scipy's
    ``gtol``, and it warns ``ConvergenceWarning`` with scikit-learn's words when it stops on
    a limit. The stochastic solvers' parameters and ``early_stopping`` are ignored, as in
    scikit-learn; ``dropout > 0`` and a GPU ``device`` are refused. Each iteration is one
    entry of ``history_`` and ``loss_curve_``.

    The parameters are scikit-learn's ``MLPClassifier``'s, with its names, meanings and
    defaults; this library's own (``dropout``, ``init``, ``clip_norm``, ``schedule``,
    ``scale_inputs``, ``dtype``, ``class_weight``, ``device``) follow them.

    The stochastic solvers train for at most ``max_iter`` epochs. Without
    ``early_stopping`` they stop once more than ``n_iter_no_change`` epochs in a row have
    not lowered the training loss by ``tol`` (scikit-learn's rule), and warn with
    ``ConvergenceWarning`` when they run out of epochs instead. With ``early_stopping``, a
    stratified ``validation_fraction`` of the training data is held out, training stops
    once more than ``n_iter_no_change`` epochs in a row have not raised the validation
    score (accuracy; R² for the regressor) by ``tol``, and the weights of the epoch with the
    highest score are restored, as in scikit-learn.
    :meth:`partial_fit` refuses ``early_stopping=True``, as scikit-learn's does.

    ``sample_weight`` (in :meth:`fit` and :meth:`partial_fit`) and ``class_weight`` weigh
    each sample's loss: the loss is ``sum_i w_i l_i / sum_i w_i`` per mini-batch, so an
    integer weight is the same as repeating the sample and a weight of 0 leaves it out.

    Args:
        hidden_layer_sizes: Units of each hidden layer, e.g. ``(512, 256, 128)``; an int means
            one layer, ``()`` gives multinomial logistic regression.
        activation: Hidden activation: ``"relu"``, ``"identity"``, ``"logistic"`` (or
            ``"sigmoid"``),
            ``"tanh"`` or ``"leaky_relu"``.
        solver: ``"adam"``, ``"sgd"`` or ``"lbfgs"`` (see above).
        alpha: L2 strength as scikit-learn means it: each mini-batch's loss gets
            ``0.5 * alpha * sum(W**2) / sum(w)`` over weights, not biases (coupled: with
            Adam this is not AdamW), ``sum(w)`` being that batch's sample-weight sum: its
            size without weights (all the samples for ``"auto"`` below 200), and the
            smaller last batch is penalised by its own size.
        batch_size: Samples per step; ``"auto"`` is ``min(200, n_samples)``, and a larger
            one is capped at the number of training samples.
        learning_rate: ``"constant"``, ``"invscaling"`` (``learning_rate_init / (t + 1) **
            power_t`` after each epoch, ``t`` the samples trained on so far; each :meth:`fit`
            starts at ``learning_rate_init``) or ``"adaptive"`` (divided by 5 on a
            training-loss plateau while above 1e-6; the next plateau then stops); as in
            scikit-learn it steers ``solver="sgd"`` only.
        learning_rate_init: Initial learning rate.
        power_t: Exponent of ``"invscaling"``.
        max_iter: Maximum number of passes over the training data.
        shuffle: Shuffle the samples every epoch; ``False`` takes the batches in the data's
            order every epoch (the generator is then used for initialisation only).
        tol: Smallest decrease of the monitored loss that counts as improvement.
        momentum: SGD's momentum, in ``[0, 1]``.
        nesterovs_momentum: Nesterov momentum with SGD (``False``: heavy-ball momentum).
        beta_1, beta_2, epsilon: Adam's.
        n_iter_no_change: Epochs without improvement tolerated (see above); ``np.inf``
            never stops early.
        max_fun: ``solver="lbfgs"``'s limit on loss evaluations.
        dropout: Probability of *dropping* a hidden unit while training (inverted dropout,
            so prediction needs no rescaling); 0 disables it.
        init: ``"scikit-learn"`` draws scikit-learn's initial weights and biases (the same
            for the same ``random_state``); a key of ``neural_network.INITIALIZERS``, or
            ``None`` for the activation's (He for ReLU, Glorot otherwise), with zero biases.
        clip_norm: Clip all gradients together to this global L2 norm; ``None`` disables it.
        schedule: Learning-rate schedule over epochs (with ``learning_rate="constant"``):
            ``None`` or ``"constant"`` keeps ``learning_rate_init``,
            ``"step"`` multiplies it by ``lr_decay`` every ``lr_decay_every`` epochs,
            ``"cosine"`` anneals it to ``learning_rate_init / 100`` over ``max_iter``.
            Each :meth:`fit` call runs the schedule afresh; :meth:`partial_fit` continues
            it (and stays at the last rate once it has run out).
        lr_decay: Factor of the ``"step"`` schedule, in ``(0, 1]``.
        lr_decay_every: Epochs between the ``"step"`` schedule's decays.
        early_stopping: Hold out a validation set and stop on its score (see above).
        validation_fraction: Share of the training data held out with ``early_stopping``.
        scale_inputs: Min-max scale every feature to ``[0, 1]`` with statistics from the data
            given to :meth:`fit` (or the first :meth:`partial_fit` call). Constant features
            map to 0; values outside the training range are not clipped. Off by default, as
            scikit-learn trains on the inputs as given (scale them in a pipeline).
        random_state: Seed (int), ``None``, a ``np.random.RandomState`` or a
            ``np.random.Generator``; it drives weight initialisation, dropout, shuffling and
            the validation split. The same int gives the same fit, bit-identical when the
            BLAS thread count is fixed (e.g. inside threadpoolctl's ``threadpool_limits``;
            otherwise training chooses it by timing and results match to rounding).
        warm_start: Let :meth:`fit` continue from the fitted network (with a fresh
            optimiser, as scikit-learn does) instead of starting a new one; the parameters
            that shape the network must not change in between.
        dtype: The network's and training's dtype: ``None`` takes the input's, as
            scikit-learn does (float32 for float32 ``X``, float64 otherwise);
            ``"float32"`` is about twice as fast on float64 data, ``"float64"`` exact: in
            float64 weighting a sample 2 and repeating it agree to rounding (1e-12), as
            scikit-learn's checks ask; in float32, to about 1e-6.
        class_weight: ``None``, ``"balanced"`` (class ``c`` weighs ``n / (n_classes * n_c)``,
            counted in sample weights; not available in :meth:`partial_fit`) or a dict
            ``{label: weight}`` (labels left out weigh 1).
        device: ``"cpu"`` or ``"cuda"`` (an NVIDIA GPU through CuPy, the ``cuda`` extra);
            sample and class weights train on the CPU only. Fitted networks save and load
            on any machine.
        verbose: Print each epoch's training loss, as scikit-learn does (``Iteration 1,
            loss = ...``).

    Attributes:
        classes_: The class labels, sorted, shape ``(n_classes,)``.
        n_features_in_: Number of features seen by :meth:`fit`.
        feature_names_in_: Column names, when fitted on a DataFrame with string column names.
        model_: The trained :class:`~neural_network.Sequential`.
        scaler_: The fitted :class:`~neural_network.MinMaxScaler`, or ``None``.
        optimizer_: The optimiser, whose state :meth:`partial_fit` continues from (not with
            ``solver="lbfgs"``).
        history_: The :class:`~neural_network.History` of every epoch since the network
            was built (across warm starts and :meth:`partial_fit` calls).
        n_iter_: Number of epochs (L-BFGS iterations) the last :meth:`fit` or
            :meth:`partial_fit` call ran.
        t_: Number of training samples seen, as scikit-learn counts (samples times epochs).
        coefs_, intercepts_: The weight matrices and bias vectors of each layer. Assigning
            lists of arrays sets the weights, as in scikit-learn: on a fitted classifier at
            once (each of its shape, else ``ValueError`` naming it), on an unfitted one at
            the next :meth:`partial_fit` (or warm-started :meth:`fit`), which trains from them.
        n_layers_, n_outputs_, out_activation_: Layers (input and output included), output
            units and the output activation (``"softmax"``; ``"logistic"`` for two classes,
            with one output, and for multilabel).
        loss_: The training loss of the last epoch.
        loss_curve_: Training loss (L2 penalty included) of each epoch of ``history_``.
        best_loss_: The lowest of ``loss_curve_``; ``None`` with ``early_stopping`` (see
            ``best_validation_score_``).
        val_loss_curve_: Validation loss of each epoch (``None`` without
            ``early_stopping``).
        validation_scores_: Validation accuracy of each epoch (``None`` without
            ``early_stopping``).
        best_epoch_: The epoch of ``history_`` (from 1) whose weights were kept; the last
            one without ``early_stopping``.
        best_validation_score_: Validation accuracy of ``best_epoch_`` (``None`` without
            ``early_stopping``): the maximum of ``validation_scores_``.
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
        class_weight: dict | str | None = None,
        device: str = "cpu",
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
        self.class_weight = class_weight
        self.device = device

    _validate_kwargs: ClassVar[dict] = {"multi_output": True}  # a label-indicator y

    @property
    def _multilabel(self) -> bool:
        """Whether the classifier was fitted on a label-indicator ``y``."""
        return self.__dict__.get("_indicator_y", False)

    @property
    def _binary(self) -> bool:
        """Two classes and one logistic output (``classes_[1]``'s), as scikit-learn's; not
        two softmax units (a file written before, and its warm starts)."""
        return self.__dict__.get("_logistic_binary", False)

    @property
    def _logistic(self) -> bool:
        """Sigmoid outputs on binary cross-entropy (multilabel, or two classes' one unit)."""
        return self._multilabel or self._binary

    @property
    def _out_activation(self) -> str:
        return "logistic" if self._logistic else "softmax"

    def _strata(self, targets: np.ndarray) -> np.ndarray | None:
        """scikit-learn's strata: the classes as its classifier encodes them to train (one
        boolean column for two classes, one-hot rows for more), so that a class too small
        to stratify gets scikit-learn's error, in its words; multilabel ``y`` is not
        stratified, as in scikit-learn."""
        if self._multilabel:
            return None
        if len(self.classes_) == 2:
            return (targets == 1).reshape(-1, 1)
        return targets.reshape(-1, 1) == np.arange(len(self.classes_))

    def _split_hint(self, targets: np.ndarray) -> str:
        if self._multilabel:
            return super()._split_hint(targets)
        labels = targets.reshape(-1).astype(np.intp)  # a binary 0/1 column, or class ids
        counts = np.bincount(labels, minlength=len(self.classes_))
        present = counts > 0
        return (
            f"{super()._split_hint(targets)}, stratified by class, as scikit-learn's "
            f"MLPClassifier does: each class needs 2 samples or more, and one for each side; "
            f"samples per class: "
            + ", ".join(
                f"{label!r}: {count}"
                for label, count in zip(
                    self.classes_[present].tolist(), counts[present].tolist(), strict=True
                )
            )
        )

    def fit(self, X, y, sample_weight=None) -> MLPClassifier:
        """Train on ``(X, y)``: a new network, or with ``warm_start`` the fitted one.

        Args:
            X: Training inputs, array-like or scipy.sparse, ``(n_samples, n_features)``.
            y: Class labels, shape ``(n_samples,)``, or a 0/1 label-indicator matrix
                ``(n_samples, n_labels)``.
            sample_weight: Non-negative weight of each sample, shape ``(n_samples,)``;
                ``None`` weighs every sample 1.

        Returns:
            self.

        Raises:
            ValueError: for invalid parameters, inputs, weights or targets (regression and
                multiclass-multioutput targets included), with ``warm_start``, ``y`` whose
                classes differ from ``classes_``, and scikit-learn's "Solver produced
                non-finite parameter weights" when the loss, the gradient or a weight stops
                being finite (also a ``TrainingDivergedError``).
        """
        if self.warm_start and hasattr(self, "classes_"):
            check_same_classes(y, self.classes_)
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(not_lbfgs)
    def partial_fit(self, X, y, classes=None, sample_weight=None) -> MLPClassifier:
        """Train for one more epoch on ``(X, y)``, continuing from the current weights.

        The optimiser state, the learning-rate schedule and the history carry over from
        earlier :meth:`fit` or :meth:`partial_fit` calls; the input scaler keeps the
        statistics of the first data it was fitted on. As in scikit-learn, it is refused
        with ``early_stopping=True`` and not available with ``solver="lbfgs"``.

        Args:
            X: Inputs, shape ``(n_samples, n_features)``.
            y: Class labels, shape ``(n_samples,)``; each must be one of ``classes_``.
            classes: All the labels that will ever appear; required on the first call (when
                the estimator is not fitted yet), and if given later it must equal ``classes_``.
            sample_weight: Non-negative weight of each sample, or ``None``.

        Returns:
            self.

        Raises:
            ValueError: for invalid parameters, inputs, weights, targets or ``classes``.
        """
        first_call = not hasattr(self, "model_")
        if first_call and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit")
        if classes is not None:
            classes = check_class_labels(np.unique(np.asarray(classes)))
            if not first_call and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} differs from classes_={self.classes_!r} "
                    "of the earlier fit"
                )
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, shape ``(n_samples,)``, of the type of ``classes_``; for
        a multilabel fit, the label-indicator matrix ``(n_samples, n_labels)`` of 0/1
        integers (1 where the label's probability is above 0.5)."""
        logits = self._outputs(X)  # checks that the estimator is fitted
        if self._multilabel:
            return predict_indicators(logits)
        if self._binary:
            return predict_labels(self.classes_, logits)
        return self.classes_[logits.argmax(axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        """Log class probabilities, shape ``(n_samples, n_classes)``, in the order of
        ``classes_``; computed from the logits in float64, so finite for any input."""
        logits = self._outputs(X)
        if self._binary:
            return binary_log_probabilities(logits)
        return log_probabilities(logits) if self._multilabel else log_softmax(logits)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape ``(n_samples, n_classes)``, in the order of ``classes_``;
        each row sums to 1. For a multilabel fit, each label's own probability (sigmoid
        outputs: a row need not sum to 1)."""
        if self._multilabel:
            return probabilities(self._outputs(X))
        if self._binary:
            return binary_probabilities(self._outputs(X))
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
        config, classes = classifier_file_config(self)
        save_estimator(self, path, kind="mlp_classifier", config=config, arrays={}, classes=classes)

    @classmethod
    def _from_model_file(cls, model_file: ModelFile) -> MLPClassifier:
        """Rebuild a saved classifier (the ``"mlp_classifier"`` loader of ``load_model``).

        Raises:
            ModelFileError: for settings that are invalid or do not describe the network.
        """
        return restore_classifier(cls, model_file)

    @property
    def _n_outputs(self) -> int:
        return 1 if self._binary else len(self.classes_)

    def _make_loss(self, settings: dict) -> SoftmaxCrossEntropy | SigmoidBinaryCrossEntropy:
        return SigmoidBinaryCrossEntropy() if self._logistic else SoftmaxCrossEntropy()

    def _loss_targets(self, targets: np.ndarray) -> np.ndarray:
        """Binary: the class ids as the 0/1 column of the one output (``classes_[1]``)."""
        return binary_targets(targets) if self._binary else targets

    def _prepare_targets(self, y, sample_weight, *, reset: bool, classes=None) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] == 1:  # scikit-learn warns and takes the column
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                "MLPClassifier supports binary, multiclass and multilabel-indicator targets "
                f"only; got {kind!r} y"
            )
        multilabel = kind == "multilabel-indicator"
        if not reset and multilabel != self._multilabel:
            raise ValueError(
                f"y is {'a label-indicator matrix' if multilabel else 'one label per sample'} "
                f"but the classifier was fitted on "
                f"{'a label-indicator matrix' if self._multilabel else 'one label per sample'}"
                "; fit afresh with warm_start=False"
            )
        if multilabel:
            check_multilabel_options(self.class_weight, self.device)
            if reset:  # scikit-learn's classes_ for an indicator y: the label positions
                self.classes_, self._indicator_y = np.arange(y.shape[1]), True
                self._subset_accuracy: list[float] = []
                self._logistic_binary = False  # not left from an earlier fit
            return indicator_targets(y, n_labels=None if reset else len(self.classes_))
        if not reset:
            return encode_labels(y, self.classes_)
        self._indicator_y = False
        if classes is None:
            classes, labels = np.unique(y, return_inverse=True)
            self.classes_ = check_class_labels(classes)
            labels = labels.reshape(-1).astype(np.intp, copy=False)
        else:
            self.classes_ = classes
            labels = encode_labels(y, classes)
        self._logistic_binary = len(self.classes_) == 2  # scikit-learn's: one logistic output
        self._subset_accuracy = []
        return labels

    def _weigh(self, weights, targets, *, incremental: bool):
        if self._multilabel:  # class weights are refused with multilabel y
            return weights
        if incremental and isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                'class_weight="balanced" is not available in partial_fit, which sees one '
                "part of the data at a time; compute the weights with scikit-learn's "
                "compute_class_weight on a large sample of the labels and pass them as a dict"
            )
        per_class = class_weights(self.class_weight, self.classes_, targets, weights)
        return combine_weights(weights, per_class, targets)

    def _validation_scores(self) -> list[float]:
        return list(self._subset_accuracy if self._logistic else self.history_.val_accuracy)

    def _validation_callbacks(self, validation_data) -> list[Callback]:
        if validation_data is None or not self._logistic:
            return []  # softmax outputs: the loop records the validation accuracy
        return [SubsetAccuracy(self._subset_accuracy)]

    def _validation_score_list(self) -> list[float] | None:
        return self._subset_accuracy if self._logistic else None
