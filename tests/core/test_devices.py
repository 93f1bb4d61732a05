"""Devices: names, the clear errors where CuPy or a GPU is missing, and moving a model.

``standin_cuda`` (tests/conftest.py) backs ``"cuda"`` by a NumPy stand-in whose arrays refuse
any implicit conversion to NumPy, so these run without a GPU.
"""

import sys
import types

import numpy as np
import pytest
from device_standin import DeviceArray, HostCopyError

from neural_network import build_mlp
from neural_network.core import devices
from neural_network.core.layers import Dropout
from neural_network.core.model import Sequential


def test_unknown_device_names_the_choices():
    expected = r"Unknown device 'gpu'; expected one of \['cpu', 'cuda'\]"
    with pytest.raises(ValueError, match=expected):
        build_mlp(4, [3], 2, device="gpu")
    with pytest.raises(ValueError, match="Unknown device"):
        build_mlp(4, [3], 2).to("tpu")


def test_cuda_without_cupy_is_one_clear_sentence(monkeypatch):
    monkeypatch.setattr(devices, "_loaded", {})
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(devices.DeviceUnavailableError) as error:
        build_mlp(4, [3], 2, device="cuda")
    message = str(error.value)
    assert "needs CuPy" in message and "cupy-cuda12x" in message and "cupy-cuda13x" in message
    assert message.count(". ") == 0 and "\n" not in message


def test_cuda_without_a_gpu_is_one_clear_sentence(monkeypatch):
    def no_driver():
        raise RuntimeError("cudaErrorNoDevice")

    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_driver))
    monkeypatch.setattr(devices, "_loaded", {})
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(devices.DeviceUnavailableError, match="needs an NVIDIA GPU"):
        devices.array_module("cuda")


def test_the_stand_in_refuses_hidden_host_copies(standin_cuda):
    device = standin_cuda.asarray(np.arange(3.0))
    with pytest.raises(HostCopyError):
        np.asarray(device)
    with pytest.raises(HostCopyError):
        device + np.ones(3)
    with pytest.raises(HostCopyError):
        device[...] = np.ones(3)
    assert isinstance(device.sum(), DeviceArray)  # a reduction stays on the device


def test_to_moves_the_weights_exactly_and_back(standin_cuda, rng):
    model = build_mlp(5, [4], 3, rng=rng)
    before = model.flat.values.copy()
    assert model.to("cuda") is model and model.device == "cuda"
    assert isinstance(model.flat.values, DeviceArray)
    for p in model.parameters():  # still views of the one flat buffer
        assert isinstance(p.value, DeviceArray) and isinstance(p.grad, DeviceArray)
    model.flat.values[...] = 0.0
    assert float(np.abs(model.layers[0].weight.value).sum()) == 0.0
    model.flat.values[...] = standin_cuda.asarray(before)
    model.to("cpu")
    assert isinstance(model.flat.values, np.ndarray)
    assert model.flat.values.tobytes() == before.tobytes()
    assert np.shares_memory(model.layers[0].weight.value, model.flat.values)


def test_device_model_predicts_numpy_arrays_like_the_cpu_one(standin_cuda, rng):
    x = rng.standard_normal((40, 5))
    cpu = build_mlp(5, [4], 3, rng=np.random.default_rng(0), dtype=np.float64)
    gpu = build_mlp(5, [4], 3, rng=np.random.default_rng(0), dtype=np.float64, device="cuda")
    probs = gpu.predict_proba(x, batch_size=16)
    assert isinstance(probs, np.ndarray)
    np.testing.assert_array_equal(probs, cpu.predict_proba(x, batch_size=16))
    np.testing.assert_array_equal(gpu.predict(x), cpu.predict(x))


def test_sequential_takes_a_device(standin_cuda, rng):
    model = Sequential(build_mlp(3, [2], 2, rng=rng).layers, device="cuda")
    assert model.device == "cuda" and isinstance(model.flat.values, DeviceArray)


def test_dropout_draws_on_the_device_and_leaves_the_host_stream_alone(standin_cuda):
    rng = np.random.default_rng(7)
    model = build_mlp(6, [50], 2, dropout=0.5, rng=rng)
    state = rng.bit_generator.state
    model.to("cuda")
    assert rng.bit_generator.state == state  # the same batches as on the CPU
    dropout = next(layer for layer in model.layers if isinstance(layer, Dropout))
    out = dropout.forward(standin_cuda.ones((4, 50), dtype=np.float32), training=True)
    assert isinstance(out, DeviceArray)
    kept = out.get()
    assert set(np.unique(kept)) <= {0.0, 2.0} and 0 < np.count_nonzero(kept) < kept.size
    model.to("cpu")
    assert dropout.rng is rng


def test_host_helpers():
    array = np.arange(4.0)
    assert devices.to_host(array) is array
    assert devices.to_device(array, np) is array
    copy = devices.host_copy(array)
    assert copy is not array and np.array_equal(copy, array)
    target = np.zeros(4)
    devices.copy_into(target, array)
    assert np.array_equal(target, array)
    assert devices.device_of(array) == "cpu" and devices.module_of(array) is np
    with pytest.raises(TypeError, match="neither a NumPy nor a device array"):
        devices.module_of([1, 2])


def test_predict_logits_gives_host_arrays_on_any_device(standin_cuda, rng):
    x = rng.standard_normal((30, 5))
    cpu = build_mlp(5, [4], 3, rng=np.random.default_rng(0), dtype=np.float64)
    gpu = build_mlp(5, [4], 3, rng=np.random.default_rng(0), dtype=np.float64, device="cuda")
    logits = gpu.predict_logits(x, batch_size=8)
    assert isinstance(logits, np.ndarray)
    np.testing.assert_array_equal(logits, cpu.forward(x))
    np.testing.assert_array_equal(cpu.predict_logits(x, batch_size=8), logits)
