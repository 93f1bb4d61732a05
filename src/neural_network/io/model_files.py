"""Model files and training checkpoints: one ``.npz`` archive, JSON metadata, no pickle.

A file is an uncompressed zip archive of ``.npy`` members (what ``np.savez`` writes):

* ``metadata``: UTF-8 JSON stored as a 1-D ``uint8`` array;
* ``layers.{i}.{name}``: the parameters of layer ``i`` (``weight``, ``bias``);
* the arrays of the model's kind, e.g. ``scaler.min`` and ``scaler.scale`` for
  ``NeuralNetwork``;
* in checkpoints only: ``optimizer.{name}`` (Adam's ``m_sum`` and ``v_sum``, SGD's
  ``velocity``) and, when early stopping keeps them, ``early_stopping.best_values``.

Every array but ``metadata`` is float32 or float64. The metadata is::

    {"format": "neural_network", "format_version": 1, "kind": "sequential",
     "model": Sequential.get_config(), "classes": [0, 1, ...], "config": {...},
     "checkpoint": {...}}            # "checkpoint" only in checkpoints

``config`` belongs to the kind (``NeuralNetwork`` keeps its constructor settings, scaler dtype
and History there); ``checkpoint`` holds the epoch, the History, the optimiser's scalars, the
early-stopping state, the states of the random generators and the run's settings.

The archive's comment, its last 64 bytes, is the hex SHA-256 of every byte before it, so a
truncated file or a flipped byte anywhere is refused before anything is parsed.

Reading uses ``np.load(..., allow_pickle=False)`` after checking every member's ``.npy``
header (no object dtypes, sizes that match the bytes present), then checks the format version,
the exact set of arrays, that every layer type is known, that the shapes agree with the
config, the dtypes and that every value is finite. Whatever is wrong raises
:class:`ModelFileError`; a missing file stays ``FileNotFoundError``.

Writing is atomic: the bytes go to a temporary file in the same folder (``.{name}.tmp-<pid>-
<random>``), are flushed and fsynced, and ``os.replace`` moves them to the path, so the path
holds either the old file or the new one, never a part. Temporary files left by a killed
writer are removed at the next write to, or resume from, the same path.

Adding a kind of model (say an estimator): write it with :func:`save_model` (its own
``kind``, JSON ``config`` and float ``arrays``), write a loader ``ModelFile -> model`` that
checks ``model_file.config`` and ``model_file.arrays`` and raises :class:`ModelFileError` for
anything it does not accept, and call ``register_model_kind("my_kind", loader,
arrays=("my.array", ...))`` when its module is imported. If that module is imported lazily,
register a loader that imports it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.layers import Dropout, Parameter
from ..core.model import LAYER_TYPES, Sequential
from ..optim.optimizers import Optimizer

FORMAT = "neural_network"
FORMAT_VERSION = 1
METADATA = "metadata"
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
PathLike = str | os.PathLike

_DIGEST_SIZE = 64  # hex digits of a SHA-256
_MAX_NPY_HEADER = 10_000
_RESERVED_PREFIXES = ("layers.", "optimizer.", "early_stopping.", METADATA)
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")
_TOP_LEVEL_KEYS = {"format", "format_version", "kind", "model", "classes", "config"}
_CHECKPOINT_KEYS = {"epoch", "history", "optimizer", "early_stopping", "generators", "settings"}
_TEMP_MARK = ".tmp-"
# What parsing a hostile archive can raise besides ModelFileError: zipfile, struct and the
# .npy reader raise all of these for one malformed input or another.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OSError,
    EOFError,
    OverflowError,
    RecursionError,
    MemoryError,
    NotImplementedError,
    struct.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
)


class ModelFileError(ValueError):
    """A model file or checkpoint that cannot be trusted or used.

    Raised for files that are truncated, corrupt, hostile (object arrays, pickles), of an
    unknown format version, inconsistent with themselves (shapes that disagree with the
    config, unknown layer types, missing or extra arrays) or that hold non-floating or
    non-finite arrays; and when asked to save non-finite weights. The message names the file
    and what is wrong.
    """


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
    """

    kind: str
    model: Sequential
    config: dict
    arrays: dict[str, np.ndarray]
    classes: list
    metadata: dict
    checkpoint_arrays: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ModelKind:
    """How to load one kind of model: a loader and the names of the arrays it stores."""

    loader: Callable[[ModelFile], Any]
    arrays: tuple[str, ...] = ()


