"""Model files: one sealed ``.npz`` archive per model, JSON metadata, no pickle.

The container is :mod:`neural_network.io.archive`'s. A model file holds:

* ``metadata``, the JSON object::

      {"format": "neural_network", "format_version": 1, "kind": "sequential",
       "model": Sequential.get_config(), "classes": [0, 1, ...], "config": {...}}

* ``layers.{i}.{name}``: the parameters of layer ``i`` (``weight``, ``bias``);
* the arrays of the model's kind, e.g. ``scaler.min`` and ``scaler.scale`` for
  ``NeuralNetwork``.

``config`` belongs to the kind (``NeuralNetwork`` keeps its constructor settings, scaler
dtype and History there). A training checkpoint is a model file of kind ``sequential`` with
a ``checkpoint`` section and arrays of its own (:mod:`neural_network.io.checkpoints`), so
:func:`load_model` reads it as the model it holds.

Reading checks the format version, the exact set of arrays, that every layer type is known,
that the shapes agree with the config, the dtypes, and that every value is finite; whatever
is wrong raises :class:`~neural_network.io.archive.ModelFileError` (a missing file stays
``FileNotFoundError``). Writing is atomic (:mod:`neural_network.io.atomic`).

Kinds of model: this module knows only ``sequential``. The layers above register theirs
with :func:`register_model_kind`, a loader and the names of the arrays it stores; a loader
given as ``"package.module:Class.method"`` is imported only when a file of that kind is
read, so that an optional dependency (scikit-learn, for ``MLPClassifier``) stays optional.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.model import LAYER_TYPES, Sequential, set_model_writer
from ..core.parameters import Parameter
from ..data.files import open_regular_file
from ..train.history import History
from .archive import (
    FLOAT_DTYPES,
    METADATA,
    NAME_CHARACTERS,
    ZIP_MAGIC,
    ModelFileError,
    read_archive,
    refusing,
    write_archive,
)

FORMAT = "neural_network"
FORMAT_VERSION = 1
MAX_FILE_BYTES = 1 << 32  # a sanity bound: no MLP of this library comes near 4 GiB
# The keys of a checkpoint's section, by the format version it was written with: version 2
# changed only that section (io.checkpoints reads it). Model files are version 1.
CHECKPOINT_KEYS = {
    1: frozenset({"epoch", "history", "optimizer", "early_stopping", "generators", "settings"}),
    2: frozenset(
        {"epoch", "stopped", "history", "optimizer", "callbacks", "generators", "settings"}
    ),
}
# Arrays a checkpoint adds (``early_stopping.`` in checkpoints of version 1).
CHECKPOINT_PREFIXES = ("optimizer.", "callbacks.", "early_stopping.")
_RESERVED_PREFIXES = ("layers.", *CHECKPOINT_PREFIXES, METADATA)
_TOP_LEVEL_KEYS = {"format", "format_version", "kind", "model", "classes", "config"}
PathLike = str | os.PathLike


@dataclass
class ModelFile:
    """A model file that passed every check, handed to the loader of its kind.

    Attributes:
        kind: The key of ``MODEL_KINDS`` that wrote it.
        model: The network, weights loaded.
        config: The kind's JSON settings (unchecked: the loader checks them).
        arrays: The kind's arrays, exactly the names it registered; float and finite.
        classes: The class labels, one per output unit.
        metadata: The whole parsed metadata.
        checkpoint_arrays: A checkpoint's own arrays (checked by ``io.checkpoints``).
    """

    kind: str
    model: Sequential
    config: dict
    arrays: dict[str, np.ndarray]
    classes: list
    metadata: dict
    checkpoint_arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


Loader = Callable[[ModelFile], Any]


@dataclass(frozen=True)
class ModelKind:
    """How to load one kind of model: a loader (or ``"module:attr"`` of one, imported on
    first use) and the names of the arrays the kind stores."""

    loader: Loader | str
    arrays: tuple[str, ...] = ()

    def load(self, model_file: ModelFile) -> Any:
        loader = self.loader
        if isinstance(loader, str):
            module_name, _, attribute = loader.partition(":")
            loader = importlib.import_module(module_name)
            for name in attribute.split("."):
                loader = getattr(loader, name)
        return loader(model_file)


def _load_sequential(model_file: ModelFile) -> Sequential:
    return model_file.model


MODEL_KINDS: dict[str, ModelKind] = {"sequential": ModelKind(_load_sequential)}


def register_model_kind(kind: str, loader: Loader | str, *, arrays: Sequence[str] = ()) -> None:
    """Teach :func:`load_model` a kind of model file.

    Args:
        kind: The name written in the file's metadata, e.g. ``"neural_network"``.
        loader: Builds the model from a checked :class:`ModelFile` and raises
            ``ModelFileError`` for a config or arrays it does not accept; or the
            ``"package.module:attr"`` path of such a function, imported when first needed.
        arrays: Names of the float arrays the kind stores besides the layers' parameters.

    Raises:
        ValueError: for an empty kind, a loader path without ``:``, or an array name that
            is reserved or not plain.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string; got {kind!r}")
    if isinstance(loader, str) and ":" not in loader:
        raise ValueError(f"a loader path must read 'package.module:attr'; got {loader!r}")
    if not isinstance(loader, str) and not callable(loader):
        raise TypeError(f"loader must be callable or a 'module:attr' path; got {loader!r}")
    for name in arrays:
        _check_array_name(name)
    MODEL_KINDS[kind] = ModelKind(loader, tuple(arrays))


