"""Training presets: settings, the validation split, model selection, time budget, run folder.

The runs here use a small slice of MNIST and a tiny network (the loader is swapped in
``LOADERS``); the real ``"best"`` run is ``benchmarks/best_preset.py``.
"""

import json

import numpy as np
import pytest

from neural_network import evaluate, load_model
from neural_network.apps import presets
from neural_network.apps.presets import PRESETS, get_preset, train_preset
from neural_network.optim.schedules import Cosine

TINY = {
    "hidden": [24],
    "epochs": 4,
    "warmup_epochs": 1,
    "batch_size": 50,
    "validation_size": 100,
    "lr": 3e-3,
}


@pytest.fixture
def small_mnist(monkeypatch):
    (x_train, y_train), (x_test, y_test) = presets.load_mnist()
    data = (x_train[:500], y_train[:500]), (x_test[:200], y_test[:200])
    monkeypatch.setitem(presets.LOADERS, "mnist", lambda: data)
    return data


def test_best_preset_settings():
    best = PRESETS["best"]
    assert best["validation_size"] >= 1000
    assert best["distortion"]["elastic_alpha"] > 0
    schedule = Cosine(best["lr"], best["epochs"], best["min_lr"], best["warmup_epochs"])
    rates = [schedule(epoch) for epoch in range(best["epochs"])]
    # Linear warm-up, then a monotone cosine decay that ends at min_lr.
    assert rates[0] == pytest.approx(best["lr"] / (best["warmup_epochs"] + 1))
    assert max(rates) == pytest.approx(best["lr"])
    peak = rates.index(max(rates))
    assert peak == best["warmup_epochs"]
    assert all(a >= b for a, b in zip(rates[peak:-1], rates[peak + 1 :], strict=True))
    assert rates[-1] == pytest.approx(best["min_lr"])


def test_get_preset_copies_and_checks():
    settings = get_preset("best", {"epochs": 3})
    assert settings["epochs"] == 3 and PRESETS["best"]["epochs"] != 3
    settings["distortion"]["max_rotation"] = 99.0
    assert PRESETS["best"]["distortion"]["max_rotation"] != 99.0
    with pytest.raises(ValueError, match="Unknown preset"):
        get_preset("fastest")
    with pytest.raises(ValueError, match="Unknown setting"):
        get_preset("best", {"epoch": 3})


def test_train_preset_writes_a_run_folder(small_mnist, tmp_path):
    (x_train, y_train), (x_test, y_test) = small_mnist
    model, metrics = train_preset(
        "best", out=tmp_path / "run", seed=3, progress=False, overrides=TINY
    )
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written["test_accuracy"] == metrics["test_accuracy"]
    assert 0.3 < metrics["test_accuracy"] <= 1.0
    assert metrics["epochs_run"] == 4 and 1 <= metrics["best_epoch"] <= 4
    assert metrics["n_train"] == 400 and metrics["n_validation"] == 100
    assert written["settings"]["hidden"] == [24]
    # The kept weights are the best validation epoch's, measured on the last 100 images.
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert metrics["validation_accuracy"] == max(history["val_accuracy"])
    x_val = (x_train[-100:] / 255).astype(np.float32)
    assert evaluate(model, x_val, y_train[-100:])[1] == metrics["validation_accuracy"]
    # The learning rates follow the warmed-up cosine.
    schedule = Cosine(TINY["lr"], 4, PRESETS["best"]["min_lr"], 1)
    np.testing.assert_allclose(history["lr"], [schedule(epoch) for epoch in range(4)])
    loaded = load_model(tmp_path / "run" / "model.npz")
    x = (x_test / 255).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    test_accuracy = float(np.mean(model.predict(x) == y_test))
    assert test_accuracy == pytest.approx(metrics["test_accuracy"])


def test_train_preset_is_deterministic(small_mnist):
    first, _ = train_preset("best", seed=5, progress=False, overrides=TINY, threads=1)
    second, _ = train_preset("best", seed=5, progress=False, overrides=TINY, threads=1)
    np.testing.assert_array_equal(first.flat.values, second.flat.values)
    other, _ = train_preset("best", seed=6, progress=False, overrides=TINY)
    assert not np.array_equal(first.flat.values, other.flat.values)


def test_train_preset_without_test_or_distortion(small_mnist):
    _, metrics = train_preset(
        "best",
        progress=False,
        overrides={**TINY, "distortion": None, "max_norm": 1.0},
        evaluate_test=False,
    )
    assert "test_accuracy" not in metrics and metrics["validation_accuracy"] > 0.3


def test_time_budget_cuts_the_run_short(small_mnist):
    _, metrics = train_preset(
        "best", progress=False, overrides={**TINY, "epochs": 50}, time_budget_s=1e-3
    )
    assert metrics["epochs_run"] == 1
    with pytest.raises(ValueError, match="time_budget_s"):
        train_preset("best", progress=False, overrides=TINY, time_budget_s=0)


def test_cli_train_preset(small_mnist, tmp_path, monkeypatch, capsys):
    from neural_network.apps.cli import main

    monkeypatch.setitem(PRESETS, "best", get_preset("best", TINY))
    out = tmp_path / "run"
    assert main(["train", "--preset", "best", "--seed", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 4 and 0.2 < metrics["test_accuracy"] <= 1.0  # chance: 0.1
    assert "Test accuracy" in capsys.readouterr().out
    assert (out / "model.npz").is_file()
    # A second run into the same folder needs --overwrite.
    assert main(["train", "--preset", "best", "--out", str(out), "--quiet"]) == 2
    argv = ["train", "--preset", "best", "--out", str(out), "--quiet", "--overwrite"]
    assert main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["seed"] == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--preset", "best", "--epochs", "3"], "--epochs"),
        (["--preset", "fastest"], "invalid choice"),
        (["--time-budget", "60"], "--preset"),
        (["--preset", "best", "--time-budget", "-1"], "time-budget"),
    ],
)
def test_cli_preset_usage_errors(argv, message, tmp_path, capsys):
    from neural_network.apps.cli import main

    assert main(["train", *argv, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