def _load_sequential(model_file: ModelFile) -> Sequential:
    return model_file.model


def _load_mlp_classifier(model_file: ModelFile) -> Any:
    # neural_network.estimator is imported lazily (scikit-learn is optional), so its kind is
    # known here too; importing it registers the same kind with the same arrays.
    try:
        from ..apps.estimators import MLPClassifier
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] != "sklearn":
            raise
        raise ModuleNotFoundError(
            "This model file holds an MLPClassifier, which needs scikit-learn: "
            'pip install "neural-network[sklearn]"',
            name=error.name,
        ) from error
    return MLPClassifier._from_model_file(model_file)


MODEL_KINDS: dict[str, ModelKind] = {
    "sequential": ModelKind(_load_sequential),
    "mlp_classifier": ModelKind(_load_mlp_classifier, ("scaler.min", "scaler.scale")),
}


def register_model_kind(
    kind: str, loader: Callable[[ModelFile], Any], *, arrays: Sequence[str] = ()
) -> None:
    """Teach :func:`load_model` a kind of model file.

    Args:
        kind: The name written in the file's metadata, e.g. ``"neural_network"``.
        loader: Builds the model from a checked :class:`ModelFile`; raises
            :class:`ModelFileError` for a config or arrays it does not accept.
        arrays: Names of the float arrays the kind stores besides the layers' parameters.

    Raises:
        ValueError: for an empty kind or an array name that is reserved or not plain.
    """
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"kind must be a non-empty string; got {kind!r}")
    for name in arrays:
        _check_array_name(name)
    MODEL_KINDS[kind] = ModelKind(loader, tuple(arrays))


def _check_array_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or not set(name) <= _NAME_CHARACTERS
        or name.startswith(_RESERVED_PREFIXES)
    ):
        raise ValueError(
            f"array name {name!r} must be letters, digits, '.' and '_' and must not start "
            f"with one of {list(_RESERVED_PREFIXES)}"
        )


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
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "model": model.get_config(),
        "classes": classes,
        "config": dict(config or {}),
    }
    _write_archive(path, metadata, {**parameter_arrays(model), **arrays})


def load_model(path: PathLike) -> Any:
    """Read a model file (or a checkpoint) and return a model of the kind that wrote it.

    Args:
        path: A file written by ``model.save(path)``, :func:`save_model` or a checkpoint.

    Returns:
        A ``Sequential``, a ``NeuralNetwork``, or another registered kind; predictions are
        bit-identical to those of the model that was saved.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: for anything wrong with the file; no code in it is ever run.
    """
    model_file = read_model_file(path)
    with _refusing(path):
        return MODEL_KINDS[model_file.kind].loader(model_file)


def read_model_file(path: PathLike) -> ModelFile:
    """Read and check a model file without handing it to its kind's loader.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: for anything wrong with the file.
    """
    data = Path(path).read_bytes()
    with _refusing(path):
        return _parse(data)


@contextlib.contextmanager
def _refusing(path: PathLike):
    """Turn every error that a malformed file can cause into a ModelFileError naming it."""
    try:
        yield
    except ModelFileError as error:
        raise ModelFileError(f"{os.fspath(path)}: {error}") from None
    except _PARSE_ERRORS as error:
        raise ModelFileError(
            f"{os.fspath(path)}: not a readable model file ({type(error).__name__}: {error})"
        ) from error


def parameter_arrays(model: Sequential) -> dict[str, np.ndarray]:
    """The model's parameters by file name, ``layers.{i}.{name}``, in layer order."""
    return {key: p.value for key, p in _named_parameters(model).items()}


def _named_parameters(model: Sequential) -> dict[str, Parameter]:
    return {
        f"layers.{i}.{p.name}": p
        for i, layer in enumerate(model.layers)
        for p in layer.parameters()
    }