def _check_array_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or not set(name) <= NAME_CHARACTERS
        or name.startswith(_RESERVED_PREFIXES)
    ):
        raise ValueError(
            f"array name {name!r} must be letters, digits, '.' and '_' and must not start "
            f"with one of {list(_RESERVED_PREFIXES)}"
        )


def model_metadata(
    model: Sequential, *, kind: str, config: Mapping[str, Any], classes: list
) -> dict[str, Any]:
    """The metadata of a model file (a checkpoint adds its section to it)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model": model.get_config(),
        "classes": classes,
        "config": dict(config),
    }


def save_model(
    path: PathLike,
    model: Sequential,
    *,
    kind: str = "sequential",
    config: Mapping[str, Any] | None = None,
    arrays: Mapping[str, np.ndarray] | None = None,
    classes: Sequence | None = None,
) -> None:
    """Write ``model`` (and what its kind adds) atomically to exactly ``path``.

    Args:
        path: The file to write; no suffix is added.
        model: The network whose architecture and weights to save.
        kind: A key of ``MODEL_KINDS``.
        config: The kind's JSON-safe settings.
        arrays: The kind's float arrays, exactly the names it registered.
        classes: The class labels (JSON scalars), one per output; ``0 .. n_classes-1`` by
            default.

    Raises:
        ModelFileError: if a weight or array is not finite (nothing is written).
        ValueError: for an unknown kind, arrays other than the kind's, or classes of the
            wrong length.
    """
    if kind not in MODEL_KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    arrays = dict(arrays or {})
    expected = set(MODEL_KINDS[kind].arrays)
    if set(arrays) != expected:
        raise ValueError(f"kind {kind!r} stores arrays {sorted(expected)}; got {sorted(arrays)}")
    classes = list(range(model.n_classes)) if classes is None else list(classes)
    if len(classes) != model.n_classes:
        raise ValueError(f"classes has {len(classes)} labels but the model has {model.n_classes}")
    metadata = model_metadata(model, kind=kind, config=config or {}, classes=classes)
    write_archive(path, metadata, {**parameter_arrays(model), **arrays})


set_model_writer(save_model)


def load_model(path: PathLike) -> Any:
    """Read a model file (or a checkpoint) and return a model of the kind that wrote it.

    Args:
        path: A file written by ``model.save(path)``, :func:`save_model` or a checkpoint.

    Returns:
        A ``Sequential``, a ``NeuralNetwork``, or another registered kind; predictions are
        bit-identical to those of the model that was saved.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: for anything wrong with the file (one that is not a regular file or
            is over ``MAX_FILE_BYTES`` included); no code in it is ever run.
    """
    model_file = read_model_file(path)
    with refusing(path):
        return MODEL_KINDS[model_file.kind].load(model_file)


def read_model_file(path: PathLike) -> ModelFile:
    """Read and check a model file without handing it to its kind's loader.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: for anything wrong with the file.
    """
    try:
        file = open_regular_file(path, "model file", max_bytes=MAX_FILE_BYTES)
    except ValueError as error:
        raise ModelFileError(str(error)) from None
    with file:
        head = file.read(len(ZIP_MAGIC))
        if head != ZIP_MAGIC:  # checked before the rest is read
            raise ModelFileError(f"{os.fspath(path)}: not a model file: no zip archive")
        data = head + file.read()
    with refusing(path):
        return _parse(data)


def read_history(data: Any) -> History:
    """A History from its ``to_dict()`` as a file stored it (a kind's config, a checkpoint).

    Raises:
        ModelFileError: if ``data`` is not a valid History.
    """
    try:
        return History.from_dict(data)
    except ValueError as error:
        raise ModelFileError(str(error)) from None


def parameter_arrays(model: Sequential) -> dict[str, np.ndarray]:
    """The model's parameters by file name, ``layers.{i}.{name}``, in layer order."""
    return {key: p.value for key, p in _named_parameters(model).items()}


def _named_parameters(model: Sequential) -> dict[str, Parameter]:
    return {
        f"layers.{i}.{p.name}": p
        for i, layer in enumerate(model.layers)
        for p in layer.parameters()
    }


def _expected_arrays(metadata: dict, present: set[str]) -> set[str]:
    kind = _check_metadata(metadata)
    names = set(_parameter_shapes(metadata["model"])) | set(MODEL_KINDS[kind].arrays)
    if "checkpoint" in metadata:  # io.checkpoints checks which of these it needs
        names |= {name for name in present if name.startswith(CHECKPOINT_PREFIXES)}
    return names


def _parse(data: bytes) -> ModelFile:
    metadata, arrays = read_archive(data, _expected_arrays)
    kind = metadata["kind"]
    shapes = _parameter_shapes(metadata["model"])
    model = _build_model(metadata["model"], shapes, arrays)
    return ModelFile(
        kind=kind,
        model=model,
        config=metadata["config"],
        arrays={key: arrays[key] for key in MODEL_KINDS[kind].arrays},
        classes=_check_classes(metadata["classes"], model.n_classes),
        metadata=metadata,
        checkpoint_arrays={k: v for k, v in arrays.items() if k.startswith(CHECKPOINT_PREFIXES)},
    )


def _check_metadata(metadata: dict) -> str:
    """Check the format, version and top-level keys; return the kind."""
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"format is {metadata.get('format')!r}; expected {FORMAT!r}")
    version = metadata.get("format_version")
    readable = tuple(CHECKPOINT_KEYS) if "checkpoint" in metadata else (FORMAT_VERSION,)
    if type(version) is not int or version not in readable:
        raise ModelFileError(
            f"unsupported format version {version!r}; this library reads version "
            f"{' and '.join(map(str, readable))}"
            + (" of checkpoints" if "checkpoint" in metadata else "")
        )
    keys = set(metadata)
    missing, extra = _TOP_LEVEL_KEYS - keys, keys - _TOP_LEVEL_KEYS - {"checkpoint"}
    if missing or extra:
        raise ModelFileError(
            f"metadata keys: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
    section = metadata.get("checkpoint", {})
    keys = CHECKPOINT_KEYS[version] if "checkpoint" in metadata else set()
    if not isinstance(section, dict) or set(section) != keys:
        raise ModelFileError(f"checkpoint must be an object with keys {sorted(keys)}")
    kind = metadata["kind"]
    if not isinstance(kind, str) or kind not in MODEL_KINDS:
        raise ModelFileError(f"unknown model kind {kind!r}; expected one of {sorted(MODEL_KINDS)}")
    if not isinstance(metadata["config"], dict):
        raise ModelFileError("config must be a JSON object")
    return kind


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 1


def _parameter_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Check a ``Sequential.get_config()`` from a file; return each parameter's expected shape.

    Only ``Dense`` layers hold parameters; consecutive ones must chain (``n_out`` of one is
    ``n_in`` of the next).
    """
    if not isinstance(config, dict) or set(config) != {"dtype", "layers"}:
        raise ModelFileError("model config must be an object with keys 'dtype' and 'layers'")
    if config["dtype"] not in [str(d) for d in FLOAT_DTYPES]:
        raise ModelFileError(f"model dtype {config['dtype']!r} is not float32 or float64")
    layers = config["layers"]
    if not isinstance(layers, list) or not layers:
        raise ModelFileError("model config must list at least one layer")
    shapes: dict[str, tuple[int, ...]] = {}
    n_prev = None
    for i, spec in enumerate(layers):
        if not (isinstance(spec, dict) and set(spec) == {"type", "config"}):
            raise ModelFileError(f"layer {i} must be an object with keys 'type' and 'config'")
        if not isinstance(spec["type"], str) or spec["type"] not in LAYER_TYPES:
            raise ModelFileError(
                f"layer {i} has unknown type {spec['type']!r}; "
                f"expected one of {sorted(LAYER_TYPES)}"
            )
        if not isinstance(spec["config"], dict):
            raise ModelFileError(f"layer {i} config must be a JSON object")
        if spec["type"] != "Dense":
            continue
        n_in, n_out = spec["config"].get("n_in"), spec["config"].get("n_out")
        if not (_is_count(n_in) and _is_count(n_out)):
            raise ModelFileError(f"layer {i} (Dense) needs positive integer n_in and n_out")
        if n_prev is not None and n_in != n_prev:
            raise ModelFileError(
                f"layer {i} (Dense) takes {n_in} inputs but the Dense layer before gives {n_prev}"
            )
        shapes[f"layers.{i}.weight"], shapes[f"layers.{i}.bias"] = (n_in, n_out), (n_out,)
        n_prev = n_out
    if n_prev is None:
        raise ModelFileError("model config has no Dense layer")
    return shapes


def _build_model(
    config: dict, shapes: dict[str, tuple[int, ...]], arrays: dict[str, np.ndarray]
) -> Sequential:
    # Shapes first: the config may not make the constructor allocate more than the file holds.
    dtype = np.dtype(config["dtype"])
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise ModelFileError(
                f"array {key!r} has shape {arrays[key].shape}; the config says {shape}"
            )
        if arrays[key].dtype != dtype:
            raise ModelFileError(
                f"array {key!r} has dtype {arrays[key].dtype}; the model's is {dtype}"
            )
    try:
        model = Sequential.from_config(config, rng=np.random.default_rng(0))
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"invalid layer config ({error})") from None
    params = _named_parameters(model)
    if set(params) != set(shapes):
        raise ModelFileError(f"layers hold parameters {sorted(params)}; expected {sorted(shapes)}")
    for key, p in params.items():
        p.value[...] = arrays[key]
    return model


def _check_classes(classes: Any, n_classes: int) -> list:
    if not isinstance(classes, list) or len(classes) != n_classes:
        raise ModelFileError(f"classes must be a list of {n_classes} labels")
    for label in classes:
        if isinstance(label, (dict, list)) or label is None:
            raise ModelFileError(f"class label {label!r} is not a number or a string")
    return classes
