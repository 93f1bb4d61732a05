"""The options of ``train`` (flags and config-file keys alike), and the converters that
check every option's value.

Each converter takes a command-line string or a TOML value and returns the checked value,
or raises ValueError with a message that says what is expected; the range checks are the
library's own (:mod:`neural_network.checks`).
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...checks import check_non_negative_int, check_positive_int, check_real
from ...core.activations import ACTIVATIONS
from ...core.devices import DEVICES
from ...core.threads import MAX_THREADS, check_threads
from ...data.files import open_regular_file
from ..classic import DEFAULT_ARCHITECTURE, NeuralNetwork, check_dropout_keep
from .datasets import DATASETS
from .errors import CommandError, UsageError


def parse_number(value: Any, *, integer: bool) -> int | float:
    """A number from a command-line string or a TOML value (no booleans)."""
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
    return check_positive_int("", parse_number(value, integer=True))


def non_negative_int(value: Any) -> int:
    return check_non_negative_int("", parse_number(value, integer=True))


def positive_float(value: Any) -> float:
    return check_real("", parse_number(value, integer=False), "(0, inf)")


def non_negative_float(value: Any) -> float:
    return check_real("", parse_number(value, integer=False), "[0, inf)")


def keep_probability(value: Any) -> float:
    return check_real("", parse_number(value, integer=False), "(0, 1]")


def dropout_keep(value: Any) -> float:
    return check_dropout_keep("", parse_number(value, integer=False))


def split_fraction(value: Any) -> float:
    return check_real("", parse_number(value, integer=False), "[0, 1)")


def port_number(value: Any) -> int:
    number = parse_number(value, integer=True)
    if not 0 <= number <= 65535:
        raise ValueError(f"must be a port number in 0-65535; got {value!r}")
    return number


def thread_count(value: Any) -> int | str:
    try:
        return check_threads(value)
    except ValueError:
        raise ValueError(
            f"expected 'auto' or a positive integer up to {MAX_THREADS}; got {value!r}"
        ) from None


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
    "threads",
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
           "0 lets the test set pick it, as the classic API does", group=DATA, metavar="F"),
    Option("hidden", positive_int, "hidden layer sizes; none for softmax regression",
           group=NETWORK, many=True, metavar="UNITS"),
    Option("activation", one_of(ACTIVATIONS), "hidden activation", group=NETWORK,
           metavar="{" + ",".join(ACTIVATIONS) + "}"),
    Option("seed", non_negative_int, "seed of all randomness", group=NETWORK, metavar="N"),
    Option("device", one_of(dict.fromkeys(DEVICES)),
           "train on the CPU (NumPy) or an NVIDIA GPU (cuda, needs CuPy)", group=NETWORK,
           metavar="{" + ",".join(DEVICES) + "}"),
    Option("lr", positive_float, "initial Adam learning rate", group=FIT, metavar="RATE"),
    Option("epochs", positive_int, "maximum number of epochs", group=FIT, metavar="N"),
    Option("batch_size", positive_int, "samples per step", group=FIT, metavar="N"),
    Option("lam", non_negative_float, "coupled L2 coefficient (not AdamW)", group=FIT,
           aliases=("--l2",), metavar="L2"),
    Option("dropout_keep", dropout_keep, "probability of keeping a hidden unit", group=FIT,
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
    Option("threads", thread_count,
           "BLAS threads: auto times steps with each count and keeps the fastest; a number "
           "pins it (bit-identical runs and resumes)", group=FIT, metavar="N|auto"),
)  # fmt: skip
OPTIONS_BY_NAME = {option.name: option for option in TRAIN_OPTIONS}
CONFIG_KEYS = {option.name: option for option in TRAIN_OPTIONS} | {"l2": OPTIONS_BY_NAME["lam"]}

TRAIN_DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "data_dir": None,
    "hidden": list(DEFAULT_ARCHITECTURE),
    "activation": "relu",
    "seed": None,
    "device": "cpu",
    "validation_split": 0.0,
    "limit_train": None,
    "limit_test": None,
    **FIT_DEFAULTS,
}


def flag_type(option: Option) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return option.convert(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = option.name
    return convert


def add_data_options(parser: argparse.ArgumentParser) -> None:
    for name in ("dataset", "data_dir"):
        option = OPTIONS_BY_NAME[name]
        parser.add_argument(
            option.flag,
            dest=name,
            type=flag_type(option),
            default=TRAIN_DEFAULTS[name],
            metavar=option.metavar,
            help=f"{option.help.replace('train on', 'use')} (default: {TRAIN_DEFAULTS[name]})",
        )
    option = OPTIONS_BY_NAME["limit_test"]
    parser.add_argument(
        option.flag, dest="limit_test", type=flag_type(option), metavar="N", help=option.help
    )


MAX_CONFIG_BYTES = 1 << 20  # a config of every setting is under 2 KB


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
        # A FIFO would block and /dev/zero never end: only a regular file of sane size is read.
        with open_regular_file(path, "config file", max_bytes=MAX_CONFIG_BYTES) as file:
            table = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise CommandError(f"{source}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:
        raise CommandError(
            f"{source}: not UTF-8 text, as TOML must be (byte {error.start} is "
            f"0x{error.object[error.start]:02x})"
        ) from None
    except ValueError as error:  # not a regular file, or too large
        raise CommandError(str(error)) from None
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
