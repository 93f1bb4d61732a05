"""IDX files (the parser, fuzzed) and the MNIST-family loaders: pins, folders, the bundled copy."""

import dataclasses
import gzip
import hashlib
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neural_network.data import mnist, sources
from neural_network.data.idx import IDXFormatError, parse_idx, read_idx
from neural_network.data.mnist import load_fashion_mnist, load_kmnist, load_mnist
from neural_network.data.sources import ChecksumError, verify_sha256

TYPE_CODES = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}
SRC = Path(__file__).resolve().parents[2] / "src"
BUNDLED_MNIST = SRC / "neural_network" / "data" / "bundled" / "mnist"
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist, "kmnist": load_kmnist}


@pytest.fixture(autouse=True)
def offline(tmp_path_factory, monkeypatch):
    """No test here may download: an empty cache of its own and no mirrors."""
    monkeypatch.setenv("NEURAL_NETWORK_DATA", str(tmp_path_factory.mktemp("cache")))
    for key in mnist.MIRRORS:
        monkeypatch.setitem(mnist.MIRRORS, key, ())


def make_idx(array: np.ndarray) -> bytes:
    """Encode an array as IDX bytes: big-endian header, big-endian payload."""
    array = np.asarray(array)
    header = struct.pack(">BBBB", 0, 0, TYPE_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def sample_array(dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype) * 1e3


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5), (1, 1, 1, 2), (0, 5)])
def test_parse_idx_round_trips_every_dtype(dtype, shape):
    expected = sample_array(dtype, shape)
    result = parse_idx(make_idx(expected))
    assert result.dtype == dtype
    assert result.dtype.isnative
    assert result.shape == shape
    assert result.flags.c_contiguous
    assert result.flags.writeable
    np.testing.assert_array_equal(result, expected)


def test_parse_idx_reads_big_endian_header_and_payload():
    data = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE])
    np.testing.assert_array_equal(parse_idx(data), np.array([0x0102, -2], dtype=np.int16))


def test_parse_idx_accepts_bytearray_and_memoryview():
    data = make_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    np.testing.assert_array_equal(parse_idx(bytearray(data)), parse_idx(memoryview(data)))


@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_plain_and_gzip(tmp_path, dtype, compress):
    expected = sample_array(dtype, (4, 3, 2))
    data = make_idx(expected)
    path = tmp_path / "array.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    result = read_idx(path)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, expected)


VALID = make_idx(np.arange(12, dtype=np.int32).reshape(3, 4))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "too short"),
        (b"\x00\x00\x08", "too short"),
        (b"\x01" + VALID[1:], "first two bytes"),
        (b"\x00\x01" + VALID[2:], "first two bytes"),
        (gzip.compress(VALID), "gzip"),
        (VALID[:2] + b"\x0a" + VALID[3:], "type code 0x0A"),
        (VALID[:3] + b"\x00", "ndim"),
        (VALID[:3] + b"\x09" + VALID[4:], "ndim"),
        (VALID[:7], "header truncated"),
        (VALID[:-1], "payload truncated"),
        (VALID[:12], "payload truncated"),
        (VALID + b"\x00", "trailing"),
        (VALID + b"extra bytes", "trailing"),
        (b"\x00\x00\x08\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1), "elements"),
        (b"\x00\x00\x0e\x08" + struct.pack(">8I", 0, *[2**32 - 1] * 7), "too large"),
    ],
)
def test_parse_idx_rejects_corrupt_bytes(data, message):
    with pytest.raises(IDXFormatError, match=message):
        parse_idx(data)


def test_parse_idx_applies_max_elements_before_reading_payload():
    header_only = b"\x00\x00\x08\x02" + struct.pack(">2I", 10, 11)
    with pytest.raises(IDXFormatError, match="110 elements, more than max_elements=100"):
        parse_idx(header_only, max_elements=100)
    data = make_idx(np.zeros((10, 10), dtype=np.uint8))
    assert parse_idx(data, max_elements=100).shape == (10, 10)


@pytest.mark.parametrize(("max_elements", "error"), [(-1, ValueError), (1.5, TypeError)])
def test_parse_idx_rejects_bad_max_elements(max_elements, error):
    with pytest.raises(error, match="max_elements"):
        parse_idx(VALID, max_elements=max_elements)


