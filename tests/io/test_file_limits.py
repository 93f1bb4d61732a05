"""Model files and IDX files are checked before they are read: a FIFO, a device or a huge
file is refused at once (never read whole, never waited on), an .npz written by another
program is told apart from a corrupt model file, and a model saves under any name the file
system allows."""

import os
import threading

import numpy as np
import pytest

from neural_network import build_mlp, load_model
from neural_network.data.idx import IDXFormatError, read_idx
from neural_network.io.archive import ModelFileError
from neural_network.io.model_files import MAX_FILE_BYTES

posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs and /dev/zero are POSIX")


def outcome_within(function, seconds, unblock=None):
    """The exception ``function()`` raises, or None; fails if it has not ended in time."""
    result = {}

    def call():
        try:
            function()
        except Exception as error:
            result["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive() and unblock is not None:
        unblock()
    assert not thread.is_alive(), "still reading"
    return result.get("error")


def unblock_fifo(path):
    def unblock():
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))  # the reader sees an end

    return unblock


@pytest.fixture
def model(rng):
    return build_mlp(784, [8], 10, rng=rng)


@posix_only
def test_a_fifo_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    error = outcome_within(lambda: load_model(fifo), 5, unblock_fifo(fifo))
    assert isinstance(error, ModelFileError) and "FIFO" in str(error)
    error = outcome_within(lambda: read_idx(fifo), 5, unblock_fifo(fifo))
    assert isinstance(error, IDXFormatError) and "FIFO" in str(error)


@posix_only
def test_a_device_is_refused_not_read_without_end():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    error = outcome_within(lambda: load_model("/dev/zero"), 5)
    assert isinstance(error, ModelFileError) and "device" in str(error)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_a_large_file_is_refused_from_its_first_bytes(tmp_path):
    path = tmp_path / "sparse.npz"
    with open(path, "wb") as file:
        file.truncate(3 << 30)  # sparse: three GiB of zeros that take no disk
    error = outcome_within(lambda: load_model(path), 5)
    assert isinstance(error, ModelFileError) and "no zip archive" in str(error)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.npz"
    with open(path, "wb") as file:
        file.write(b"PK\x03\x04")
        file.truncate(MAX_FILE_BYTES + 1)
    error = outcome_within(lambda: load_model(path), 5)
    assert isinstance(error, ModelFileError) and str(MAX_FILE_BYTES) in str(error)


def test_an_npz_from_another_program_is_named_as_such(tmp_path, model):
    np.savez(tmp_path / "other.npz", **{"layers.0.weight": model.layers[0].weight.value})
    with pytest.raises(ModelFileError, match="did not write") as caught:
        load_model(tmp_path / "other.npz")
    assert "checksum" not in str(caught.value)


def test_a_truncated_model_file_is_still_called_truncated(tmp_path, model):
    model.save(tmp_path / "model.npz")
    data = (tmp_path / "model.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:-10])
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model(tmp_path / "cut.npz")


@pytest.mark.parametrize("length", [250, 255])
def test_a_model_saves_under_a_long_name(tmp_path, model, length):
    path = tmp_path / ("m" * (length - 4) + ".npz")
    model.save(path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    x = np.random.default_rng(0).random((3, 784))
    np.testing.assert_array_equal(load_model(path).predict_proba(x), model.predict_proba(x))
    model.save(path)  # and again, over the first


@posix_only
@pytest.mark.parametrize("kind", ["fifo", "link to /dev/null"])
def test_saving_never_replaces_what_is_not_a_regular_file(tmp_path, model, kind):
    path = tmp_path / "model.npz"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(os.devnull)
    with pytest.raises(FileExistsError, match="not a regular file: refusing to replace it"):
        model.save(path)
    assert not path.resolve().is_file()  # still the FIFO, still the device
    assert os.listdir(tmp_path) == ["model.npz"]  # and no temporary file left behind


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="mknod needs root")
def test_saving_over_a_device_is_refused(tmp_path, model):
    """As root, os.replace would put a regular file where the device was (``/dev/null``
    itself; a copy of it here, so that a regression breaks nothing outside this test)."""
    import stat

    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    with pytest.raises(FileExistsError, match="a device"):
        model.save(device)
    assert stat.S_ISCHR(os.stat(device).st_mode)


def test_saving_over_a_folder_says_so(tmp_path, model):
    with pytest.raises(IsADirectoryError, match="a folder"):
        model.save(tmp_path)
