"""Files are portable: a model trained on a device saves and loads on a CPU-only machine with
bit-identical weights (run on the NumPy stand-in for CuPy)."""

import numpy as np
from device_standin import DeviceArray

from neural_network import NeuralNetwork, build_mlp, fit, load_model, one_hot_encode
from neural_network.optim.optimizers import Adam


def test_a_device_model_saves_and_loads_on_the_cpu_bit_identically(standin_cuda, tmp_path):
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((128, 6)), rng.integers(0, 3, 128)
    model = build_mlp(6, [8], 3, rng=np.random.default_rng(1), device="cuda")
    fit(model, x, labels, optimizer=Adam(model.flat), epochs=2, rng=np.random.default_rng(2))
    model.save(tmp_path / "gpu.npz")
    loaded = load_model(tmp_path / "gpu.npz")
    assert loaded.device == "cpu" and isinstance(loaded.flat.values, np.ndarray)
    assert loaded.flat.values.tobytes() == model.flat.values.get().tobytes()
    # The same weights saved from the CPU make the same file contents.
    model.to("cpu")
    model.save(tmp_path / "cpu.npz")
    assert load_model(tmp_path / "cpu.npz").flat.values.tobytes() == loaded.flat.values.tobytes()


def _columns(seed, n_samples):
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % 3
    centers = np.random.default_rng(123).integers(40, 215, size=(3, 6))
    x = centers[labels] + rng.integers(-30, 31, size=(n_samples, 6))
    return x.T, one_hot_encode(labels, 3)


def test_classic_network_on_a_device_trains_saves_and_resumes(standin_cuda, tmp_path):
    (X, y), (X_test, y_test) = _columns(0, 90), _columns(1, 30)
    settings = {"epochs": 3, "batch_size": 16, "verbose": False}
    gpu = NeuralNetwork(X, y, X_test, y_test, architecture=[8], num_labels=3, seed=0,
                        device="cuda")  # fmt: skip
    cpu = NeuralNetwork(X, y, X_test, y_test, architecture=[8], num_labels=3, seed=0)
    gpu.fit(**settings, checkpoint_path=tmp_path / "run.ckpt")
    cpu.fit(**settings)
    assert isinstance(gpu.model.flat.values, DeviceArray)
    np.testing.assert_allclose(gpu.model.flat.values.get(), cpu.model.flat.values, atol=1e-5)
    assert gpu.predict(X_test).tolist() == cpu.predict(X_test).tolist()

    gpu.save(tmp_path / "classic.npz")
    loaded = load_model(tmp_path / "classic.npz")
    assert loaded.model.flat.values.tobytes() == gpu.model.flat.values.get().tobytes()

    resumed = NeuralNetwork(X, y, X_test, y_test, architecture=[8], num_labels=3, seed=0,
                            device="cuda")  # fmt: skip
    resumed.fit(**settings, resume_from=tmp_path / "run.ckpt")
    assert resumed.model.flat.values.get().tobytes() == gpu.model.flat.values.get().tobytes()