def test_parse_idx_rejects_non_bytes():
    with pytest.raises(TypeError, match="data must be bytes"):
        parse_idx("not bytes")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (gzip.compress(VALID)[:-9], "Corrupt gzip"),
        (gzip.compress(VALID)[:12], "Corrupt gzip"),
        (gzip.compress(VALID)[:-4] + b"\x00\x00\x00\x00", "Corrupt gzip"),
        (b"\x1f\x8b\x08\x00" + b"\xff" * 20, "Corrupt gzip"),
        (gzip.compress(VALID + b"\x00"), "trailing"),
        (gzip.compress(VALID[:-1]), "payload truncated"),
        (VALID[:-1], "payload truncated"),
        (VALID + b"\x00", "trailing"),
    ],
)
def test_read_idx_rejects_corrupt_files(tmp_path, content, message):
    path = tmp_path / "bad.idx"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError, match=message):
        read_idx(path)


def test_read_idx_does_not_decompress_past_the_header(tmp_path):
    bomb = zlib.compressobj(wbits=31)
    header = b"\x00\x00\x08\x01" + struct.pack(">I", 10)
    chunks = [bomb.compress(header)]
    chunks += [bomb.compress(bytes(1 << 20)) for _ in range(64)]
    path = tmp_path / "bomb.idx.gz"
    path.write_bytes(b"".join([*chunks, bomb.flush()]))
    with pytest.raises(IDXFormatError, match="1 trailing bytes"):
        read_idx(path)
    with pytest.raises(IDXFormatError, match="max_elements"):
        read_idx(path, max_elements=5)


def test_read_idx_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


def assert_parses_or_refuses(data: bytes) -> None:
    try:
        result = parse_idx(data, max_elements=10_000)
    except IDXFormatError:
        return
    assert isinstance(result, np.ndarray)
    assert result.size <= 10_000