def _parse(data: bytes) -> ModelFile:
    _check_digest(data)
    _check_members(data)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        if METADATA not in npz.files:
            raise ModelFileError(f"missing array {METADATA!r}")
        metadata = _decode_metadata(npz[METADATA])
        kind = _check_metadata(metadata)
        shapes = _parameter_shapes(metadata["model"])
        checkpoint_keys = _checkpoint_array_names(metadata.get("checkpoint"))
        kind_keys = set(MODEL_KINDS[kind].arrays)
        _check_names(set(npz.files) - {METADATA}, set(shapes) | kind_keys | checkpoint_keys)
        arrays = {key: npz[key] for key in npz.files if key != METADATA}
    for key, array in arrays.items():
        _check_values(key, array)
    model = _build_model(metadata["model"], shapes, arrays)
    checkpoint_arrays = {key: arrays[key] for key in checkpoint_keys}
    _check_state_arrays(checkpoint_arrays, model)
    return ModelFile(
        kind=kind,
        model=model,
        config=metadata["config"],
        arrays={key: arrays[key] for key in kind_keys},
        classes=_check_classes(metadata["classes"], model.n_classes),
        metadata=metadata,
        checkpoint_arrays=checkpoint_arrays,
    )


def _check_digest(data: bytes) -> None:
    if not data.startswith(b"PK\x03\x04") or len(data) < _DIGEST_SIZE:
        raise ModelFileError("not a model file: no zip archive")
    body, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
    if hashlib.sha256(body).hexdigest().encode("ascii") != digest:
        raise ModelFileError("checksum mismatch: the file is truncated or corrupt")


def _check_members(data: bytes) -> None:
    """Check every member's name, storage and ``.npy`` header before ``np.load`` reads it,
    so that no object array is ever unpickled and no header makes it allocate more than the
    bytes present."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise ModelFileError("the archive holds two members with one name")
        for info in infos:
            _check_member(archive, info)


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = info.filename
    if not name.endswith(".npy") or not set(name) <= _NAME_CHARACTERS:
        raise ModelFileError(f"unexpected member {name!r}: a model file holds only .npy arrays")
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        raise ModelFileError(f"member {name!r} is compressed or encrypted")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member, _MAX_NPY_HEADER)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member, _MAX_NPY_HEADER)
        else:
            raise ModelFileError(f"member {name!r} has unsupported .npy version {version}")
        header_size = member.tell()
    key = name[: -len(".npy")]
    if dtype.hasobject:
        raise ModelFileError(
            f"array {key!r} holds Python objects (dtype {dtype}); model files never do, "
            "and this library never unpickles"
        )
    allowed = (np.dtype(np.uint8),) if key == METADATA else FLOAT_DTYPES
    if dtype not in allowed:
        raise ModelFileError(
            f"array {key!r} has dtype {dtype}; expected one of {[str(d) for d in allowed]}"
        )
    n_bytes = math.prod(shape) * dtype.itemsize
    if n_bytes != info.file_size - header_size:
        raise ModelFileError(
            f"array {key!r} declares shape {shape} ({n_bytes} bytes) but holds "
            f"{info.file_size - header_size} bytes"
        )


def _decode_metadata(array: np.ndarray) -> dict:
    if array.ndim != 1:
        raise ModelFileError(f"metadata must be a 1-D byte array; got shape {array.shape}")
    metadata = _loads(array.tobytes().decode("utf-8"))
    if not isinstance(metadata, dict):
        raise ModelFileError("metadata must be a JSON object")
    return metadata


def _loads(text: str) -> Any:
    """Strict JSON: no NaN or Infinity, no repeated keys."""

    def refuse_constant(name: str):
        raise ModelFileError(f"metadata holds {name}, which is not JSON")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict:
        result = dict(pairs)
        if len(result) != len(pairs):
            raise ModelFileError("metadata repeats a key in one object")
        return result

    try:
        return json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as error:
        raise ModelFileError(f"metadata is not valid JSON ({error})") from None


def _dumps(metadata: dict) -> bytes:
    try:
        text = json.dumps(metadata, allow_nan=False, sort_keys=True, separators=(",", ":"))
    except ValueError as error:
        raise ModelFileError(f"metadata holds a non-finite number ({error})") from None
    return text.encode("utf-8")


def _check_metadata(metadata: dict) -> str:
    """Check the format, version and top-level keys; return the kind."""
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"format is {metadata.get('format')!r}; expected {FORMAT!r}")
    version = metadata.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ModelFileError(
            f"unsupported format version {version!r}; this library reads version {FORMAT_VERSION}"
        )
    keys = set(metadata)
    missing, extra = _TOP_LEVEL_KEYS - keys, keys - _TOP_LEVEL_KEYS - {"checkpoint"}
    if missing or extra:
        raise ModelFileError(
            f"metadata keys: missing {sorted(missing)}, unexpected {sorted(extra)}"
        )
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


def _check_names(present: set[str], expected: set[str]) -> None:
    if present != expected:
        raise ModelFileError(
            f"arrays do not match the metadata: missing {sorted(expected - present)}, "
            f"unexpected {sorted(present - expected)}"
        )


def _check_values(key: str, array: np.ndarray) -> None:
    if array.dtype not in FLOAT_DTYPES:
        raise ModelFileError(f"array {key!r} has dtype {array.dtype}; expected float32 or float64")
    if not np.isfinite(array).all():
        raise ModelFileError(f"array {key!r} holds NaN or infinite values")


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


def _write_archive(path: PathLike, metadata: dict, arrays: Mapping[str, np.ndarray]) -> None:
    for key, array in arrays.items():
        try:
            _check_values(key, np.asarray(array))
        except ModelFileError as error:
            raise ModelFileError(
                f"refusing to write {os.fspath(path)}: {error}; a model is never saved with "
                "non-finite or non-floating values"
            ) from None
    members = {f"{METADATA}.npy": _npy_bytes(np.frombuffer(_dumps(metadata), dtype=np.uint8))}
    members.update({f"{key}.npy": _npy_bytes(array) for key, array in arrays.items()})
    write_atomically(path, archive_bytes(members))


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def archive_bytes(members: Mapping[str, bytes]) -> bytes:
    """An uncompressed zip of ``members`` (name -> bytes) sealed with its SHA-256.

    The digest of every byte before it is written as the archive comment, which is the last
    ``64`` bytes of the file. Fixed timestamps make the bytes depend only on the content.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.comment = b"0" * _DIGEST_SIZE
        for name, payload in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), payload)
    body = buffer.getbuffer()[:-_DIGEST_SIZE]
    return bytes(body) + hashlib.sha256(body).hexdigest().encode("ascii")


