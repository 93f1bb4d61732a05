"""The ``neural-network`` command: ``train``, ``evaluate``, ``predict`` and ``serve``.

This is the only module that prints. Names given on the command line or in a config file
(activations, datasets) are looked up in one dict each, ``ACTIVATIONS`` and ``DATASETS``.
Every failure ends as one line on stderr, ``neural-network: error: ...``, with exit code 2
for a usage error (an unknown option, a bad option value, a bad config file key) and 1 for
anything else (a missing file, an unreadable image, a corrupt model); ``--debug`` shows the
traceback instead.

``train`` writes a run folder::

    model.npz             the trained NeuralNetwork (neural_network.load_model reads it)
    checkpoint.npz        written after every epoch; --resume continues from it
    config.toml           the resolved configuration; --config reads it back
    history.json/.csv     per-epoch loss, accuracy, learning rate, gradient norm, time
    metrics.json          test accuracy and loss, epochs, best epoch, times, per class
    cost.png, accuracy.png, learning_rate.png, confusion_matrix.png,
    misclassified.png, first_layer_weights.png
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ...core.activations import ACTIVATIONS
from ...core.model import Sequential
from ...data.mnist import load_mnist
from ...data.preprocessing import one_hot
from ...io.model_files import load_model
from ..classic import DEFAULT_ARCHITECTURE, NeuralNetwork
from ..presets import PRESETS, train_preset

PROG = "neural-network"
MODEL_FILE = "model.npz"
CHECKPOINT_FILE = "checkpoint.npz"
CONFIG_FILE = "config.toml"
N_PIXELS = 28 * 28


@dataclass(frozen=True)
class Dataset:
    """A dataset the CLI can train and evaluate on: its loader and its class names."""

    load: Callable[..., tuple]
    class_names: tuple[str, ...]


DIGITS = tuple(str(k) for k in range(10))
DATASETS: dict[str, Dataset] = {"mnist": Dataset(load_mnist, DIGITS)}
try:
    from ...data.mnist import load_fashion_mnist
except ImportError:  # pragma: no cover - an older datasets module
    pass
else:
    DATASETS["fashion-mnist"] = Dataset(
        load_fashion_mnist,
        (
            "T-shirt",
            "trouser",
            "pullover",
            "dress",
            "coat",
            "sandal",
            "shirt",
            "sneaker",
            "bag",
            "boot",
        ),
    )
try:
    from ...data.mnist import load_kmnist
except ImportError:  # pragma: no cover - an older datasets module
    pass
else:
    DATASETS["kmnist"] = Dataset(
        load_kmnist, ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    )


class CommandError(Exception):
    """A failure to report as one line; ``exit_code`` 2 for usage errors, 1 otherwise."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CommandError):
    def __init__(self, message: str):
        super().__init__(message, exit_code=2)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises :class:`UsageError` instead of printing the usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# Option values: each converter takes a command-line string or a TOML value and returns the
# checked value, or raises ValueError with a message that says what is expected.


def _number(value: Any, *, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number; got {value!r}")
    if isinstance(value, str):
        try:
            return int(value) if integer else float(value)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise ValueError(f"expected {kind}; got {value!r}") from None
    if integer and isinstance(value, int):
        return value
    if not integer and isinstance(value, (int, float)):
        return float(value)
    raise ValueError(f"expected {'an integer' if integer else 'a number'}; got {value!r}")


def positive_int(value: Any) -> int:
    number = _number(value, integer=True)
    if number < 1:
        raise ValueError(f"must be a positive integer; got {value!r}")
    return number


def non_negative_int(value: Any) -> int:
    number = _number(value, integer=True)
    if number < 0:
        raise ValueError(f"must be a non-negative integer; got {value!r}")
    return number


def positive_float(value: Any) -> float:
    number = _number(value, integer=False)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"must be a positive number; got {value!r}")
    return number


def non_negative_float(value: Any) -> float:
    number = _number(value, integer=False)
    if not (math.isfinite(number) and number >= 0):
        raise ValueError(f"must be a non-negative number; got {value!r}")
    return number


def keep_probability(value: Any) -> float:
    number = _number(value, integer=False)
    if not 0 < number <= 1:
        raise ValueError(f"must lie in (0, 1]; got {value!r}")
    return number


