"""Training checkpoints: everything a run needs to continue bit for bit, as a model file.

A checkpoint is a model file of kind ``sequential`` (so ``load_model`` reads the network it
holds) whose metadata has a ``checkpoint`` section, written with format version 2::

    {"epoch": 12, "stopped": false, "history": History.to_dict(),
     "optimizer": {"type": "Adam", "lr": 0.001, "scalars": {"iterations": 5628},
                   "arrays": ["m_sum", "v_sum"]},
     "callbacks": {"EarlyStopping": {"state": {"best": 0.98, "best_epoch": 9, ...},
                                     "arrays": ["best_values"]}},
     "generators": {"states": [...], "slots": {"fit": 0, "layers.2": 0}},
     "settings": {...}}

and the arrays ``optimizer.{name}`` and ``callbacks.{callback}.{name}``, each a vector of the
model's parameter count and dtype. Each callback's state is whatever its ``state_dict()``
returns: this module knows no callback's attributes. ``settings`` is what a resumed run
must share with the one that wrote the file (:func:`run_settings`).

Checkpoints of version 1 kept early stopping in a section of its own and ``l2`` and
``clip_norm`` beside the optimiser; they are read as the equivalent version 2
(:mod:`neural_network.io.checkpoint_v1`).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..checks import check_positive_int, is_finite_number
from ..core.devices import copy_into
from ..core.layers import Dropout
from ..core.sparse import is_sparse
from ..optim.optimizers import Optimizer
from ..train.callbacks import Callback
from ..train.run import TrainingRun
from .archive import NAME_CHARACTERS, ModelFileError, dumps, refusing, write_archive
from .atomic import remove_stale_temp_files
from .checkpoint_v1 import upgrade_version_1
from .model_files import (
    ModelFile,
    model_metadata,
    parameter_arrays,
    read_history,
    read_model_file,
)

PathLike = str | os.PathLike
CHECKPOINT_VERSION = 2  # the format version checkpoints are written with
# Callback and array names become parts of member names, whose parts "." separates.
_NAME_CHARACTERS = NAME_CHARACTERS - {"."}


class Checkpoint(Callback):
    """Write a checkpoint every ``every`` epochs, and after the last one; resume from one.

    It runs after the other callbacks (``order`` 100; give your own callbacks an order below
    that), so the file holds their state after the epoch, and knows when one of them ended
    the run. Writes are atomic: the path holds the old checkpoint or the new one.

    Args:
        path: The file to write (exactly this path), or ``None`` only to resume.
        every: Epochs between checkpoints; one is also written when training stops early
            and after the last epoch.
        resume_from: A checkpoint to continue from. Build the model, optimiser, generators
            and callbacks as the run that wrote it did and pass the same data and settings
            (``epochs`` may grow, ``fit``'s ``threads`` pinned); the weights then end
            bit-identical to an uninterrupted run's. A run that had stopped early trains no
            further.
    """

    order = 100

    def __init__(
        self,
        path: PathLike | None,
        *,
        every: int = 1,
        resume_from: PathLike | None = None,
    ):
        self.path, self.resume_from = path, resume_from
        self.every = check_positive_int("Checkpoint every", every)

    def on_train_begin(self, run: TrainingRun) -> None:
        self._settings = run_settings(run)
        if self.resume_from is not None:
            if len(run.history):
                raise ValueError("pass history or resume_from, not both: a checkpoint holds one")
            resume_checkpoint(self.resume_from, run, settings=self._settings)

    def on_epoch_end(self, run: TrainingRun) -> None:
        due = run.epoch % self.every == 0 or run.stop_training or run.epoch >= run.epochs
        if self.path is not None and due:
            save_checkpoint(self.path, run, settings=self._settings)


def run_settings(run: TrainingRun) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint, as JSON.

    The optimiser's settings (not ``lr``, which a schedule changes and the checkpoint
    restores), the batch size, every callback's ``get_config()``, and the data (with the
    sample weights, if any), summarised by their shapes and a CRC-32 of their bytes.
    ``epochs`` is not part of it: a run may be resumed for more epochs.
    """
    optimizer_config = {k: v for k, v in run.optimizer.get_config().items() if k != "lr"}
    configs = {key: callback.get_config() for key, callback in _keyed(run.callbacks).items()}
    settings = {
        "optimizer": {"type": type(run.optimizer).__name__, **optimizer_config},
        "batch_size": run.batch_size,
        "data": _fingerprint(
            (run.x, run.labels)
            if run.sample_weight is None
            else (run.x, run.labels, run.sample_weight)
        ),
        "validation_data": None
        if run.validation_data is None
        else _fingerprint(run.validation_data),
        "callbacks": {key: config for key, config in configs.items() if config is not None},
    }
    return json.loads(dumps(settings))


def _keyed(callbacks: Sequence[Callback]) -> dict[str, Callback]:
    """The callbacks by name in a checkpoint: the class name, ``_2``, ``_3``... for repeats."""
    keyed: dict[str, Callback] = {}
    for callback in callbacks:
        name, n = type(callback).__name__, 1
        key = name
        while key in keyed:
            n += 1
            key = f"{name}_{n}"
        keyed[key] = callback
    return keyed


def _fingerprint(arrays: Sequence[np.ndarray]) -> dict:
    crc = 0
    for array in arrays:
        # A sparse x (CSR, as fit keeps it) by its three arrays, never densified.
        parts = (array.data, array.indices, array.indptr) if is_sparse(array) else (array,)
        for part in parts:
            crc = zlib.crc32(np.ascontiguousarray(part).reshape(-1).view(np.uint8), crc)
    return {"shapes": [list(np.shape(a)) for a in arrays], "crc32": crc}


def _distinct_generators(run: TrainingRun) -> tuple[list[np.random.Generator], dict[str, int]]:
    """The distinct generators of a run (by identity) and which of them each user draws from.

    Users are ``"fit"`` (shuffling, and callbacks that draw) and ``"layers.{i}"`` for each
    Dropout layer. The same object often serves several (``NeuralNetwork`` uses one for
    everything); restoring each distinct object once is what makes a resumed run
    bit-identical.
    """
    generators: list[np.random.Generator] = []
    slots: dict[str, int] = {}
    users = [("fit", run.rng)] + [
        (f"layers.{i}", getattr(layer, "_host_rng", layer.rng))  # host side on a GPU
        for i, layer in enumerate(run.model.layers)
        if isinstance(layer, Dropout)
    ]
    for name, generator in users:
        index = next((j for j, known in enumerate(generators) if known is generator), None)
        if index is None:
            generators.append(generator)
            index = len(generators) - 1
        slots[name] = index
    return generators, slots


def save_checkpoint(path: PathLike, run: TrainingRun, *, settings: dict | None = None) -> None:
    """Write everything needed to continue ``run`` bit-identically, atomically, to ``path``.

    Args:
        path: The checkpoint file; no suffix is added.
        run: The run, after an epoch.
        settings: :func:`run_settings` of the run, if already computed.

    Raises:
        ModelFileError: if the weights or any saved state are not finite (nothing is
            written).
    """
    model, optimizer = run.model, run.optimizer
    state = optimizer.state_dict()
    arrays = {f"optimizer.{key}": value for key, value in state.items() if np.ndim(value) > 0}
    callbacks = {}
    for key, callback in _keyed(run.callbacks).items():
        callback_state = callback.state_dict()
        if not callback_state:
            continue
        names = sorted(k for k, v in callback_state.items() if isinstance(v, np.ndarray))
        arrays.update({f"callbacks.{key}.{name}": callback_state[name] for name in names})
        json_state = {k: v for k, v in callback_state.items() if k not in names}
        callbacks[key] = {"state": json_state, "arrays": names}
    generators, slots = _distinct_generators(run)
    checkpoint = {
        "epoch": len(run.history),
        "stopped": run.stop_training,
        "history": run.history.to_dict(),
        "optimizer": {
            "type": type(optimizer).__name__,
            "lr": optimizer.lr,
            "scalars": {key: v.item() for key, v in state.items() if np.ndim(v) == 0},
            "arrays": sorted(key for key, value in state.items() if np.ndim(value) > 0),
        },
        "callbacks": callbacks,
        "generators": {
            "states": [_encode_state(g.bit_generator.state) for g in generators],
            "slots": slots,
        },
        "settings": run_settings(run) if settings is None else settings,
    }
    metadata = model_metadata(
        model, kind="sequential", config={}, classes=list(range(model.n_classes))
    )
    metadata |= {"format_version": CHECKPOINT_VERSION, "checkpoint": checkpoint}
    write_archive(path, metadata, {**parameter_arrays(model), **arrays})


def _encode_state(value: Any) -> Any:
    """A bit generator's state as JSON: arrays (MT19937, Philox) become tagged lists."""
    if isinstance(value, dict):
        return {key: _encode_state(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return {"ndarray": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.integer):
        return int(value)
    return value


def _decode_state(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"ndarray", "dtype"}:
            dtype = np.dtype(value["dtype"])
            if dtype.kind not in "ui":
                raise ModelFileError(f"generator state array has dtype {dtype}")
            return np.array(value["ndarray"], dtype=dtype)
        return {key: _decode_state(item) for key, item in value.items()}
    return value


def read_checkpoint(path: PathLike) -> tuple[ModelFile, dict, dict[str, np.ndarray]]:
    """Read a checkpoint: the model file, its ``checkpoint`` section as version 2, and its
    arrays under version 2 names (each checked to be a vector like the model's weights).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: if the file is not a valid checkpoint.
    """
    model_file = read_model_file(path)
    section = model_file.metadata.get("checkpoint")
    if section is None or model_file.kind != "sequential":
        raise ModelFileError(f"{os.fspath(path)}: a model file, not a training checkpoint")
    with refusing(path):
        arrays = dict(model_file.checkpoint_arrays)
        if model_file.metadata["format_version"] == 1:
            section, arrays = upgrade_version_1(section, arrays)
        _check_section(section, arrays, model_file)
    return model_file, section, arrays


def _check_section(section: Any, arrays: dict[str, np.ndarray], model_file: ModelFile) -> None:
    """The section's structure, and exactly the arrays it names, each a flat vector of the
    model's size and dtype."""
    if type(section["stopped"]) is not bool:
        raise ModelFileError("checkpoint 'stopped' must be true or false")
    optimizer, callbacks = section["optimizer"], section["callbacks"]
    names = optimizer.get("arrays") if isinstance(optimizer, dict) else None
    if not _is_name_list(names):
        raise ModelFileError("checkpoint optimizer must list its array names")
    expected = {f"optimizer.{name}" for name in names}
    if not isinstance(callbacks, dict):
        raise ModelFileError("checkpoint callbacks must be an object")
    for key, entry in callbacks.items():
        if not _is_name(key):
            raise ModelFileError(f"checkpoint callback name {key!r} is not plain")
        if not (isinstance(entry, dict) and set(entry) == {"state", "arrays"}):
            raise ModelFileError(f"checkpoint callback {key!r} must have 'state' and 'arrays'")
        if not isinstance(entry["state"], dict) or not _is_name_list(entry["arrays"]):
            raise ModelFileError(f"checkpoint callback {key!r} has a malformed state")
        expected |= {f"callbacks.{key}.{name}" for name in entry["arrays"]}
    if set(arrays) != expected:
        raise ModelFileError(
            f"checkpoint arrays: missing {sorted(expected - set(arrays))}, "
            f"unexpected {sorted(set(arrays) - expected)}"
        )
    model = model_file.model
    for key, array in arrays.items():
        if array.shape != (len(model.flat),) or array.dtype != model.dtype:
            raise ModelFileError(
                f"array {key!r} has shape {array.shape} and dtype {array.dtype}; expected "
                f"({len(model.flat)},) and {model.dtype}"
            )


def _is_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and set(name) <= _NAME_CHARACTERS


def _is_name_list(names: Any) -> bool:
    return isinstance(names, list) and all(_is_name(name) for name in names)


def resume_checkpoint(path: PathLike, run: TrainingRun, *, settings: dict | None = None) -> None:
    """Restore a checkpoint into ``run``: weights, optimiser state and learning rate, every
    callback's state, the History, and the state of every distinct random generator, so
    that training continues exactly as the run that wrote it would have. Stale temporary
    files of ``path`` are removed. Everything is checked before the model, the optimiser or
    the generators change, and a callback that refuses its state leaves the others as they
    were.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: if the file is not a valid checkpoint.
        ValueError: if it was written for another architecture, other settings or other
            callbacks.
    """
    remove_stale_temp_files(path)
    model_file, section, arrays = read_checkpoint(path)
    settings = run_settings(run) if settings is None else settings
    _check_compatible(path, model_file, section, run, settings)
    keyed = _keyed(run.callbacks)
    _check_callbacks(path, section, keyed)
    with refusing(path):
        history = read_history(section["history"])
        if len(history) != section["epoch"]:
            raise ModelFileError(
                f"history holds {len(history)} epochs but the checkpoint says {section['epoch']}"
            )
        optimizer_state, lr = _optimizer_state(section["optimizer"], arrays, run.optimizer)
        states = _generator_states(section["generators"], run)
    callback_states = {
        key: {**entry["state"], **{n: arrays[f"callbacks.{key}.{n}"] for n in entry["arrays"]}}
        for key, entry in section["callbacks"].items()
    }
    _load_callback_states(path, keyed, callback_states)
    copy_into(run.model.flat.values, model_file.model.flat.values)
    run.optimizer.load_state_dict(optimizer_state)
    run.optimizer.lr = lr
    for generator, state in zip(_distinct_generators(run)[0], states, strict=True):
        generator.bit_generator.state = state
    for key, values in history.to_dict().items():
        getattr(run.history, key)[:] = values
    run.stop_training = section["stopped"]


def _check_callbacks(path: PathLike, section: dict, keyed: dict[str, Callback]) -> None:
    """Saved states only for callbacks this run has, and one for each callback whose settings
    the run shares with the saved one (its settings match) and that keeps state."""
    name = os.fspath(path)
    unknown = sorted(set(section["callbacks"]) - set(keyed))
    if unknown:
        raise ValueError(
            f"{name} holds the state of {', '.join(unknown)}, which this run has no callback "
            "for; resume with the callbacks of the run that wrote it"
        )
    configured = section["settings"].get("callbacks", {})
    for key, callback in keyed.items():
        if key in configured and callback.state_dict() and key not in section["callbacks"]:
            raise ModelFileError(f"{name}: the checkpoint has no state for {key}")


def _load_callback_states(
    path: PathLike, keyed: dict[str, Callback], states: dict[str, dict]
) -> None:
    """Hand each callback its state; if one refuses, put back the ones already loaded."""
    before = {key: keyed[key].state_dict() for key in states}
    loaded: list[str] = []
    for key, state in states.items():
        try:
            keyed[key].load_state_dict(state)
        except ValueError as error:
            for done in loaded:
                keyed[done].load_state_dict(before[done])
            raise ModelFileError(
                f"{os.fspath(path)}: the saved state of {key} does not fit it ({error})"
            ) from None
        loaded.append(key)


def _check_compatible(
    path: PathLike, model_file: ModelFile, section: dict, run: TrainingRun, settings: dict
) -> None:
    """A checkpoint resumes only the run that wrote it: same architecture, settings, data
    and sharing of random generators. Mismatches are ``ValueError``s naming what differs."""
    name = os.fspath(path)
    if model_file.metadata["model"] != run.model.get_config():
        difference = _architecture_difference(model_file.metadata["model"], run.model.get_config())
        raise ValueError(f"{name} was written for another architecture: {difference}")
    saved = section["settings"]
    if not isinstance(saved, dict):
        raise ModelFileError(f"{name}: checkpoint settings must be an object")
    if saved != settings:
        differ = _differences(saved, settings)
        raise ValueError(
            f"{name} was written by a run with other {differ}; resume with the same data, "
            "optimiser (l2 and clip_norm included), batch size and callbacks (schedule, "
            "early stopping, ...)"
        )
    generators = section["generators"]
    if not isinstance(generators, dict) or set(generators) != {"states", "slots"}:
        raise ModelFileError(f"{name}: checkpoint generators must have keys 'slots' and 'states'")
    slots = _distinct_generators(run)[1]
    if generators["slots"] != slots:
        raise ValueError(
            f"{name}: the saved run shared its random generators as {generators['slots']}, this "
            f"run as {slots} (user -> generator); build the model and pass rng as before"
        )


def _architecture_difference(saved: dict, current: dict) -> str:
    """The first way two ``Sequential.get_config()`` differ, in words."""
    if saved["dtype"] != current["dtype"]:
        return f"dtype {saved['dtype']} in the file, {current['dtype']} in this run"
    saved_layers, layers = saved["layers"], current["layers"]
    for index, (old, new) in enumerate(zip(saved_layers, layers, strict=False)):
        if old["type"] != new["type"]:
            return f"layer {index} is {old['type']} in the file, {new['type']} in this run"
        keys = sorted(set(old["config"]) | set(new["config"]))
        differ = [key for key in keys if old["config"].get(key) != new["config"].get(key)]
        if differ:
            return f"layer {index} ({old['type']}) has " + ", ".join(
                f"{key} {old['config'].get(key)!r} in the file and {new['config'].get(key)!r} "
                "in this run"
                for key in differ
            )
    return f"{len(saved_layers)} layers in the file, {len(layers)} in this run"


def _differences(saved: dict, current: dict) -> list[str]:
    """The settings that differ, naming callbacks one by one (``callbacks.EarlyStopping``)."""
    differ = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if key == "callbacks" and isinstance(a, dict) and isinstance(b, dict):
            differ += [f"callbacks.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            differ.append(key)
    return differ


def _optimizer_state(
    section: Any, arrays: dict[str, np.ndarray], optimizer: Optimizer
) -> tuple[dict[str, np.ndarray], float]:
    """The checkpoint's optimiser state, checked against ``optimizer``'s own ``state_dict``."""
    if not isinstance(section, dict) or set(section) != {"type", "lr", "scalars", "arrays"}:
        raise ModelFileError("checkpoint optimizer must have keys arrays, lr, scalars, type")
    if section["type"] != type(optimizer).__name__:
        raise ModelFileError(
            f"checkpoint optimizer is {section['type']!r}, not {type(optimizer).__name__!r}"
        )
    lr = section["lr"]  # a schedule may have reached 0
    if not (is_finite_number(lr) and lr >= 0):
        raise ModelFileError(f"checkpoint lr must be a non-negative finite number; got {lr!r}")
    current = optimizer.state_dict()
    scalars = section["scalars"]
    expected = {key for key, value in current.items() if np.ndim(value) == 0}
    if not isinstance(scalars, dict) or set(scalars) != expected:
        raise ModelFileError(f"checkpoint optimizer scalars must be {sorted(expected)}")
    state = {}
    for key in expected:
        dtype = np.asarray(current[key]).dtype
        value = scalars[key]
        valid_int = type(value) is int and 0 <= value < 2**63
        if not (valid_int if dtype.kind in "iu" else is_finite_number(value)):
            raise ModelFileError(f"checkpoint optimizer {key!r} is {value!r}")
        state[key] = np.array(value, dtype=dtype)
    names = {key for key, value in current.items() if np.ndim(value) > 0}
    if set(section["arrays"]) != names:
        raise ModelFileError(f"checkpoint optimizer arrays must be {sorted(names)}")
    for key in names:
        state[key] = arrays[f"optimizer.{key}"]
    try:
        optimizer.check_state_dict(state)
    except ValueError as error:
        raise ModelFileError(f"checkpoint optimizer state: {error}") from None
    return state, float(lr)


def _generator_states(section: Any, run: TrainingRun) -> list[dict]:
    """The saved generator states, in the order of this run's distinct generators (whose
    sharing ``_check_compatible`` compared with the saved run's). Each state is tried on a
    scratch bit generator first, so a bad one changes nothing."""
    generators = _distinct_generators(run)[0]
    saved = section["states"]
    if not isinstance(saved, list) or len(saved) != len(generators):
        raise ModelFileError(f"checkpoint must hold {len(generators)} generator states")
    states = []
    for generator, encoded in zip(generators, saved, strict=True):
        state = _decode_state(encoded)
        scratch = type(generator.bit_generator)()
        try:
            scratch.state = state
        except (TypeError, ValueError, KeyError, OverflowError) as error:
            raise ModelFileError(f"invalid generator state ({error})") from None
        states.append(state)
    return states