def write_atomically(path: PathLike, data: bytes) -> None:
    """Write ``data`` to exactly ``path`` so that a crash leaves the old file or the new one.

    The bytes go to ``.{name}.tmp-<pid>-<random>`` in the same folder, are flushed and
    fsynced, then ``os.replace`` renames the file over ``path`` and the folder is fsynced.
    Temporary files of writers that died are removed first.
    """
    path = Path(path)
    remove_stale_temp_files(path)
    temp = path.with_name(f".{path.name}{_TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; folders cannot be opened for fsync on Windows."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse to fsync a folder; the rename has happened anyway
    finally:
        os.close(fd)


def remove_stale_temp_files(path: PathLike) -> list[Path]:
    """Remove temporary files that writers of ``path`` left when they were killed.

    A temporary file is stale when the process that created it (the pid in its name) no
    longer runs. Off POSIX, where that cannot be asked safely, it is stale after an hour.

    Returns:
        The files removed.
    """
    path = Path(path)
    prefix = f".{path.name}{_TEMP_MARK}"
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and _is_stale(entry, entry.name[len(prefix) :]):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _is_stale(entry: os.DirEntry, suffix: str) -> bool:
    pid_text = suffix.split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if os.name != "posix":
        return time.time() - entry.stat().st_mtime > 3600
    if pid == os.getpid():
        return False  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


@dataclass
class TrainingRun:
    """The objects of one ``fit`` call that a checkpoint saves and restores.

    Attributes:
        model: The network being trained.
        optimizer: Its optimiser.
        rng: The generator ``fit`` shuffles with.
        early_stopping: The ``EarlyStopping`` state machine, or ``None``.
        settings: The run's settings (see :func:`training_settings`); a resume must match.
    """

    model: Sequential
    optimizer: Optimizer
    rng: np.random.Generator
    early_stopping: Any
    settings: dict


def training_settings(
    *,
    optimizer: Optimizer,
    batch_size: int,
    l2: float,
    clip_norm: float | None,
    schedule: Callable[[int], float] | None,
    early_stopping: Any,
    data: Sequence[np.ndarray],
    validation_data: Sequence[np.ndarray] | None,
) -> dict:
    """What a resumed run must share with the run that wrote the checkpoint, as JSON.

    The data are summarised by their shapes and a CRC-32 of their bytes. ``epochs`` is not
    part of it: a run may be resumed for more epochs. The optimiser's ``lr`` is not either,
    since a schedule changes it; the checkpoint restores it.
    """
    optimizer_config = {k: v for k, v in optimizer.get_config().items() if k != "lr"}
    get_config = getattr(schedule, "get_config", None)
    settings = {
        "optimizer": {"type": type(optimizer).__name__, **optimizer_config},
        "batch_size": batch_size,
        "l2": float(l2),
        "clip_norm": None if clip_norm is None else float(clip_norm),
        "schedule": get_config() if get_config is not None else None,
        "early_stopping": None
        if early_stopping is None
        else _early_stopping_config(early_stopping),
        "data": _fingerprint(data),
        "validation_data": None if validation_data is None else _fingerprint(validation_data),
    }
    return json.loads(_dumps(settings))


def _fingerprint(arrays: Sequence[np.ndarray]) -> dict:
    crc = 0
    for array in arrays:
        crc = zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8), crc)
    return {"shapes": [list(np.shape(a)) for a in arrays], "crc32": crc}