def split_fraction(value: Any) -> float:
    number = _number(value, integer=False)
    if not 0 <= number < 1:
        raise ValueError(f"must lie in [0, 1); got {value!r}")
    return number


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string; got {value!r}")
    return value


def one_of(table: Mapping[str, Any]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in table:
            raise ValueError(f"unknown value {value!r}; expected one of {sorted(table)}")
        return value

    return convert


@dataclass(frozen=True)
class Option:
    """A ``train`` setting: a flag ``--kebab-name`` and a config key ``snake_name``."""

    name: str
    convert: Callable[[Any], Any]
    help: str
    group: str = ""
    aliases: tuple[str, ...] = ()
    many: bool = False  # a list of values (``--hidden 512 256 128``)
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any, source: str) -> Any:
        """The converted value, or a UsageError that names ``source`` (say ``"FILE: key"``)."""
        try:
            if self.many:
                values = [value] if isinstance(value, (int, str)) else value
                if not isinstance(values, list):
                    raise ValueError(f"expected a list; got {value!r}")
                return [self.convert(item) for item in values]
            return self.convert(value)
        except ValueError as error:
            raise UsageError(f"{source}: {error}") from None


# The keyword arguments of NeuralNetwork.fit that are training settings; each is a flag
# whose default is fit's own default, so the two cannot drift apart.
FIT_SETTINGS = (
    "lr",
    "epochs",
    "batch_size",
    "lam",
    "dropout_keep",
    "grad_clip",
    "early_stopping_patience",
    "lr_decay",
    "lr_decay_every",
    "min_delta",
    "log_every",
)
_FIT_SIGNATURE = inspect.signature(NeuralNetwork.fit).parameters
FIT_DEFAULTS = {name: _FIT_SIGNATURE[name].default for name in FIT_SETTINGS}

DATA, NETWORK, FIT = "data", "network", "training (NeuralNetwork.fit's arguments)"
TRAIN_OPTIONS: tuple[Option, ...] = (
    Option("dataset", one_of(DATASETS), "dataset to train on", group=DATA,
           metavar="{" + ",".join(DATASETS) + "}"),
    Option("data_dir", text, "read the dataset's four IDX files (.gz or not) from this folder",
           group=DATA, metavar="DIR"),
    Option("limit_train", positive_int, "use the first N training samples", group=DATA,
           metavar="N"),
    Option("limit_test", positive_int, "use the first N test samples", group=DATA, metavar="N"),
    Option("validation_split", split_fraction,
           "hold out this fraction of the training data to pick the epoch (early stopping); "
           "0 lets the test set pick it, as the seed does", group=DATA, metavar="F"),
    Option("hidden", positive_int, "hidden layer sizes; none for softmax regression",
           group=NETWORK, many=True, metavar="UNITS"),
    Option("activation", one_of(ACTIVATIONS), "hidden activation", group=NETWORK,
           metavar="{" + ",".join(ACTIVATIONS) + "}"),
    Option("seed", non_negative_int, "seed of all randomness", group=NETWORK, metavar="N"),
    Option("lr", positive_float, "initial Adam learning rate", group=FIT, metavar="RATE"),
    Option("epochs", positive_int, "maximum number of epochs", group=FIT, metavar="N"),
    Option("batch_size", positive_int, "samples per step", group=FIT, metavar="N"),
    Option("lam", non_negative_float, "coupled L2 coefficient (not AdamW)", group=FIT,
           aliases=("--l2",), metavar="L2"),
    Option("dropout_keep", keep_probability, "probability of keeping a hidden unit", group=FIT,
           metavar="P"),
    Option("grad_clip", non_negative_float, "clip the global gradient norm; 0 turns it off",
           group=FIT, metavar="NORM"),
    Option("early_stopping_patience", non_negative_int,
           "stop after this many epochs without a higher validation accuracy, and keep the "
           "best epoch's weights; 0 turns it off", group=FIT, metavar="EPOCHS"),
    Option("lr_decay", keep_probability, "multiply the learning rate by this factor ...",
           group=FIT, metavar="FACTOR"),
    Option("lr_decay_every", positive_int, "... every this many epochs", group=FIT,
           metavar="EPOCHS"),
    Option("min_delta", non_negative_float,
           "smallest accuracy gain that counts as better for early stopping", group=FIT,
           metavar="DELTA"),
    Option("log_every", positive_int, "print a log line every N epochs", group=FIT,
           metavar="N"),
)  # fmt: skip
OPTIONS_BY_NAME = {option.name: option for option in TRAIN_OPTIONS}
CONFIG_KEYS = {option.name: option for option in TRAIN_OPTIONS} | {"l2": OPTIONS_BY_NAME["lam"]}

