"""The classic API of the original project, "Neural Network from Scratch – Optimized Version",
with its exact names: ``NeuralNetwork`` and ``one_hot_encode``.

That API keeps samples in *columns*: ``X`` is ``(n_features, n_samples)`` and ``y`` is one-hot
``(num_labels, n_samples)``. This class transposes once on the way in and out; inside, the
library keeps samples in rows. Inputs are raw values (MNIST pixels 0-255): a per-feature
min-max scaler is fitted on ``X`` and applied to every input, test data included.

How it maps onto the layers: the constructor is ``MinMaxScaler`` plus ``build_mlp``;
``fit`` is ``neural_network.fit`` with ``Adam(l2=lam, clip_norm=grad_clip)`` and the
callbacks ``LRSchedule(StepDecay(lr, lr_decay, lr_decay_every))``, ``EarlyStopping`` on the
test accuracy, ``ProgressBar`` and, when asked, ``Checkpoint``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..checks import check_optional_real, check_positive_int, check_real
from ..core.activations import ACTIVATIONS, get_activation
from ..core.layers import Dense, Dropout
from ..core.model import Sequential, build_mlp
from ..data.preprocessing import MinMaxScaler, one_hot
from ..io.archive import ModelFileError
from ..io.checkpoints import Checkpoint
from ..io.model_files import ModelFile, read_history, save_model
from ..optim.optimizers import Adam
from ..optim.schedules import StepDecay
from ..train.callbacks import Callback, EarlyStopping, LRSchedule, ProgressBar
from ..train.history import History
from ..train.loop import fit
from ..train.run import TrainingRun
from .plotting import plot_accuracy, plot_loss

DEFAULT_ARCHITECTURE = (512, 256, 128)


def one_hot_encode(labels: Sequence[int] | np.ndarray, num_labels: int) -> np.ndarray:
    """One-hot columns: returns shape ``(num_labels, n)``, float32.

    Raises:
        ValueError: if a label is not an integer in ``[0, num_labels)``.
    """
    return one_hot(np.asarray(labels).ravel(), num_labels).T.copy()


class _LogLine(Callback):
    """Prints the original project's log line every ``log_every`` epochs (and the first and
    last), above the progress bar."""

    def __init__(self, network: NeuralNetwork, log_every: int, epochs: int):
        self.network, self.log_every, self.epochs = network, log_every, epochs

    def on_epoch_end(self, run: TrainingRun) -> None:
        if run.epoch % self.log_every == 0 or run.epoch in (1, self.epochs):
            tqdm.write(self.network._log_line(run.history))


class NeuralNetwork:
    """A fully connected classifier with the original project's constructor and ``fit``.

    Args:
        X: Training inputs, ``(n_features, n_samples)``, raw values.
        y: One-hot training labels, ``(num_labels, n_samples)``.
        X_test: Optional test inputs, same layout; evaluated after every epoch.
        y_test: One-hot test labels.
        activation: ``"relu"``, ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"`` or
            ``"identity"``.
        num_labels: Number of classes.
        architecture: Hidden layer sizes, e.g. ``[512, 256, 128]``; one integer is one
            hidden layer (``512`` is ``[512]``), ``[]`` none.
        seed: Seed of the one ``np.random.Generator`` behind initialisation, shuffling and
            dropout; the same seed gives bit-identical runs when ``fit``'s ``threads`` is
            pinned.
        device: ``"cpu"`` or ``"cuda"`` (an NVIDIA GPU, through CuPy): where the weights,
            the training data and the optimiser live while training. Predictions and saved
            files are NumPy arrays either way.

    Raises:
        ValueError: for shapes that disagree, labels that are not one-hot, NaN or infinite
            inputs, an unknown activation or device, or an architecture that is not
            positive integers (a string such as ``"512"``, ``1.5`` and ``True`` are refused).
        DeviceUnavailableError: for ``device="cuda"`` without CuPy or without a GPU.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        activation: str = "relu",
        num_labels: int = 10,
        architecture: Sequence[int] = DEFAULT_ARCHITECTURE,
        seed: int | None = None,
        device: str = "cpu",
    ):
        get_activation(activation)
        self.activation = activation
        self.num_labels = check_positive_int("num_labels", num_labels)
        self.architecture = _check_architecture(architecture)
        self.seed = seed
        x_rows = self._check_inputs(X, "X", n_samples=_n_columns(y))
        self.labels = self._check_one_hot(y, x_rows.shape[0], "y", "X")
        self.scaler = MinMaxScaler().fit(x_rows)
        self.x = self.scaler.transform(x_rows)
        if (X_test is None) != (y_test is None):
            raise ValueError("X_test and y_test must be given together")
        self.x_test = self.labels_test = None
        if X_test is not None:
            x_test_rows = self._check_inputs(
                X_test, "X_test", n_features=x_rows.shape[1], n_samples=_n_columns(y_test)
            )
            self.labels_test = self._check_one_hot(y_test, x_test_rows.shape[0], "y_test", "X_test")
            self.x_test = self.scaler.transform(x_test_rows)
        self.rng = np.random.default_rng(seed)
        self.model = build_mlp(
            self.x.shape[1],
            self.architecture,
            self.num_labels,
            activation=activation,
            dropout=0.0,
            rng=self.rng,
            device=device,
        )
        self.history = History()
        self.best_epoch: int | None = None

    def _check_inputs(
        self, X, name: str, n_features: int | None = None, n_samples: int | None = None
    ) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_features, n_samples); got shape {X.shape}")
        if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
            raise ValueError(f"{name} must hold real numbers; got dtype {X.dtype}")
        # Samples in rows, as most libraries take them: the commonest mistake with this API.
        rows_given = (n_features is not None and X.shape[1] == n_features != X.shape[0]) or (
            n_samples is not None and X.shape[0] == n_samples != X.shape[1]
        )
        if rows_given:
            raise ValueError(
                f"{name} has shape {X.shape}, one sample per row, but samples are columns in "
                f"this API, (n_features, n_samples): pass {name}.T"
            )
        if n_features is not None and X.shape[0] != n_features:
            raise ValueError(
                f"{name} has {X.shape[0]} features (rows) but the network expects {n_features}; "
                "samples are columns in this API"
            )
        if np.issubdtype(X.dtype, np.floating) and not np.isfinite(X).all():
            raise ValueError(f"{name} holds NaN or infinite values")
        return X.T

    def _check_one_hot(self, y, n_samples: int, name: str, x_name: str) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == self.num_labels != y.shape[0]:
            raise ValueError(
                f"{name} has shape {y.shape}, one sample per row, but samples are columns in "
                f"this API, (num_labels={self.num_labels}, n_samples): pass {name}.T "
                f"(and {x_name}.T if its samples are rows too)"
            )
        if y.ndim != 2 or y.shape[0] != self.num_labels:
            raise ValueError(
                f"{name} must be one-hot with shape (num_labels={self.num_labels}, n_samples); "
                f"got shape {y.shape}"
            )
        if y.shape[1] != n_samples:
            raise ValueError(
                f"{x_name} has {n_samples} samples (columns) but {name} has {y.shape[1]}"
            )
        if not (np.isin(y, (0, 1)).all() and (y.sum(axis=0) == 1).all()):
            raise ValueError(f"{name} must be one-hot: each column holds a single 1 and zeros")
        return y.argmax(axis=0).astype(np.intp)

    def fit(
        self,
        lr: float = 1e-3,
        epochs: int = 30,
        batch_size: int = 128,
        lam: float = 1e-4,
        dropout_keep: float = 1.0,
        grad_clip: float | None = 5.0,
        early_stopping_patience: int | None = 8,
        lr_decay: float = 0.5,
        lr_decay_every: int = 30,
        min_delta: float = 0.0,
        log_every: int = 5,
        verbose: bool = True,
        checkpoint_path: str | os.PathLike | None = None,
        checkpoint_every: int = 1,
        resume_from: str | os.PathLike | None = None,
        threads: int | str = "auto",
    ) -> History:
        """Train with Adam on mini-batches; print a log line every ``log_every`` epochs.

        Args:
            lr: Initial Adam learning rate.
            epochs: Maximum number of epochs.
            batch_size: Samples per step.
            lam: Coupled L2 coefficient (``cost += lam/2 * sum(W**2)``, weights only).
            dropout_keep: Probability of *keeping* a hidden unit (1.0 = no dropout);
                inverted dropout, so prediction needs no rescaling.
            grad_clip: Global-norm gradient clipping threshold; ``None`` disables it.
            early_stopping_patience: Stop after this many epochs without a higher test
                accuracy (lower train cost when there is no test set) and restore the best
                epoch's weights; ``None`` or 0 disables it. As in the original project, the
                test set given to the constructor doubles as the validation set, so the
                reported test accuracy is that of the epoch chosen on it.
            lr_decay: Factor applied to the learning rate every ``lr_decay_every`` epochs.
            lr_decay_every: Epochs between decays (the original project decays every 30).
            min_delta: Smallest change of the monitored value (test accuracy, or train cost
                without a test set) that counts as an improvement for early stopping.
            log_every: Print the log line every this many epochs (and after the first and the
                last).
            verbose: Show the progress bar and the log lines.
            checkpoint_path: Write a training checkpoint here every ``checkpoint_every``
                epochs and after the last one (see ``neural_network.Checkpoint``).
            checkpoint_every: Epochs between checkpoints.
            resume_from: Continue the run that wrote this checkpoint. Build the network as
                before (same data and seed) and call ``fit`` with the same arguments; the
                weights end bit-identical to those of an uninterrupted run when ``threads``
                is pinned.
            threads: BLAS threads for the matrix products. ``"auto"`` times training steps
                with each count and keeps the fastest (checking again as the machine's load
                changes), so a busy machine does not slow training down many times over;
                results then match to rounding only. An integer pins the count: the same
                seed then gives the same bits.

        Returns:
            The run's History (also kept as ``self.history``). Each call starts a new
            history and a new optimiser from the current weights, unless it resumes.

        Raises:
            RuntimeError: for a network loaded from a file, which holds no training data.
        """
        if self.x is None:
            raise RuntimeError(
                "This NeuralNetwork was loaded from a file and holds no training data; "
                "build a new one from X and y to train"
            )
        lr = check_real("lr", lr, "(0, inf)")
        epochs = check_positive_int("epochs", epochs)
        check_positive_int("batch_size", batch_size)
        log_every = check_positive_int("log_every", log_every)
        lam = check_real("lam", lam, "[0, inf)")
        dropout_keep = check_dropout_keep("dropout_keep", dropout_keep)
        grad_clip = check_optional_real("grad_clip", grad_clip, "(0, inf)")
        for layer in self.model.layers:
            if isinstance(layer, Dropout):
                layer.rate = 1.0 - dropout_keep
        callbacks: list[Callback] = [LRSchedule(StepDecay(lr, lr_decay, lr_decay_every))]
        if verbose:
            callbacks += [_LogLine(self, log_every, epochs), ProgressBar()]
        early_stopping = None
        if early_stopping_patience:
            monitor = "val_accuracy" if self.x_test is not None else "train_loss"
            early_stopping = EarlyStopping(early_stopping_patience, min_delta, monitor=monitor)
            callbacks.append(early_stopping)
        if checkpoint_path is not None or resume_from is not None:
            callbacks.append(
                Checkpoint(checkpoint_path, every=checkpoint_every, resume_from=resume_from)
            )
        validation = (self.x_test, self.labels_test) if self.x_test is not None else None
        self.history = fit(
            self.model,
            self.x,
            self.labels,
            optimizer=Adam(self.model.flat, lr=lr, l2=lam, clip_norm=grad_clip),
            epochs=epochs,
            batch_size=batch_size,
            validation_data=validation,
            rng=self.rng,
            callbacks=callbacks,
            threads=threads,
        )
        self.best_epoch = len(self.history)
        if early_stopping is not None and early_stopping.best_epoch:
            self.best_epoch = early_stopping.best_epoch
        if verbose and early_stopping is not None and early_stopping.stopped:
            tqdm.write(
                f"Early stopping after epoch {self.history.epoch[-1]}; restored the weights of "
                f"epoch {early_stopping.best_epoch}"
            )
        return self.history

    def save(self, path: str | os.PathLike) -> None:
        """Write the network, its scaler, its settings and History to one ``.npz`` at exactly
        ``path``, atomically. ``neural_network.load_model(path)`` gives back a
        ``NeuralNetwork`` that predicts bit-identically (but holds no training data).

        Raises:
            ModelFileError: if a weight is not finite (nothing is written).
        """
        config = {
            "activation": self.activation,
            "num_labels": self.num_labels,
            "architecture": self.architecture,
            "seed": None if self.seed is None else int(self.seed),
            "scaler_dtype": str(self.scaler.dtype),
            "history": self.history.to_dict(),
        }
        state = self.scaler.get_state()
        arrays = {"scaler.min": state["min"], "scaler.scale": state["scale"]}
        save_model(path, self.model, kind="neural_network", config=config, arrays=arrays)

    @classmethod
    def _from_model_file(cls, model_file: ModelFile) -> NeuralNetwork:
        """Rebuild a saved network (the ``"neural_network"`` loader of ``load_model``)."""
        config, model = model_file.config, model_file.model
        _check_saved_config(config, model)
        n_features = model.n_features
        for key in ("scaler.min", "scaler.scale"):
            if model_file.arrays[key].shape != (n_features,):
                raise ModelFileError(
                    f"{key} has shape {model_file.arrays[key].shape}; expected ({n_features},)"
                )
        network = cls.__new__(cls)
        network.activation, network.num_labels = config["activation"], config["num_labels"]
        network.architecture, network.seed = list(config["architecture"]), config["seed"]
        network.scaler = MinMaxScaler.from_state(
            {"min": model_file.arrays["scaler.min"], "scale": model_file.arrays["scaler.scale"]},
            dtype=np.dtype(config["scaler_dtype"]),
        )
        network.x = network.labels = network.x_test = network.labels_test = None
        network.rng = np.random.default_rng(config["seed"])
        network.model = model
        network.history = read_history(config["history"])
        network.best_epoch = None
        return network

    @staticmethod
    def _log_line(history: History) -> str:
        last = history.last()
        test = f" | Test {100 * last['val_accuracy']:.2f}%" if history.val_accuracy else ""
        return (
            f"Epoch {last['epoch']:3d} | Cost {last['train_loss']:.4f} | "
            f"Train {100 * last['train_accuracy']:.2f}%{test} | LR {last['lr']:.2e}"
        )

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(num_labels, n_samples)`` for raw inputs ``(n_features, n)``."""
        x_rows = self._check_inputs(X, "X", n_features=len(self.scaler.min_))
        return self.model.predict_proba(self.scaler.transform(x_rows)).T

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class ids ``(n_samples,)`` for raw inputs ``(n_features, n_samples)``."""
        return self.predict_proba(X).argmax(axis=0)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of columns of ``X`` classified as the one-hot ``y`` says."""
        labels = self._check_one_hot(y, np.asarray(X).shape[-1], "y", "X")
        return float(np.mean(self.predict(X) == labels))

    @property
    def costs(self) -> list[float]:
        """Train cost per epoch of the last ``fit``."""
        return self.history.train_loss

    @property
    def train_accuracies(self) -> list[float]:
        return self.history.train_accuracy

    @property
    def test_accuracies(self) -> list[float]:
        return self.history.val_accuracy

    def plot_cost(
        self,
        lr_used: float | None = None,
        path: str | os.PathLike | None = None,
        show: bool = False,
    ):
        """Cost per epoch (train with its L2 penalty, and test if given), the kept epoch
        marked; returns the matplotlib Figure."""
        title = "Cost per epoch" + (f" (lr={lr_used:g})" if lr_used is not None else "")
        best = self.best_epoch
        return plot_loss(self.history, title=title, best_epoch=best, path=path, show=show)

    def plot_accuracies(
        self,
        lr_used: float | None = None,
        path: str | os.PathLike | None = None,
        show: bool = False,
    ):
        """Train and test accuracy per epoch, the kept epoch marked; returns the Figure."""
        title = "Accuracy per epoch" + (f" (lr={lr_used:g})" if lr_used is not None else "")
        best = self.best_epoch
        return plot_accuracy(self.history, title=title, best_epoch=best, path=path, show=show)


def _n_columns(y) -> int | None:
    """The number of samples (columns) of one-hot labels, or None if ``y`` is not 2-D."""
    shape = np.shape(y)
    return shape[1] if len(shape) == 2 else None


def check_dropout_keep(name: str, value: object) -> float:
    """A keep probability in ``(0, 1]`` whose drop rate ``1 - value`` is below 1 in floating
    point (``1e-300`` is not: ``1 - 1e-300`` rounds to 1, and no unit would be kept)."""
    keep = check_real(name, value, "(0, 1]")
    if 1.0 - keep == 1.0:
        raise ValueError(
            f"{name + ' ' if name else ''}must be a keep probability in (0, 1] large enough "
            f"that 1 - p is below 1 in floating point; got {value!r}"
        )
    return keep


def _check_architecture(architecture: object) -> list[int]:
    """Hidden layer sizes as a list of ints, from a sequence of positive integers or one."""
    if isinstance(architecture, numbers.Integral) and not isinstance(
        architecture, (bool, np.bool_)
    ):
        sizes, names = [architecture], ["architecture"]
    elif isinstance(architecture, (str, bytes)) or not isinstance(architecture, Iterable):
        raise ValueError(
            "architecture must be a list of hidden layer sizes such as [512, 256, 128], or "
            f"one size; got {architecture!r}"
        )
    else:
        sizes = list(architecture)
        names = [f"architecture[{i}]" for i in range(len(sizes))]
    for name, units in zip(names, sizes, strict=True):
        try:
            check_positive_int(name, units)
        except ValueError:
            raise ValueError(
                f"hidden layer sizes must be positive integers; {name} is {units!r}"
            ) from None
    return [int(units) for units in sizes]


def _check_saved_config(config: dict, model: Sequential) -> None:
    """The settings of a saved ``NeuralNetwork`` must describe ``model``."""
    keys = {"activation", "num_labels", "architecture", "seed", "scaler_dtype", "history"}
    if set(config) != keys:
        raise ModelFileError(f"NeuralNetwork config must have keys {sorted(keys)}")
    activation = config["activation"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ModelFileError(f"unknown activation {activation!r}")
    units = [layer.n_out for layer in model.layers if isinstance(layer, Dense)]
    if config["architecture"] != units[:-1] or config["num_labels"] != units[-1]:
        raise ModelFileError(
            f"architecture {config['architecture']} and num_labels {config['num_labels']} "
            f"do not match the layers' sizes {units}"
        )
    for layer in model.layers:
        if not isinstance(layer, (Dense, Dropout, ACTIVATIONS[activation])):
            raise ModelFileError(f"layer {type(layer).__name__} does not fit {activation!r}")
    if config["seed"] is not None and type(config["seed"]) is not int:
        raise ModelFileError(f"seed must be an integer or null; got {config['seed']!r}")
    if config["scaler_dtype"] not in ("float32", "float64"):
        raise ModelFileError(f"scaler dtype {config['scaler_dtype']!r} is not float32 or float64")