def _early_stopping_config(early_stopping: Any) -> dict:
    return {
        "patience": early_stopping.patience,
        "min_delta": early_stopping.min_delta,
        "monitor": early_stopping.monitor,
        "restore_best": early_stopping.restore_best,
    }


def _distinct_generators(run: TrainingRun) -> tuple[list[np.random.Generator], dict[str, int]]:
    """The distinct generators of a run (by identity) and which of them each user draws from.

    Users are ``"fit"`` (shuffling) and ``"layers.{i}"`` for each Dropout layer. The same
    object often serves several (``NeuralNetwork`` uses one for everything); restoring each
    distinct object once is what makes a resumed run bit-identical.
    """
    generators: list[np.random.Generator] = []
    slots: dict[str, int] = {}
    users = [("fit", run.rng)] + [
        (f"layers.{i}", layer.rng)
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


def save_checkpoint(path: PathLike, run: TrainingRun, history: Any) -> None:
    """Write everything needed to continue ``run`` bit-identically, atomically, to ``path``.

    Args:
        path: The checkpoint file; no suffix is added.
        run: The run's objects.
        history: The ``History`` so far; its length is the number of epochs done.

    Raises:
        ModelFileError: if the weights or optimiser state are not finite (nothing is written).
    """
    model, optimizer, early_stopping = run.model, run.optimizer, run.early_stopping
    state = optimizer.state_dict()
    scalars = {key: value.item() for key, value in state.items() if np.ndim(value) == 0}
    arrays = {f"optimizer.{key}": value for key, value in state.items() if np.ndim(value) > 0}
    stopping = None
    if early_stopping is not None:
        stopping = {
            "best": early_stopping.best if early_stopping.best_epoch > 0 else None,
            "best_epoch": early_stopping.best_epoch,
            "wait": early_stopping.wait,
            "stopped": early_stopping.stopped,
            "best_values": early_stopping.best_values is not None,
        }
        if early_stopping.best_values is not None:
            arrays["early_stopping.best_values"] = early_stopping.best_values
    generators, slots = _distinct_generators(run)
    checkpoint = {
        "epoch": len(history),
        "history": history.to_dict(),
        "optimizer": {
            "type": type(optimizer).__name__,
            "lr": optimizer.lr,
            "scalars": scalars,
            "arrays": sorted(key for key, value in state.items() if np.ndim(value) > 0),
        },
        "early_stopping": stopping,
        "generators": {
            "states": [_encode_state(g.bit_generator.state) for g in generators],
            "slots": slots,
        },
        "settings": run.settings,
    }
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "sequential",
        "model": model.get_config(),
        "classes": list(range(model.n_classes)),
        "config": {},
        "checkpoint": checkpoint,
    }
    _write_archive(path, metadata, {**parameter_arrays(model), **arrays})


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


def _checkpoint_array_names(checkpoint: Any) -> set[str]:
    """The arrays a checkpoint section says the file holds (none for a plain model file)."""
    if checkpoint is None:
        return set()
    if not isinstance(checkpoint, dict) or set(checkpoint) != _CHECKPOINT_KEYS:
        raise ModelFileError(f"checkpoint must be an object with keys {sorted(_CHECKPOINT_KEYS)}")
    optimizer = checkpoint["optimizer"]
    names = optimizer.get("arrays") if isinstance(optimizer, dict) else None
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n and set(n) <= _NAME_CHARACTERS for n in names
    ):
        raise ModelFileError("checkpoint optimizer must list its array names")
    keys = {f"optimizer.{name}" for name in names}
    stopping = checkpoint["early_stopping"]
    if stopping is not None and not isinstance(stopping, dict):
        raise ModelFileError("checkpoint early_stopping must be an object or null")
    if stopping is not None and stopping.get("best_values") is True:
        keys.add("early_stopping.best_values")
    return keys