TRAIN_DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "data_dir": None,
    "hidden": list(DEFAULT_ARCHITECTURE),
    "activation": "relu",
    "seed": None,
    "validation_split": 0.0,
    "limit_train": None,
    "limit_test": None,
    **FIT_DEFAULTS,
}


def _flag_type(option: Option) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return option.convert(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = option.name
    return convert


def build_parser() -> ArgumentParser:
    """The argument parser of the four commands."""
    common = ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks"
    )
    parser = ArgumentParser(
        prog=PROG,
        description="Train, evaluate and use a from-scratch NumPy MLP on MNIST-like digits.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        parents=[common],
        help="train a network and write a run folder",
        description="Train a NeuralNetwork and write a run folder: the model, a checkpoint, "
        "the configuration, the history, metrics and figures. Settings come from the "
        "defaults, then the resumed run's config.toml, then --config, then the flags.",
    )
    groups = {name: train.add_argument_group(name) for name in (DATA, NETWORK, FIT)}
    for option in TRAIN_OPTIONS:
        default = TRAIN_DEFAULTS[option.name]
        if isinstance(default, list):
            default = " ".join(map(str, default))
        if option.name == "seed":
            default = "drawn at random and written to config.toml"
        groups[option.group].add_argument(
            option.flag,
            *option.aliases,
            dest=option.name,
            type=_flag_type(option),
            nargs="*" if option.many else None,
            default=argparse.SUPPRESS,
            metavar=option.metavar,
            help=option.help if default is None else f"{option.help} (default: {default})",
        )
    run = train.add_argument_group("run")
    run.add_argument("--config", metavar="FILE", help="TOML file of settings (flag names)")
    run.add_argument("--out", metavar="DIR", help="run folder (default: runs/<timestamp>)")
    run.add_argument(
        "--resume",
        metavar="RUN",
        help="continue the run in this folder (or from this checkpoint file); --epochs may grow",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="write into a folder that holds another run"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bar, log or summary")
    run.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="train a named recipe of neural_network.presets instead ('best': an MLP trained "
        "on freshly distorted digits, 99.3%%+ on MNIST; the last 5000 training images pick "
        "the epoch); takes only --seed (default 0), --out, --overwrite, --quiet and "
        "--time-budget",
    )
    run.add_argument(
        "--time-budget",
        type=_flag_type(Option("time_budget", positive_float, "")),
        metavar="SECONDS",
        help="with --preset: fit the run into this wall time (fewer epochs, same schedule shape)",
    )
    run.add_argument(
        "--no-figures", action="store_true", help="skip the PNG figures (quick sweeps)"
    )
    train.set_defaults(handler=run_train)

    evaluate = commands.add_parser(
        "evaluate",
        parents=[common],
        help="accuracy, per-class precision and recall, confusion matrix",
        description="Evaluate a model file on a dataset's test set: accuracy, per-class "
        "precision and recall, and the confusion matrix as text and as a PNG.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model file (model.npz)")
    _add_data_options(evaluate)
    evaluate.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the figure and evaluation.json (default: MODEL's folder/evaluation)",
    )
    evaluate.set_defaults(handler=run_evaluate)

    predict = commands.add_parser(
        "predict",
        parents=[common],
        help="classify image files",
        description="Classify pictures of digits (PNG, JPEG, ... of any size; dark on light "
        "or light on dark) or .npy arrays of 28x28 values in 0-255 (used as they are).",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file (model.npz)")
    predict.add_argument("images", metavar="IMAGE", nargs="+", help="image or .npy files")
    predict.add_argument("--json", action="store_true", help="print a JSON list")
    predict.add_argument(
        "--top",
        type=_flag_type(Option("top", positive_int, "")),
        default=3,
        metavar="K",
        help="how many classes to list per image (default: 3)",
    )
    predict.set_defaults(handler=run_predict)

    serve = commands.add_parser(
        "serve",
        parents=[common],
        help="a web page to draw a digit and watch the network answer",
        description="Serve a page on which you draw a digit with the mouse or a finger and "
        "watch the class probabilities change as you draw. Without MODEL, a small network "
        "shipped with the package answers.",
    )
    serve.add_argument(
        "model", metavar="MODEL", nargs="?", help="a model file (default: the demo model)"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, reachable from this computer only)",
    )
    serve.add_argument(
        "--port",
        type=_flag_type(Option("port", port_number, "")),
        default=8000,
        metavar="N",
        help="port to listen on; 0 picks a free one (default: 8000)",
    )
    serve.set_defaults(handler=run_serve)
    return parser


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    for name in ("dataset", "data_dir"):
        option = OPTIONS_BY_NAME[name]
        parser.add_argument(
            option.flag,
            dest=name,
            type=_flag_type(option),
            default=TRAIN_DEFAULTS[name],
            metavar=option.metavar,
            help=f"{option.help.replace('train on', 'use')} (default: {TRAIN_DEFAULTS[name]})",
        )
    option = OPTIONS_BY_NAME["limit_test"]
    parser.add_argument(
        option.flag, dest="limit_test", type=_flag_type(option), metavar="N", help=option.help
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` by default); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        debug = args.debug
        return args.handler(args) or 0
    except SystemExit as stop:  # --help and --version
        return stop.code if isinstance(stop.code, int) else 0
    except KeyboardInterrupt:
        if debug:
            raise
        _error("interrupted")
        return 130
    except Exception as error:
        if debug:
            raise
        _error(_describe(error))
        return error.exit_code if isinstance(error, CommandError) else 1


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def _describe(error: BaseException) -> str:
    """One line that says what went wrong."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        message = f"{os.fspath(error.filename)}: {error.strerror}"
    else:
        message = str(error) or type(error).__name__
        if not isinstance(error, (CommandError, ValueError, OSError)):
            message = f"{type(error).__name__}: {message}"
    return " ".join(message.split())


# train


def read_config(path: str | os.PathLike, source: str | None = None) -> dict[str, Any]:
    """Settings from a TOML file whose keys are ``train``'s flag names (dashes or
    underscores), checked as the flags are.

    Raises:
        CommandError: if the file cannot be read or is not TOML.
        UsageError: for an unknown key or a bad value.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    source = source or os.fspath(path)
    try:
        with open(path, "rb") as file:
            table = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise CommandError(f"{source}: not valid TOML ({error})") from None
    settings: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in CONFIG_KEYS:
            known = sorted(key.replace("_", "-") for key in CONFIG_KEYS)
            raise UsageError(f"{source}: unknown setting {key!r}; expected one of {known}")
        option = CONFIG_KEYS[name]
        if option.name in settings:
            raise UsageError(f"{source}: {key!r} repeats a setting given under another name")
        settings[option.name] = option.check(value, f"{source}: {key}")
    return settings


def _toml_string(value: str) -> str:
    escaped = []
    for char in value:
        if char in '"\\':
            escaped.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def format_toml(values: Mapping[str, Any], header: str = "") -> str:
    """Flat ``key = value`` TOML for strings, numbers, booleans and lists of them; ``None``
    values are left out (TOML has no null)."""
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{key} = {_toml_value(value)}" for key, value in values.items() if value is not None]
    return "\n".join(lines) + "\n"


def _explicit_settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        option.name: getattr(args, option.name) for option in TRAIN_OPTIONS if option.name in args
    }


def _resume_paths(resume: str) -> tuple[Path, Path]:
    """(run folder, checkpoint file) for ``--resume`` given a folder or a checkpoint file."""
    path = Path(resume)
    if path.is_dir():
        checkpoint = path / CHECKPOINT_FILE
        if not checkpoint.is_file():
            raise CommandError(f"{resume}: no {CHECKPOINT_FILE} in this folder to resume from")
        return path, checkpoint
    if path.is_file():
        return path.parent, path
    raise CommandError(f"{resume}: no such run folder or checkpoint")


def _default_out() -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out, n = Path("runs") / stamp, 1
    while out.exists():
        n += 1
        out = Path("runs") / f"{stamp}-{n}"
    return out


def _load_dataset(name: str, data_dir: str | None, limit_test: int | None = None) -> tuple:
    """The dataset's ``(x_train, y_train), (x_test, y_test)``, the test set cut to
    ``limit_test``."""
    loader = DATASETS[name].load
    (x_train, y_train), (x_test, y_test) = (
        loader() if data_dir is None else loader(data_dir=data_dir)
    )
    if limit_test is not None:
        x_test, y_test = x_test[:limit_test], y_test[:limit_test]
    return (x_train, y_train), (x_test, y_test)


def _split(x, labels, fraction: float, seed: int) -> tuple:
    """Hold out ``fraction`` of ``(x, labels)``, drawn at random from a stream of ``seed``
    independent of the network's; returns the kept and the held-out parts."""
    n_held = round(fraction * len(x))
    if fraction > 0 and not 1 <= n_held < len(x):
        raise UsageError(
            f"--validation-split {fraction} of {len(x)} training samples leaves "
            f"{n_held} for validation and {len(x) - n_held} for training; both need one"
        )
    order = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).permutation(len(x))
    kept, held = np.sort(order[n_held:]), np.sort(order[:n_held])
    return (x[kept], labels[kept]), (x[held], labels[held])


def run_train(args: argparse.Namespace) -> int:
    """``neural-network train``."""
    if args.preset is not None:
        return run_preset(args)
    if args.time_budget is not None:
        raise UsageError("--time-budget works with --preset only")
    settings = dict(TRAIN_DEFAULTS)
    checkpoint = None
    run_dir = Path(args.out) if args.out else None
    if args.resume:
        resumed_dir, checkpoint = _resume_paths(args.resume)
        config_path = resumed_dir / CONFIG_FILE
        if not config_path.is_file():
            raise CommandError(f"{resumed_dir}: no {CONFIG_FILE} to resume the run with")
        settings |= read_config(config_path)
        run_dir = run_dir or resumed_dir
    if args.config:
        settings |= read_config(args.config)
    settings |= _explicit_settings(args)
    if settings["seed"] is None:
        settings["seed"] = int(np.random.SeedSequence().generate_state(1)[0])
    if run_dir is None:
        run_dir = _default_out()
    elif checkpoint is None and not args.overwrite:
        for name in (MODEL_FILE, CHECKPOINT_FILE):
            if (run_dir / name).exists():
                raise UsageError(
                    f"{run_dir} already holds a run ({name}); continue it with --resume "
                    f"{run_dir}, pass --overwrite, or choose another --out"
                )
    dataset = DATASETS[settings["dataset"]]
    (x_train, y_train), (x_test, y_test) = _load_dataset(
        settings["dataset"], settings["data_dir"], settings["limit_test"]
    )
    if settings["limit_train"] is not None:
        x_train, y_train = x_train[: settings["limit_train"]], y_train[: settings["limit_train"]]
    fraction = settings["validation_split"]
    (x_fit, y_fit), (x_val, y_val) = _split(x_train, y_train, fraction, settings["seed"])
    if not fraction:
        x_val, y_val = x_test, y_test  # as the seed does: the test set picks the epoch
    n_classes = len(dataset.class_names)

    run_dir.mkdir(parents=True, exist_ok=True)
    header = f"{PROG} train: the resolved settings of this run; --config reads this file."
    _write_text(run_dir / CONFIG_FILE, format_toml(settings, header))

    network = NeuralNetwork(
        X=x_fit.T,
        y=one_hot(y_fit, n_classes).T,
        X_test=x_val.T,
        y_test=one_hot(y_val, n_classes).T,
        activation=settings["activation"],
        num_labels=n_classes,
        architecture=settings["hidden"],
        seed=settings["seed"],
    )
    fit_settings = {name: settings[name] for name in FIT_SETTINGS}
    fit_settings["grad_clip"] = fit_settings["grad_clip"] or None
    fit_settings["early_stopping_patience"] = fit_settings["early_stopping_patience"] or None
    started = time.perf_counter()
    try:
        network.fit(
            **fit_settings,
            verbose=not args.quiet,
            checkpoint_path=run_dir / CHECKPOINT_FILE,
            resume_from=checkpoint,
        )
    except KeyboardInterrupt:
        if not (run_dir / CHECKPOINT_FILE).exists():
            raise
        raise CommandError(
            f"interrupted; continue with: {PROG} train --resume {run_dir}", exit_code=130
        ) from None
    wall_time = time.perf_counter() - started
    network.save(run_dir / MODEL_FILE)

    probs = network.predict_proba(x_test.T).T
    history = network.history
    validation = "test" if not fraction else "validation"
    metrics = {
        "dataset": settings["dataset"],
        **_scores(probs, y_test, n_classes),
        "epochs_run": len(history),
        "best_epoch": _best_epoch(history, settings),
        "selected_on": validation,
        "n_train": len(x_fit),
        "n_validation": len(x_val) if fraction else 0,
        "n_test": len(x_test),
        "wall_time_s": wall_time,
        "seconds_per_epoch": float(np.mean(history.epoch_time)) if len(history) else None,
    }
    if fraction and history.val_accuracy:
        metrics["validation_accuracy"] = history.val_accuracy[metrics["best_epoch"] - 1]
    _write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    _write_history(run_dir, history)
    if not args.no_figures:
        _draw_run_figures(
            run_dir, network, history, x_test, y_test, probs, metrics, dataset, validation
        )
    if not args.quiet:
        print(
            f"Test accuracy {100 * metrics['test_accuracy']:.2f}% (loss "
            f"{metrics['test_loss']:.4f}) after {metrics['epochs_run']} epochs, best epoch "
            f"{metrics['best_epoch']}; run folder: {run_dir}"
        )
    return 0


def run_preset(args: argparse.Namespace) -> int:
    """``neural-network train --preset NAME``: :func:`~neural_network.presets.train_preset`
    into a run folder (``model.npz``, ``metrics.json``, ``history.json``)."""
    explicit = _explicit_settings(args)
    others = sorted(OPTIONS_BY_NAME[name].flag for name in explicit if name != "seed")
    others += [
        flag for flag, given in (("--config", args.config), ("--resume", args.resume)) if given
    ]
    if others:
        raise UsageError(f"--preset {args.preset} sets its own settings; drop {', '.join(others)}")
    run_dir = Path(args.out) if args.out else _default_out()
    if not args.overwrite and (run_dir / MODEL_FILE).exists():
        raise UsageError(
            f"{run_dir} already holds a run ({MODEL_FILE}); pass --overwrite or choose "
            "another --out"
        )
    _, metrics = train_preset(
        args.preset,
        out=run_dir,
        seed=explicit.get("seed", 0),
        progress=not args.quiet,
        time_budget_s=args.time_budget,
    )
    if not args.quiet:
        print(
            f"Test accuracy {100 * metrics['test_accuracy']:.2f}% (loss "
            f"{metrics['test_loss']:.4f}) after {metrics['epochs_run']} epochs, best epoch "
            f"{metrics['best_epoch']} (validation {100 * metrics['validation_accuracy']:.2f}%), "
            f"{metrics['wall_time_s'] / 60:.1f} min; run folder: {run_dir}"
        )
    return 0


def _best_epoch(history, settings: Mapping[str, Any]) -> int:
    """The epoch whose weights the model holds: the best validation accuracy's (as
    EarlyStopping chose it, ``min_delta`` included) with early stopping, else the last."""
    if not settings["early_stopping_patience"] or not history.val_accuracy:
        return history.epoch[-1] if len(history) else 0
    best, best_epoch = -math.inf, 0
    for epoch, value in zip(history.epoch, history.val_accuracy, strict=True):
        if value > best + settings["min_delta"]:
            best, best_epoch = value, epoch
    return best_epoch


def _write_text(path: Path, content: str) -> None:
    path.write_text(content, encoding="utf-8")


def _write_history(run_dir: Path, history) -> None:
    data = history.to_dict()
    _write_text(run_dir / "history.json", json.dumps(data, indent=2) + "\n")
    with open(run_dir / "history.csv", "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(data)
        for row in range(len(history)):
            writer.writerow([values[row] if row < len(values) else "" for values in data.values()])


def _draw_run_figures(
    run_dir, network, history, x_test, y_test, probs, metrics, dataset: Dataset, validation: str
) -> None:
    from .. import plotting

    plotting.plot_loss(history, val_label=validation, path=run_dir / "cost.png")
    plotting.plot_accuracy(history, val_label=validation, path=run_dir / "accuracy.png")
    plotting.plot_learning_rate(history, path=run_dir / "learning_rate.png")
    _draw_confusion_matrix(run_dir, metrics, dataset.class_names)
    predicted = probs.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_test)
    names = None if dataset.class_names == DIGITS else dataset.class_names
    plotting.plot_misclassified(
        x_test[wrong],
        y_test[wrong],
        predicted[wrong],
        class_names=names,
        title=f"Misclassified test images ({len(wrong)} of {len(y_test)})",
        path=run_dir / "misclassified.png",
    )
    plotting.plot_first_layer_weights(
        network.model.layers[0].weight.value,
        inputs_used=network.scaler.scale_ > 0,
        path=run_dir / "first_layer_weights.png",
    )


def _draw_confusion_matrix(folder: Path, metrics: Mapping[str, Any], class_names) -> Path:
    from ..plotting import plot_confusion_matrix

    path = folder / "confusion_matrix.png"
    plot_confusion_matrix(
        np.array(metrics["confusion_matrix"]),
        class_names=class_names,
        title=f"Confusion matrix, {metrics['dataset']} test set "
        f"(accuracy {100 * metrics['test_accuracy']:.2f}%)",
        path=path,
    )
    return path


# evaluate


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, n_classes)`` counts: row = true class, column = predicted class."""
    return np.bincount(
        np.asarray(labels) * n_classes + np.asarray(predicted), minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _scores(probs: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Accuracy, mean cross-entropy, per-class precision/recall/F1 and the confusion matrix."""
    labels = np.asarray(labels, dtype=np.intp)
    predicted = probs.argmax(axis=1)
    matrix = confusion_matrix(labels, predicted, n_classes)
    picked = probs[np.arange(len(labels)), labels].astype(np.float64)
    per_class = []
    for k in range(n_classes):
        hits = int(matrix[k, k])
        precision = _ratio(hits, matrix[:, k].sum())
        recall = _ratio(hits, matrix[k].sum())
        f1 = (
            _ratio(2 * precision * recall, precision + recall)
            if precision is not None and recall is not None
            else None
        )
        per_class.append(
            {"precision": precision, "recall": recall, "f1": f1, "support": int(matrix[k].sum())}
        )
    return {
        "test_accuracy": float(np.mean(predicted == labels)),
        "test_loss": float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny)))),
        "per_class": per_class,
        "confusion_matrix": matrix.tolist(),
    }


def format_class_table(per_class: Sequence[Mapping[str, Any]], class_names: Sequence[str]) -> str:
    """Per-class precision, recall, F1 and support as an aligned text table."""
    width = max(5, *map(len, class_names))

    def percent(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.2f}%"

    lines = [f"{'class':>{width}}  {'precision':>9}  {'recall':>8}  {'f1':>8}  {'support':>7}"]
    for name, row in zip(class_names, per_class, strict=True):
        lines.append(
            f"{name:>{width}}  {percent(row['precision']):>9}  {percent(row['recall']):>8}  "
            f"{percent(row['f1']):>8}  {row['support']:>7d}"
        )
    return "\n".join(lines)


def format_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str]) -> str:
    """The confusion matrix as text, rows true classes and columns predicted ones."""
    matrix = np.asarray(matrix)
    names = [name[:7] for name in class_names]
    cell = max(4, len(str(int(matrix.max(initial=0)))) + 1, *(len(name) + 1 for name in names))
    label = max(4, *map(len, names))
    lines = [
        "Confusion matrix (rows: true class, columns: predicted class)",
        " " * label + "".join(f"{name:>{cell}}" for name in names),
    ]
    for name, row in zip(names, matrix, strict=True):
        lines.append(f"{name:>{label}}" + "".join(f"{int(count):>{cell}d}" for count in row))
    return "\n".join(lines)


def _load_model_file(path: str):
    """``load_model``, with a folder or a missing file said plainly."""
    if Path(path).is_dir():
        candidate = Path(path) / MODEL_FILE
        if candidate.is_file():
            path = os.fspath(candidate)
        else:
            raise CommandError(f"{path}: a folder, and it holds no {MODEL_FILE}")
    if not Path(path).exists():
        raise CommandError(f"{path}: no such model file")
    return load_model(path)


def class_probabilities(model, x: np.ndarray) -> tuple[np.ndarray, list]:
    """``(n, n_classes)`` probabilities and the class labels, for raw pixel rows ``x``
    (values 0-255), whatever ``load_model`` returned.

    A ``NeuralNetwork`` and an ``MLPClassifier`` scale inputs with their own scaler; a bare
    ``Sequential`` (a layered model or a checkpoint) holds none, so pixels are divided by
    255, which is what a min-max scaler fitted on MNIST does to all but a few edge pixels.

    Raises:
        CommandError: for a model of another kind or of another input size.
    """
    x = np.asarray(x)
    if isinstance(model, NeuralNetwork):
        n_features, n_classes = len(model.scaler.min_), model.num_labels
        compute, classes = (lambda: model.predict_proba(x.T).T), list(range(n_classes))
    elif isinstance(model, Sequential):
        n_features = model.n_features
        compute, classes = (lambda: model.predict_proba(x / 255.0)), list(range(model.n_classes))
    elif hasattr(model, "predict_proba") and hasattr(model, "classes_"):  # an MLPClassifier
        n_features = int(model.n_features_in_)
        compute, classes = (lambda: np.asarray(model.predict_proba(x))), list(model.classes_)
    else:
        raise CommandError(f"cannot predict with a {type(model).__name__}")
    if n_features != x.shape[1]:
        raise CommandError(
            f"the model takes {n_features} inputs, but the images have {x.shape[1]} pixels"
        )
    return np.asarray(compute(), dtype=np.float64), classes


def run_evaluate(args: argparse.Namespace) -> int:
    """``neural-network evaluate``."""
    model = _load_model_file(args.model)
    dataset = DATASETS[args.dataset]
    _, (x_test, y_test) = _load_dataset(args.dataset, args.data_dir, args.limit_test)
    probs, classes = class_probabilities(model, x_test)
    n_classes = len(dataset.class_names)
    if [str(c) for c in classes] != [str(k) for k in range(n_classes)]:
        raise CommandError(
            f"the model's classes {classes} are not the {args.dataset} classes 0..{n_classes - 1}"
        )
    metrics = {"dataset": args.dataset, "model": os.fspath(args.model)} | _scores(
        probs, y_test, n_classes
    )
    if args.out:
        out = Path(args.out)
    else:
        model_path = Path(args.model)
        out = (model_path if model_path.is_dir() else model_path.parent) / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    figure = _draw_confusion_matrix(out, metrics, dataset.class_names)
    _write_text(out / "evaluation.json", json.dumps(metrics, indent=2) + "\n")
    print(
        f"Accuracy {100 * metrics['test_accuracy']:.2f}% on {len(y_test)} {args.dataset} test "
        f"images (mean cross-entropy {metrics['test_loss']:.4f})"
    )
    print()
    print(format_class_table(metrics["per_class"], dataset.class_names))
    print()
    print(format_confusion_matrix(np.array(metrics["confusion_matrix"]), dataset.class_names))
    print()
    print(f"Confusion matrix figure: {figure}")
    return 0


# predict


def run_predict(args: argparse.Namespace) -> int:
    """``neural-network predict``."""
    from ...data.images import load_digit

    model = _load_model_file(args.model)
    x = np.stack([load_digit(path) for path in args.images])
    probs, classes = class_probabilities(model, x)
    results = []
    for path, row in zip(args.images, probs, strict=True):
        order = np.argsort(-row, kind="stable")
        results.append(
            {
                "file": path,
                "label": _json_label(classes[order[0]]),
                "probabilities": {str(c): float(p) for c, p in zip(classes, row, strict=True)},
                "top": [(_json_label(classes[k]), float(row[k])) for k in order[: args.top]],
            }
        )
    if args.json:
        print(json.dumps([{k: r[k] for k in ("file", "label", "probabilities")} for r in results]))
        return 0
    width = max(map(len, args.images))
    for result in results:
        top = "  ".join(f"{label}: {100 * p:5.1f}%" for label, p in result["top"])
        print(f"{result['file']:<{width}}  {result['label']}   ({top})")
    return 0


def _json_label(label: Any) -> Any:
    """A class label as a JSON scalar (NumPy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label


# serve


def port_number(value: Any) -> int:
    number = _number(value, integer=True)
    if not 0 <= number <= 65535:
        raise ValueError(f"must be a port number in 0-65535; got {value!r}")
    return number


def run_serve(args: argparse.Namespace) -> int:
    """``neural-network serve``: runs until Ctrl+C."""
    from ..server import serve

    model = None if args.model is None else _load_model_file(args.model)

    def announce(url: str) -> None:
        print(f"Serving the demo page on {url} (Ctrl+C to stop)", flush=True)

    serve(model, args.host, args.port, on_ready=announce)
    return 0
