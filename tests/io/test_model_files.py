"""Model files: round trips for every kind of model, and refusal of corrupt or hostile files."""

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from neural_network import (
    ACTIVATIONS,
    ModelFileError,
    NeuralNetwork,
    Sequential,
    build_mlp,
    load_model,
    one_hot_encode,
    register_model_kind,
    save_model,
)
from neural_network.io import model_files
from neural_network.io.archive import archive_bytes
from neural_network.io.model_files import MODEL_KINDS, read_model_file


def small_model(rng, *, activation="relu", dropout=None, dtype=np.float32) -> Sequential:
    return build_mlp(6, [9, 7], 4, activation=activation, dropout=dropout, rng=rng, dtype=dtype)


def members_of(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def npy(array: np.ndarray, *, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def metadata_of(members: dict[str, bytes]) -> dict:
    array = np.lib.format.read_array(io.BytesIO(members["metadata.npy"]))
    return json.loads(array.tobytes())


def with_metadata(members: dict[str, bytes], metadata: dict) -> dict[str, bytes]:
    text = json.dumps(metadata).encode()
    return {**members, "metadata.npy": npy(np.frombuffer(text, dtype=np.uint8))}


def write_sealed(path, members: dict[str, bytes]) -> None:
    """Write members as a model file with a valid checksum, as a forger would."""
    path.write_bytes(archive_bytes(members))


def refused(path, match: str | None = None) -> ModelFileError:
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    return info.value


@pytest.fixture
def saved(tmp_path, rng):
    """A small model saved to ``model.npz``, and its members."""
    path = tmp_path / "model.npz"
    small_model(rng).save(path)
    return path, members_of(path)


# Round trips


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("dropout", [None, 0.3])
def test_sequential_round_trip_predicts_identically(tmp_path, rng, activation, dropout):
    model = small_model(rng, activation=activation, dropout=dropout)
    x = rng.normal(size=(33, 6)).astype(np.float32)
    path = tmp_path / "model"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, Sequential)
    assert loaded.get_config() == model.get_config()
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert np.array_equal(loaded.flat.values, model.flat.values)


def test_float64_model_round_trip(tmp_path, rng):
    model = small_model(rng, activation="leaky_relu", dtype=np.float64)
    path = tmp_path / "model.npz"
    model.save(str(path))
    loaded = load_model(str(path))
    assert loaded.dtype == np.float64
    x = rng.normal(size=(5, 6))
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_save_writes_exactly_the_given_path(tmp_path, rng):
    model = small_model(rng)
    for name in ("weights", "weights.bin", "weights.npz"):
        model.save(tmp_path / name)
    assert sorted(os.listdir(tmp_path)) == ["weights", "weights.bin", "weights.npz"]


def test_saving_twice_gives_the_same_bytes(tmp_path, rng):
    model = small_model(rng)
    model.save(tmp_path / "a")
    model.save(tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def make_network(rng, **kwargs) -> tuple[NeuralNetwork, np.ndarray, np.ndarray]:
    X = rng.integers(0, 256, size=(12, 60)).astype(np.float64)
    X[3] = 7.0  # a constant feature: its scale is 0
    y = one_hot_encode(rng.integers(0, 3, 60), 3)
    return NeuralNetwork(X, y, num_labels=3, architecture=[10, 5], **kwargs), X, y


def test_neural_network_round_trip(tmp_path, rng):
    network, X, y = make_network(rng, activation="sigmoid", seed=3)
    network.fit(epochs=3, dropout_keep=0.8, verbose=False)
    path = tmp_path / "net.npz"
    network.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, NeuralNetwork)
    X_new = rng.integers(0, 300, size=(12, 20)).astype(np.float64)
    assert np.array_equal(loaded.predict_proba(X_new), network.predict_proba(X_new))
    assert np.array_equal(loaded.predict(X), network.predict(X))
    assert loaded.accuracy(X, y) == network.accuracy(X, y)
    assert np.array_equal(loaded.scaler.min_, network.scaler.min_)
    assert np.array_equal(loaded.scaler.scale_, network.scaler.scale_)
    assert loaded.history.to_dict() == network.history.to_dict()
    assert (loaded.activation, loaded.architecture, loaded.seed) == ("sigmoid", [10, 5], 3)
    with pytest.raises(RuntimeError, match="no training data"):
        loaded.fit(epochs=1, verbose=False)


def test_untrained_neural_network_round_trip(tmp_path, rng):
    network, X, _ = make_network(rng)
    network.save(tmp_path / "net")
    assert np.array_equal(load_model(tmp_path / "net").predict_proba(X), network.predict_proba(X))


def test_registered_kind_round_trip(tmp_path, rng, monkeypatch):
    monkeypatch.setitem(MODEL_KINDS, "tagged", MODEL_KINDS["sequential"])

    def load_tagged(model_file):
        return model_file.model, model_file.config["tag"], model_file.arrays, model_file.classes

    register_model_kind("tagged", load_tagged, arrays=("extra.offset",))
    model = small_model(rng)
    offset = np.arange(3.0)
    save_model(
        tmp_path / "t",
        model,
        kind="tagged",
        config={"tag": "x"},
        arrays={"extra.offset": offset},
        classes=["a", "b", "c", "d"],
    )
    loaded, tag, arrays, classes = load_model(tmp_path / "t")
    assert tag == "x" and classes == ["a", "b", "c", "d"]
    assert np.array_equal(arrays["extra.offset"], offset)
    assert np.array_equal(loaded.flat.values, model.flat.values)
    with pytest.raises(ValueError, match="stores arrays"):
        save_model(tmp_path / "u", model, kind="tagged")


LAZY_KIND_MODULE = """
def load(model_file):
    return ("loaded lazily", model_file.model)
"""


def test_a_kind_registered_by_path_is_imported_only_when_its_file_is_read(
    tmp_path, rng, monkeypatch
):
    (tmp_path / "lazy_kind_module.py").write_text(LAZY_KIND_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(MODEL_KINDS, "lazy", MODEL_KINDS["sequential"])
    register_model_kind("lazy", "lazy_kind_module:load")
    model = small_model(rng)
    save_model(tmp_path / "m", model, kind="lazy")
    assert "lazy_kind_module" not in sys.modules
    tag, loaded = load_model(tmp_path / "m")
    assert tag == "loaded lazily" and "lazy_kind_module" in sys.modules
    assert np.array_equal(loaded.flat.values, model.flat.values)
    monkeypatch.delitem(sys.modules, "lazy_kind_module")


def test_register_refuses_a_loader_that_is_neither_callable_nor_a_path():
    with pytest.raises(ValueError, match=r"package\.module:attr"):
        register_model_kind("never", "lazy_kind_module.load")
    with pytest.raises(TypeError, match="loader must be callable"):
        register_model_kind("never", 3)
    assert "never" not in MODEL_KINDS


def test_the_library_kinds_name_their_loaders_by_path():
    assert MODEL_KINDS["neural_network"].loader == (
        "neural_network.apps.classic:NeuralNetwork._from_model_file"
    )
    assert MODEL_KINDS["mlp_classifier"].loader == (
        "neural_network.apps.estimators:MLPClassifier._from_model_file"
    )


@pytest.mark.parametrize("name", ["layers.0.extra", "metadata", "bad/name", ""])
def test_register_refuses_reserved_array_names(name):
    with pytest.raises(ValueError, match="array name"):
        register_model_kind("never", lambda f: f.model, arrays=(name,))
    assert "never" not in MODEL_KINDS


def test_save_refuses_unknown_kind_and_wrong_classes(tmp_path, rng):
    model = small_model(rng)
    with pytest.raises(ValueError, match="Unknown model kind"):
        save_model(tmp_path / "m", model, kind="nope")
    with pytest.raises(ValueError, match="classes"):
        save_model(tmp_path / "m", model, classes=[0, 1])
    assert not (tmp_path / "m").exists()


# Saving refuses non-finite weights and never leaves a partial file


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_save_refuses_non_finite_weights(tmp_path, rng, bad):
    model = small_model(rng)
    path = tmp_path / "model"
    model.save(path)
    before = path.read_bytes()
    model.layers[2].weight.value[1, 1] = bad
    with pytest.raises(ModelFileError, match="refusing to write"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model"]


def test_failed_write_keeps_the_old_file_and_no_temp_file(tmp_path, rng, monkeypatch):
    model = small_model(rng)
    path = tmp_path / "model"
    model.save(path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(model_files.os, "replace", crash)
    model.flat.values[0] += 1
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model"]


def test_stale_temp_files_of_dead_writers_are_removed(tmp_path, rng):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".model.tmp-{dead_pid}-0123abcd"
    live = tmp_path / f".model.tmp-{os.getpid()}-0123abcd"
    other = tmp_path / f".other.tmp-{dead_pid}-0123abcd"
    for path in (stale, live, other):
        path.write_bytes(b"half a model")
    small_model(rng).save(tmp_path / "model")
    assert not stale.exists()
    assert live.exists() and other.exists()


# Corrupt and hostile files


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "absent.npz")


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)


@pytest.mark.parametrize("content", [b"", b"PK", b"not a model at all" * 10, bytes(range(256))])
def test_garbage_is_refused(tmp_path, content):
    path = tmp_path / "garbage"
    path.write_bytes(content)
    refused(path)


def test_truncated_files_are_refused(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    cut = tmp_path / "cut"
    for length in sorted(
        {0, 1, 4, 30, len(data) // 3, len(data) // 2, len(data) - 65, len(data) - 1}
    ):
        cut.write_bytes(data[:length])
        refused(cut)


def test_every_flipped_byte_is_refused(saved, tmp_path):
    path, _ = saved
    data = path.read_bytes()
    for position in range(len(data)):
        corrupt = bytearray(data)
        corrupt[position] ^= 0x10
        # A new file each time: truncating one file thousands of times is slow on ext4.
        flipped = tmp_path / f"flipped-{position}"
        flipped.write_bytes(corrupt)
        with pytest.raises(ModelFileError):
            load_model(flipped)


def test_missing_array_is_refused(saved, tmp_path):
    _, members = saved
    del members["layers.4.bias.npy"]
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "missing \\['layers.4.bias'\\]")


def test_extra_array_is_refused(saved, tmp_path):
    _, members = saved
    members["stowaway.npy"] = npy(np.zeros(3))
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "unexpected \\['stowaway'\\]")


def test_extra_non_npy_member_is_refused(saved, tmp_path):
    _, members = saved
    members["run_me.py"] = b"print('hi')"
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "unexpected member")


@pytest.mark.parametrize(
    ("key", "array"),
    [
        ("layers.0.weight", np.zeros((9, 6), np.float32)),
        ("layers.0.bias", np.zeros(10, np.float32)),
        ("layers.4.weight", np.zeros((7,), np.float32)),
    ],
)
def test_wrong_shape_is_refused(saved, tmp_path, key, array):
    _, members = saved
    members[f"{key}.npy"] = npy(array)
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "shape")