def _check_state_arrays(arrays: dict[str, np.ndarray], model: Sequential) -> None:
    """Optimiser moments and kept best weights are flat vectors like the model's buffer."""
    size = len(model.flat)
    for key, array in arrays.items():
        if array.shape != (size,) or array.dtype != model.dtype:
            raise ModelFileError(
                f"array {key!r} has shape {array.shape} and dtype {array.dtype}; expected "
                f"({size},) and {model.dtype}"
            )


def resume_checkpoint(path: PathLike, run: TrainingRun, history: Any) -> None:
    """Restore a checkpoint into ``run``'s objects and the empty ``history``.

    Weights, optimiser state, learning rate, early-stopping state, History and the state of
    every distinct random generator are restored, so training continues exactly as the run
    that wrote it would have. Stale temporary files of ``path`` are removed. Everything is
    checked before anything is changed.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ModelFileError: if the file is not a valid checkpoint.
        ValueError: if it was written for another architecture or other settings.
    """
    remove_stale_temp_files(path)
    model_file = read_model_file(path)
    checkpoint = model_file.metadata.get("checkpoint")
    if checkpoint is None or model_file.kind != "sequential":
        raise ModelFileError(f"{os.fspath(path)}: a model file, not a training checkpoint")
    _check_compatible(path, model_file, run)
    with _refusing(path):
        _check_history(checkpoint["history"], history, checkpoint["epoch"])
        optimizer_state, lr = _optimizer_state(checkpoint["optimizer"], model_file, run.optimizer)
        stopping = _stopping_state(checkpoint["early_stopping"], checkpoint["epoch"], run)
        states = _generator_states(checkpoint["generators"], run)
    run.model.flat.values[...] = model_file.model.flat.values
    run.optimizer.load_state_dict(optimizer_state)
    run.optimizer.lr = lr
    if stopping is not None:
        _apply_stopping(run.early_stopping, stopping, model_file.checkpoint_arrays)
    for generator, state in zip(_distinct_generators(run)[0], states, strict=True):
        generator.bit_generator.state = state
    _fill_history(history, checkpoint["history"])


def _check_compatible(path: PathLike, model_file: ModelFile, run: TrainingRun) -> None:
    """A checkpoint resumes only the run that wrote it: same architecture, settings, data
    and sharing of random generators. Mismatches are ``ValueError``s naming what differs."""
    name = os.fspath(path)
    checkpoint = model_file.metadata["checkpoint"]
    if model_file.metadata["model"] != run.model.get_config():
        raise ValueError(
            f"{name} was written for another architecture: "
            f"{model_file.metadata['model']} != {run.model.get_config()}"
        )
    saved = checkpoint["settings"]
    if not isinstance(saved, dict):
        raise ModelFileError(f"{name}: checkpoint settings must be an object")
    if saved != run.settings:
        differ = sorted(
            k for k in set(saved) | set(run.settings) if saved.get(k) != run.settings.get(k)
        )
        raise ValueError(
            f"{name} was written by a run with other {differ}; resume with the same data, "
            "optimiser, schedule, batch size, l2, clip_norm and early stopping"
        )
    generators = checkpoint["generators"]
    if not isinstance(generators, dict) or set(generators) != {"states", "slots"}:
        raise ModelFileError(f"{name}: checkpoint generators must have keys 'slots' and 'states'")
    slots = _distinct_generators(run)[1]
    if generators["slots"] != slots:
        raise ValueError(
            f"{name}: the saved run shared its random generators as {generators['slots']}, this "
            f"run as {slots} (user -> generator); build the model and pass rng as before"
        )


def restore_history(history: Any, data: Any) -> Any:
    """Fill an empty ``History`` from its ``to_dict()`` read back from a file.

    Raises:
        ModelFileError: if the fields, lengths or values are not those of a History.
    """
    _check_history(data, history, None)
    _fill_history(history, data)
    return history


def _fill_history(history: Any, data: dict) -> None:
    for key, values in data.items():
        getattr(history, key)[:] = values


