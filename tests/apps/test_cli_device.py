"""``train --device``: the GPU through the NumPy stand-in for CuPy, and one line without CuPy."""

import json
import sys

import numpy as np

from neural_network import load_model
from neural_network.apps.cli import main
from neural_network.core import devices

SMALL = ["--limit-train", "500", "--limit-test", "200", "--epochs", "1", "--hidden", "16"]


def test_train_on_a_device_matches_the_cpu_run(standin_cuda, tmp_path):
    runs = {}
    for device in ("cpu", "cuda"):
        out = tmp_path / device
        argv = ["train", *SMALL, "--seed", "0", "--device", device, "--out", str(out), "--quiet"]
        assert main(argv if device == "cuda" else [*argv, "--no-figures"]) == 0
        runs[device] = out
    gpu, cpu = (load_model(runs[device] / "model.npz") for device in ("cuda", "cpu"))
    np.testing.assert_allclose(gpu.model.flat.values, cpu.model.flat.values, atol=1e-5)
    metrics = {d: json.loads((runs[d] / "metrics.json").read_text()) for d in runs}
    assert metrics["cuda"]["test_accuracy"] == metrics["cpu"]["test_accuracy"]
    assert 'device = "cuda"' in (runs["cuda"] / "config.toml").read_text()
    assert (runs["cuda"] / "first_layer_weights.png").stat().st_size > 0


def test_device_cuda_without_cupy_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(devices, "_loaded", {})
    monkeypatch.setitem(sys.modules, "cupy", None)
    argv = ["train", *SMALL, "--device", "cuda", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs CuPy" in err and "cupy-cuda13x" in err