def test_config_that_does_not_chain_is_refused(saved, tmp_path):
    _, members = saved
    metadata = metadata_of(members)
    metadata["model"]["layers"][2]["config"]["n_in"] = 8
    members["layers.2.weight.npy"] = npy(np.zeros((8, 7), np.float32))
    write_sealed(tmp_path / "m", with_metadata(members, metadata))
    refused(tmp_path / "m", "takes 8 inputs")


def test_header_declaring_a_huge_array_is_refused(saved, tmp_path):
    _, members = saved
    header = npy(np.zeros((6, 9), np.float32)).replace(b"(6, 9)", b"(600000000, 90000000)")
    members["layers.0.weight.npy"] = header
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "declares shape")


class CreatesMarker:
    """Unpickling this creates ``path``: proof that code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickle_payload_npy(marker) -> bytes:
    return npy(np.array([CreatesMarker(marker), 1], dtype=object), allow_pickle=True)


def test_the_pickle_payload_is_live(tmp_path):
    """The hostile member used below really runs code when unpickled."""
    marker = tmp_path / "proof"
    array = np.lib.format.read_array(io.BytesIO(pickle_payload_npy(marker)), allow_pickle=True)
    array[0].close()
    assert marker.exists()


@pytest.mark.parametrize("member", ["layers.0.weight.npy", "metadata.npy", "scaler.min.npy"])
def test_object_array_with_pickle_is_refused_and_runs_nothing(saved, tmp_path, member):
    _, members = saved
    marker = tmp_path / "pwned"
    members[member] = pickle_payload_npy(marker)
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "Python objects|unexpected")
    assert not marker.exists()


def test_unsealed_npz_with_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, metadata=np.array([CreatesMarker(marker)], dtype=object))
    refused(path)
    assert not marker.exists()


def test_plain_pickle_file_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(CreatesMarker(marker)))
    refused(path, "no zip archive")
    assert not marker.exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_weights_are_refused(saved, tmp_path, bad):
    _, members = saved
    weight = np.lib.format.read_array(io.BytesIO(members["layers.4.weight.npy"]))
    weight[2, 1] = bad
    members["layers.4.weight.npy"] = npy(weight)
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "NaN or infinite")


@pytest.mark.parametrize("dtype", [np.int32, np.float16, np.complex64, ">f4", np.bool_])
def test_non_float_dtypes_are_refused(saved, tmp_path, dtype):
    _, members = saved
    members["layers.0.bias.npy"] = npy(np.zeros(9, dtype=dtype))
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "dtype")


def test_float64_weights_in_a_float32_model_are_refused(saved, tmp_path):
    _, members = saved
    members["layers.0.bias.npy"] = npy(np.zeros(9, dtype=np.float64))
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "the model's is float32")


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, None, True])
def test_unknown_format_version_is_refused(saved, tmp_path, version):
    _, members = saved
    metadata = metadata_of(members)
    metadata["format_version"] = version
    write_sealed(tmp_path / "m", with_metadata(members, metadata))
    refused(tmp_path / "m", "unsupported format version")


def test_unknown_layer_type_is_refused(saved, tmp_path):
    _, members = saved
    metadata = metadata_of(members)
    metadata["model"]["layers"][1]["type"] = "os.system"
    write_sealed(tmp_path / "m", with_metadata(members, metadata))
    refused(tmp_path / "m", "unknown type 'os.system'")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m: m.update(kind="pickle"), "unknown model kind"),
        (lambda m: m.update(format="other"), "format"),
        (lambda m: m.update(surprise=1), "unexpected \\['surprise'\\]"),
        (lambda m: m.pop("classes"), "missing \\['classes'\\]"),
        (lambda m: m.update(classes=[0, 1]), "classes"),
        (lambda m: m["model"].update(dtype="int8"), "dtype"),
        (lambda m: m["model"]["layers"][0]["config"].update(init="eval"), "invalid layer config"),
        (lambda m: m["model"]["layers"][0]["config"].update(rng=1), "invalid layer config"),
        (lambda m: m["model"]["layers"][1]["config"].update(alpha=2), "invalid layer config"),
        (lambda m: m["model"].update(layers=[]), "at least one layer"),
        (lambda m: m.update(config=[]), "config must be a JSON object"),
        (lambda m: m.update(checkpoint={"epoch": 1}), "checkpoint must be an object"),
    ],
)
def test_inconsistent_metadata_is_refused(saved, tmp_path, change, match):
    _, members = saved
    metadata = metadata_of(members)
    change(metadata)
    write_sealed(tmp_path / "m", with_metadata(members, metadata))
    refused(tmp_path / "m", match)


@pytest.mark.parametrize(
    "text",
    [b"not json", b"[1, 2]", b'{"a": NaN}', b'{"a": 1, "a": 2}', b"\xff\xfe", b"[" * 100_000],
)
def test_malformed_metadata_is_refused(saved, tmp_path, text):
    _, members = saved
    members["metadata.npy"] = npy(np.frombuffer(text, dtype=np.uint8))
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m")


def test_compressed_member_is_refused(saved, tmp_path):
    _, members = saved
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.comment = b"0" * 64
        for name, payload in members.items():
            archive.writestr(name, payload)
    body = buffer.getvalue()[:-64]
    import hashlib

    (tmp_path / "m").write_bytes(body + hashlib.sha256(body).hexdigest().encode())
    refused(tmp_path / "m", "compressed")


def test_neural_network_with_wrong_scaler_is_refused(tmp_path, rng):
    network, _, _ = make_network(rng)
    network.save(tmp_path / "net")
    members = members_of(tmp_path / "net")
    members["scaler.min.npy"] = npy(np.zeros(5))
    write_sealed(tmp_path / "m", members)
    refused(tmp_path / "m", "scaler.min has shape")


def test_neural_network_with_inconsistent_config_is_refused(tmp_path, rng):
    network, _, _ = make_network(rng)
    network.save(tmp_path / "net")
    members = members_of(tmp_path / "net")
    metadata = metadata_of(members)
    metadata["config"]["architecture"] = [10, 6]
    write_sealed(tmp_path / "m", with_metadata(members, metadata))
    refused(tmp_path / "m", "architecture")


def test_read_model_file_exposes_the_checked_parts(saved):
    path, _ = saved
    model_file = read_model_file(path)
    assert model_file.kind == "sequential"
    assert model_file.classes == [0, 1, 2, 3]
    assert model_file.metadata["format_version"] == model_files.FORMAT_VERSION