def _is_finite_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _check_history(data: Any, history: Any, n_epochs: int | None) -> None:
    """``data`` must have the fields of ``history``, finite numbers, epochs ``1..n``, and
    one value per epoch in every field (validation fields may be empty)."""
    fields = set(history.to_dict())
    if not isinstance(data, dict) or set(data) != fields:
        raise ModelFileError(f"history must be an object with keys {sorted(fields)}")
    for key, values in data.items():
        if not isinstance(values, list) or not all(_is_finite_number(v) for v in values):
            raise ModelFileError(f"history {key!r} must be a list of finite numbers")
    n = len(data["epoch"])
    if data["epoch"] != list(range(1, n + 1)):
        raise ModelFileError("history epochs must count 1, 2, ... n")
    if n_epochs is not None and n != n_epochs:
        raise ModelFileError(f"history holds {n} epochs but the checkpoint says {n_epochs}")
    for key, values in data.items():
        if len(values) != n and not (key.startswith("val_") and not values):
            raise ModelFileError(f"history {key!r} has {len(values)} values for {n} epochs")


def _optimizer_state(
    section: Any, model_file: ModelFile, optimizer: Optimizer
) -> tuple[dict[str, np.ndarray], float]:
    """The checkpoint's optimiser state, checked against ``optimizer``'s own ``state_dict``."""
    if not isinstance(section, dict) or set(section) != {"type", "lr", "scalars", "arrays"}:
        raise ModelFileError("checkpoint optimizer must have keys arrays, lr, scalars, type")
    if section["type"] != type(optimizer).__name__:
        raise ModelFileError(
            f"checkpoint optimizer is {section['type']!r}, not {type(optimizer).__name__!r}"
        )
    lr = section["lr"]
    if not (_is_finite_number(lr) and lr > 0):
        raise ModelFileError(f"checkpoint lr must be a positive finite number; got {lr!r}")
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
        if not (valid_int if dtype.kind in "iu" else _is_finite_number(value)):
            raise ModelFileError(f"checkpoint optimizer {key!r} is {value!r}")
        state[key] = np.array(value, dtype=dtype)
    arrays = {key for key, value in current.items() if np.ndim(value) > 0}
    if set(section["arrays"]) != arrays:
        raise ModelFileError(f"checkpoint optimizer arrays must be {sorted(arrays)}")
    for key in arrays:
        state[key] = model_file.checkpoint_arrays[f"optimizer.{key}"]
    return state, float(lr)


def _stopping_state(section: Any, n_epochs: int, run: TrainingRun) -> dict | None:
    if (section is None) != (run.early_stopping is None):
        raise ModelFileError(
            "the checkpoint and this run disagree on whether early stopping is used"
        )
    if section is None:
        return None
    keys = {"best", "best_epoch", "wait", "stopped", "best_values"}
    if not isinstance(section, dict) or set(section) != keys:
        raise ModelFileError(f"checkpoint early_stopping must have keys {sorted(keys)}")
    best_epoch, wait = section["best_epoch"], section["wait"]
    if not (type(best_epoch) is int and 0 <= best_epoch <= n_epochs):
        raise ModelFileError(f"early stopping best_epoch {best_epoch!r} is not in [0, {n_epochs}]")
    if not (type(wait) is int and 0 <= wait <= n_epochs):
        raise ModelFileError(f"early stopping wait {wait!r} is not in [0, {n_epochs}]")
    best = section["best"]
    if (best is None) != (best_epoch == 0) or not (best is None or _is_finite_number(best)):
        raise ModelFileError(f"early stopping best {best!r} does not fit best_epoch {best_epoch}")
    if type(section["stopped"]) is not bool or type(section["best_values"]) is not bool:
        raise ModelFileError("early stopping 'stopped' and 'best_values' must be true or false")
    return section


def _apply_stopping(early_stopping: Any, state: dict, arrays: dict[str, np.ndarray]) -> None:
    default = math.inf if early_stopping.mode == "min" else -math.inf
    early_stopping.best = default if state["best"] is None else float(state["best"])
    early_stopping.best_epoch = state["best_epoch"]
    early_stopping.wait = state["wait"]
    early_stopping.stopped = state["stopped"]
    best_values = arrays.get("early_stopping.best_values")
    early_stopping.best_values = None if best_values is None else best_values.copy()


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