valid_arrays = st.builds(
    sample_array,
    st.sampled_from(list(TYPE_CODES)),
    st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
)
mutations = st.lists(
    st.tuples(st.sampled_from(["set", "insert", "delete"]), st.integers(0), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for kind, position, value in edits:
        index = position % (len(buffer) + 1)
        if kind == "insert":
            buffer.insert(index, value)
        elif buffer and kind == "set":
            buffer[index % len(buffer)] = value
        elif buffer:
            del buffer[index % len(buffer)]
    return bytes(buffer)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_parse_or_raise_idx_format_error(data):
    assert_parses_or_refuses(data)


@settings(max_examples=300, deadline=None)
@given(valid_arrays, mutations)
def test_mutated_files_parse_or_raise_idx_format_error(array, edits):
    assert_parses_or_refuses(mutate(make_idx(array), edits))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(valid_arrays, mutations, st.booleans())
def test_mutated_gzip_files_read_or_raise_idx_format_error(tmp_path, array, edits, before):
    data = make_idx(array)
    content = gzip.compress(mutate(data, edits)) if before else mutate(gzip.compress(data), edits)
    path = tmp_path / "fuzz.idx"
    path.write_bytes(content)
    try:
        result = read_idx(path, max_elements=10_000)
    except IDXFormatError:
        return
    assert isinstance(result, np.ndarray)


REAL_LABELS_GZ = (BUNDLED_MNIST / "t10k-labels-idx1-ubyte.gz").read_bytes()
REAL_LABELS = gzip.decompress(REAL_LABELS_GZ)


@settings(max_examples=200, deadline=None)
@given(mutations, st.booleans())
def test_mutated_real_files_are_refused_by_the_loaders_checks(edits, compressed):
    """Any change to a real file is an IDXFormatError (mostly a ChecksumError), never a crash."""
    original = REAL_LABELS_GZ if compressed else REAL_LABELS
    content = mutate(original, edits)
    pinned = mnist._DATASETS["mnist"].files[3]
    try:
        labels = sources.decode_verified(content, pinned, "t10k-labels-idx1-ubyte")
    except IDXFormatError:
        return
    np.testing.assert_array_equal(labels, np.frombuffer(REAL_LABELS, np.uint8, offset=8))


@settings(max_examples=200, deadline=None)
@given(mutations)
def test_mutated_real_files_parse_or_raise_idx_format_error(edits):
    assert_parses_or_refuses(mutate(REAL_LABELS, edits))


def test_verify_sha256():
    digest = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    verify_sha256(b"hello", digest, "greeting")
    verify_sha256(b"hello", digest.upper(), "greeting")
    with pytest.raises(ChecksumError, match=f"'greeting': expected {digest}, got ") as info:
        verify_sha256(b"hellO", digest, "greeting")
    assert isinstance(info.value, IDXFormatError)
    assert (info.value.name, info.value.expected) == ("greeting", digest)
    with pytest.raises(ValueError, match="expected must be a 64-character"):
        verify_sha256(b"hello", "abc", "greeting")


@pytest.fixture(scope="module")
def mnist_data():
    return load_mnist()


def test_load_mnist_shapes_dtypes_and_counts(mnist_data):
    (x_train, y_train), (x_test, y_test) = mnist_data
    assert x_train.shape == (60_000, 784)
    assert x_test.shape == (10_000, 784)
    assert y_train.shape == (60_000,)
    assert y_test.shape == (10_000,)
    for x in (x_train, x_test):
        assert x.dtype == np.uint8
        assert x.flags.c_contiguous
    for y in (y_train, y_test):
        assert y.dtype == np.int64
        assert y.min() == 0
        assert y.max() == 9


def test_load_mnist_contents_are_canonical(mnist_data):
    (x_train, y_train), (x_test, y_test) = mnist_data
    np.testing.assert_array_equal(y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(y_test[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    np.testing.assert_array_equal(
        np.bincount(y_train), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    np.testing.assert_array_equal(
        np.bincount(y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    images = read_idx(BUNDLED_MNIST / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(x_test, images.reshape(10_000, 784))
    assert 0 < x_train.mean() < 255


def test_load_mnist_returns_arrays_the_caller_may_modify(mnist_data):
    (x_train, y_train), (x_test, y_test) = load_mnist()
    for array in (x_train, y_train, x_test, y_test):
        assert array.flags.writeable
        array[...] = 0
    (x_train, y_train), (x_test, y_test) = load_mnist()
    originals = (array for split in mnist_data for array in split)
    for fresh, original in zip((x_train, y_train, x_test, y_test), originals, strict=True):
        np.testing.assert_array_equal(fresh, original)
    assert y_train.max() == 9


def write_fake_mnist(directory: Path, n_samples: int = 3) -> dict[str, bytes]:
    """Write tiny MNIST-shaped files (some gzipped, some not) and return their bytes."""
    rng = np.random.default_rng(0)
    contents = {}
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, size=(n_samples, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n_samples, dtype=np.uint8)
        contents[f"{prefix}-images-idx3-ubyte"] = make_idx(images)
        contents[f"{prefix}-labels-idx1-ubyte"] = make_idx(labels)
    for index, (name, data) in enumerate(contents.items()):
        if index % 2:
            (directory / name).write_bytes(data)
        else:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
    return contents


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pin(monkeypatch, key: str, contents: dict[str, bytes], *, gz: bool = False) -> None:
    """Point a dataset's pinned sizes and digests at the given decompressed files.

    With ``gz``, pin the digest of ``gzip.compress(data, mtime=0)`` instead, as for KMNIST.
    """
    spec = mnist._DATASETS[key]
    files = []
    for pinned in spec.files:
        data = contents[pinned.name]
        if gz:
            compressed = gzip.compress(data, mtime=0)
            files.append(
                dataclasses.replace(
                    pinned,
                    size=len(data),
                    sha256=None,
                    gz_size=len(compressed),
                    gz_sha256=sha256_hex(compressed),
                )
            )
        else:
            files.append(dataclasses.replace(pinned, size=len(data), sha256=sha256_hex(data)))
    monkeypatch.setitem(
        mnist._DATASETS, key, dataclasses.replace(spec, files=tuple(files), system_dirs=())
    )


@pytest.fixture
def pinned_to(monkeypatch):
    """Point the pinned MNIST sizes and digests at the given files' bytes."""
    return lambda contents: pin(monkeypatch, "mnist", contents)


def test_load_mnist_from_folder_with_gz_and_plain_files(tmp_path, pinned_to):
    contents = write_fake_mnist(tmp_path)
    pinned_to(contents)
    (x_train, _), (x_test, y_test) = load_mnist(data_dir=tmp_path)
    assert x_train.shape == (3, 784)
    assert y_test.dtype == np.int64
    expected = parse_idx(contents["t10k-images-idx3-ubyte"]).reshape(3, 784)
    np.testing.assert_array_equal(x_test, expected)


def test_load_mnist_refuses_a_file_changed_after_pinning(tmp_path, pinned_to):
    contents = write_fake_mnist(tmp_path)
    pinned_to(contents)
    name = "train-labels-idx1-ubyte"
    changed = bytearray(contents[name])
    changed[-1] ^= 1
    (tmp_path / name).write_bytes(bytes(changed))
    with pytest.raises(ChecksumError, match=name) as info:
        load_mnist(data_dir=tmp_path)
    assert info.value.expected == sha256_hex(contents[name])
    assert info.value.actual == sha256_hex(bytes(changed))


@pytest.mark.parametrize(
    ("name", "images", "labels", "message"),
    [
        ("images", np.zeros((2, 28, 27), np.uint8), np.zeros(2, np.uint8), "shape \\(n, 28, 28\\)"),
        ("images", np.zeros((2, 28, 28), np.int8), np.zeros(2, np.uint8), "uint8 images"),
        ("labels", np.zeros((2, 28, 28), np.uint8), np.zeros((2, 1), np.uint8), "uint8 labels"),
        ("counts", np.zeros((2, 28, 28), np.uint8), np.zeros(3, np.uint8), "2 images but"),
        ("range", np.zeros((2, 28, 28), np.uint8), np.array([3, 10], np.uint8), "0..9, found 10"),
    ],
)
def test_load_mnist_refuses_files_that_are_not_mnist_shaped(
    tmp_path, pinned_to, name, images, labels, message
):
    contents = write_fake_mnist(tmp_path)
    for suffix in ("", ".gz"):
        (tmp_path / f"train-images-idx3-ubyte{suffix}").unlink(missing_ok=True)
        (tmp_path / f"train-labels-idx1-ubyte{suffix}").unlink(missing_ok=True)
    contents["train-images-idx3-ubyte"] = make_idx(images)
    contents["train-labels-idx1-ubyte"] = make_idx(labels)
    for file_name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / file_name).write_bytes(contents[file_name])
    pinned_to(contents)
    with pytest.raises(IDXFormatError, match=message):
        load_mnist(data_dir=tmp_path)


def test_load_mnist_refuses_one_changed_byte_in_a_real_copy(tmp_path):
    for path in BUNDLED_MNIST.glob("*.gz"):
        shutil.copy(path, tmp_path / path.name)
    name = "t10k-labels-idx1-ubyte"
    data = bytearray(gzip.decompress((tmp_path / f"{name}.gz").read_bytes()))
    data[100] = (data[100] + 1) % 10
    (tmp_path / f"{name}.gz").unlink()
    (tmp_path / name).write_bytes(bytes(data))
    expected = mnist._DATASETS["mnist"].files[3]
    assert expected.name == name
    with pytest.raises(ChecksumError, match=rf"{name}': expected {expected.sha256}"):
        load_mnist(data_dir=tmp_path)


def test_load_mnist_missing_file(tmp_path, pinned_to):
    pinned_to(write_fake_mnist(tmp_path))
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(data_dir=tmp_path)


def test_load_mnist_refuses_a_truncated_or_padded_file_by_its_pinned_size(tmp_path, pinned_to):
    contents = write_fake_mnist(tmp_path)
    pinned_to(contents)
    name = "train-images-idx3-ubyte"
    (tmp_path / f"{name}.gz").unlink()
    images = parse_idx(contents[name])
    (tmp_path / name).write_bytes(make_idx(images[:2]))
    with pytest.raises(IDXFormatError, match=f"{name}: the decompressed file has 1584 bytes"):
        load_mnist(data_dir=tmp_path)
    (tmp_path / name).write_bytes(contents[name] + bytes(10_000))
    with pytest.raises(IDXFormatError, match="larger than the"):
        load_mnist(data_dir=tmp_path)


@pytest.mark.parametrize("key", list(LOADERS))
def test_every_loader_reads_gz_files_from_data_dir(tmp_path, monkeypatch, key):
    contents = write_fake_mnist(tmp_path, n_samples=4)
    for name, data in contents.items():
        (tmp_path / name).unlink(missing_ok=True)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    pin(monkeypatch, key, contents, gz=key == "kmnist")
    (x_train, y_train), (x_test, y_test) = LOADERS[key](data_dir=tmp_path)
    assert (x_train.shape, x_test.shape) == ((4, 784), (4, 784))
    assert (y_train.dtype, x_train.dtype) == (np.int64, np.uint8)
    np.testing.assert_array_equal(y_test, parse_idx(contents["t10k-labels-idx1-ubyte"]))


@pytest.mark.parametrize("key", list(LOADERS))
@pytest.mark.parametrize("bad_label", [10, 11, 255])
def test_every_loader_refuses_labels_outside_its_classes(tmp_path, monkeypatch, key, bad_label):
    contents = write_fake_mnist(tmp_path, n_samples=4)
    labels = np.array([0, 9, bad_label, 1], dtype=np.uint8)
    contents["t10k-labels-idx1-ubyte"] = make_idx(labels)
    for name, data in contents.items():
        (tmp_path / name).unlink(missing_ok=True)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    pin(monkeypatch, key, contents, gz=key == "kmnist")
    title = mnist._DATASETS[key].title
    message = f"t10k-labels-idx1-ubyte: {title} labels must be in 0..9, found {bad_label}"
    with pytest.raises(IDXFormatError, match=message):
        LOADERS[key](data_dir=tmp_path)


def test_kmnist_refuses_files_other_than_the_published_gz(tmp_path, monkeypatch):
    contents = write_fake_mnist(tmp_path)
    for name, data in contents.items():
        (tmp_path / name).unlink(missing_ok=True)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
    pin(monkeypatch, "kmnist", contents, gz=True)
    name = "train-labels-idx1-ubyte"
    (tmp_path / f"{name}.gz").write_bytes(gzip.compress(contents[name], mtime=1))
    with pytest.raises(ChecksumError, match=f"{name}.gz"):
        load_kmnist(data_dir=tmp_path)
    (tmp_path / f"{name}.gz").unlink()
    (tmp_path / name).write_bytes(contents[name])
    with pytest.raises(IDXFormatError, match="only the digest of the published"):
        load_kmnist(data_dir=tmp_path)


@pytest.mark.parametrize("key", list(LOADERS))
def test_loaders_without_files_or_download_name_the_places_to_put_them(monkeypatch, key):
    """As on a machine without the bundled MNIST or Debian's Fashion-MNIST."""
    monkeypatch.setattr(mnist, "_load_bundled_mnist", lambda: None)
    spec = mnist._DATASETS[key]
    monkeypatch.setitem(mnist._DATASETS, key, dataclasses.replace(spec, system_dirs=()))
    cache = sources.get_cache_dir() / key
    with pytest.raises(FileNotFoundError, match="download=False") as info:
        LOADERS[key](download=False)
    message = str(info.value)
    assert str(cache) in message
    assert f"{mnist._DATASETS[key].loader}(data_dir=...)" in message
    assert "t10k-labels-idx1-ubyte.gz" in message


def test_the_pinned_tables_are_complete():
    assert set(mnist._DATASETS) == set(mnist.MIRRORS) == set(LOADERS)
    for spec in mnist._DATASETS.values():
        assert [pinned.name for pinned in spec.files] == [
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte",
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
        ]
        for pinned in spec.files:
            assert pinned.sha256 is not None or pinned.gz_sha256 is not None


@pytest.fixture(scope="module")
def debian_fashion_mnist():
    if not all((DEBIAN_FASHION_MNIST / f"{name}.gz").is_file() for name in mnist._FILE_NAMES):
        pytest.skip("Debian's dataset-fashion-mnist is not installed")
    return load_fashion_mnist(download=False, mirrors=[])


def test_load_fashion_mnist_from_the_debian_package(debian_fashion_mnist):
    (x_train, y_train), (x_test, y_test) = debian_fashion_mnist
    assert (x_train.shape, y_train.shape) == ((60_000, 784), (60_000,))
    assert (x_test.shape, y_test.shape) == ((10_000, 784), (10_000,))
    assert (x_train.dtype, y_train.dtype) == (np.uint8, np.int64)
    np.testing.assert_array_equal(y_train[:10], [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
    np.testing.assert_array_equal(y_test[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    images = read_idx(DEBIAN_FASHION_MNIST / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(x_test, images.reshape(10_000, 784))


def test_load_fashion_mnist_prefers_data_dir_to_the_debian_package(
    debian_fashion_mnist, tmp_path, monkeypatch
):
    contents = write_fake_mnist(tmp_path)
    spec = mnist._DATASETS["fashion_mnist"]
    pin(monkeypatch, "fashion_mnist", contents)
    (x_train, _), _ = load_fashion_mnist(data_dir=tmp_path)
    assert x_train.shape == (3, 784)
    monkeypatch.setitem(mnist._DATASETS, "fashion_mnist", spec)
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte\.gz: the decompressed file"):
        load_fashion_mnist(data_dir=tmp_path)
