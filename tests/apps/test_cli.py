"""The ``neural-network`` command: train writes a complete run folder, evaluate and predict
read it back, and bad input ends in one line on stderr and a non-zero exit code.

Commands run in-process through ``main([...])`` on small slices of MNIST."""

import csv
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from PIL import Image

from neural_network import NeuralNetwork, build_mlp, load_mnist, load_model
from neural_network.apps.cli import build_parser, main
from neural_network.apps.cli.datasets import DATASETS
from neural_network.apps.cli.errors import CommandError
from neural_network.apps.cli.models import class_probabilities
from neural_network.apps.cli.options import FIT_SETTINGS, format_toml
from neural_network.data.images import load_digit

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SRC = Path(__file__).resolve().parents[2] / "src"
SMALL = ["--limit-train", "2000", "--limit-test", "500", "--epochs", "2", "--hidden", "32"]
FIGURES = [
    "accuracy.png",
    "confusion_matrix.png",
    "cost.png",
    "first_layer_weights.png",
    "learning_rate.png",
    "misclassified.png",
]
DATA_FILES = ["checkpoint.npz", "config.toml", "history.csv", "history.json", "metrics.json"]
RUN_FILES = sorted([*FIGURES, *DATA_FILES, "model.npz"])


def train(out, *flags, figures=False):
    """Run ``train`` quietly on the small slice; the run folder."""
    argv = ["train", *SMALL, "--seed", "0", "--out", str(out), "--quiet", *flags]
    code = main(argv if figures else [*argv, "--no-figures"])
    assert code == 0
    return Path(out)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run on 10,000 training images, 2 epochs, tested on 500: about 92% accurate."""
    out = tmp_path_factory.mktemp("cli") / "run"
    argv = ["train", "--limit-train", "10000", "--limit-test", "500", "--epochs", "2"]
    argv += ["--hidden", "64", "--batch-size", "32", "--lr", "0.002", "--seed", "1"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    return out


@pytest.fixture(scope="module")
def test_digits():
    _, (x_test, y_test) = load_mnist()
    return x_test, y_test


def read_json(path):
    return json.loads(Path(path).read_text())


# train


def test_run_folder_holds_everything(run):
    assert sorted(p.name for p in run.iterdir() if p.is_file()) == RUN_FILES


def test_metrics_report_test_accuracy_and_timings(run, test_digits):
    metrics = read_json(run / "metrics.json")
    assert 0.85 < metrics["test_accuracy"] <= 1
    assert 0 < metrics["test_loss"] < 1
    assert metrics["epochs_run"] == 2
    assert metrics["best_epoch"] in (1, 2)
    assert metrics["selected_on"] == "test"
    assert (metrics["n_train"], metrics["n_validation"], metrics["n_test"]) == (10000, 0, 500)
    assert metrics["wall_time_s"] > 0 and metrics["seconds_per_epoch"] > 0
    assert metrics["threads"] == "auto"
    assert len(metrics["threads_per_epoch"]) == len(metrics["step_time_s"]) == 2
    assert all(count >= 1 for count in metrics["threads_per_epoch"])
    assert all(seconds > 0 for seconds in metrics["step_time_s"])
    assert np.array(metrics["confusion_matrix"]).sum() == 500
    assert sum(row["support"] for row in metrics["per_class"]) == 500
    # The reported accuracy is that of the saved model on the test slice.
    network = load_model(run / "model.npz")
    x_test, y_test = test_digits
    accuracy = network.accuracy(x_test[:500].T, np.eye(10)[y_test[:500]].T)
    assert accuracy == pytest.approx(metrics["test_accuracy"])


def test_history_files_agree(run):
    history = read_json(run / "history.json")
    assert history["epoch"] == [1, 2]
    with open(run / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    for key in ("train_loss", "val_accuracy", "lr"):
        assert [float(row[key]) for row in rows] == pytest.approx(history[key])


def test_config_toml_holds_the_resolved_settings(run):
    config = tomllib.loads((run / "config.toml").read_text())
    assert config["hidden"] == [64]
    assert config["lr"] == 0.002
    assert config["batch_size"] == 32
    assert config["seed"] == 1
    assert config["dataset"] == "mnist"
    assert config["lam"] == inspect.signature(NeuralNetwork.fit).parameters["lam"].default
    assert "data_dir" not in config  # None is left out


@pytest.mark.parametrize("name", FIGURES)
def test_figures_are_real_pictures(run, name):
    pixels = imread(run / name)[..., :3]
    height, width = pixels.shape[:2]
    assert height >= 300 and width >= 300
    assert pixels.std() > 0.05
    inked = np.mean(pixels.min(axis=2) < 0.9)
    assert inked > (0.005 if name == "learning_rate.png" else 0.02)


def test_every_fit_setting_is_a_flag():
    fit_parameters = set(inspect.signature(NeuralNetwork.fit).parameters)
    not_settings = {"self", "verbose", "checkpoint_path", "checkpoint_every", "resume_from"}
    missing = fit_parameters - not_settings - set(FIT_SETTINGS)
    assert not missing, f"NeuralNetwork.fit has arguments with no train flag: {missing}"
    assert set(FIT_SETTINGS) <= fit_parameters
    help_text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for name in FIT_SETTINGS:
        assert "--" + name.replace("_", "-") in help_text
    assert "--l2" in help_text


def test_flags_reach_fit(tmp_path, monkeypatch):
    calls = []
    original = NeuralNetwork.fit

    def spy(self, **kwargs):
        calls.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(NeuralNetwork, "fit", spy)
    out = train(
        tmp_path / "run",
        "--lr", "0.01", "--batch-size", "64", "--l2", "0.001", "--dropout-keep", "0.9",
        "--grad-clip", "0", "--early-stopping-patience", "0", "--lr-decay", "0.5",
        "--lr-decay-every", "1", "--min-delta", "0.01", "--log-every", "3", "--epochs", "3",
        "--threads", "1",
    )  # fmt: skip
    (kwargs,) = calls
    assert kwargs["threads"] == 1
    assert read_json(out / "metrics.json")["threads_per_epoch"] == [1, 1, 1]
    assert kwargs["lr"] == 0.01 and kwargs["batch_size"] == 64 and kwargs["lam"] == 0.001
    assert kwargs["dropout_keep"] == 0.9 and kwargs["min_delta"] == 0.01
    assert kwargs["grad_clip"] is None and kwargs["early_stopping_patience"] is None
    assert kwargs["log_every"] == 3 and kwargs["epochs"] == 3
    assert kwargs["checkpoint_path"] == out / "checkpoint.npz"
    assert read_json(out / "history.json")["lr"] == pytest.approx([0.01, 0.005, 0.0025])


def test_config_file_sets_values_and_flags_override(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('batch-size = 50\nlr_decay_every = 1\nactivation = "tanh"\nl2 = 0.0\n')
    out = train(tmp_path / "run", "--config", str(config), "--lr-decay-every", "7")
    resolved = tomllib.loads((out / "config.toml").read_text())
    assert resolved["batch_size"] == 50
    assert resolved["activation"] == "tanh"
    assert resolved["lam"] == 0.0
    assert resolved["lr_decay_every"] == 7
    assert load_model(out / "model.npz").activation == "tanh"


def test_same_config_same_model(tmp_path, test_digits):
    # A pinned thread count is part of the config: "auto" reproduces to rounding only.
    first = train(tmp_path / "a", "--threads", "1")
    assert tomllib.loads((first / "config.toml").read_text())["threads"] == 1
    second = tmp_path / "b"
    argv = ["train", "--config", str(first / "config.toml"), "--out", str(second)]
    assert main([*argv, "--quiet", "--no-figures"]) == 0
    x = test_digits[0][:100].T
    a, b = load_model(first / "model.npz"), load_model(second / "model.npz")
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))


def test_resume_continues_the_run_bit_for_bit(tmp_path, test_digits):
    straight = train(tmp_path / "straight", "--epochs", "3", "--threads", "2")
    stopped = train(tmp_path / "stopped", "--epochs", "1", "--threads", "2")
    argv = ["train", "--resume", str(stopped), "--epochs", "3", "--quiet", "--no-figures"]
    assert main(argv) == 0
    assert read_json(stopped / "history.json")["epoch"] == [1, 2, 3]
    x = test_digits[0][:200].T
    np.testing.assert_array_equal(
        load_model(stopped / "model.npz").predict_proba(x),
        load_model(straight / "model.npz").predict_proba(x),
    )


def test_interrupted_run_says_how_to_resume(tmp_path, monkeypatch, capsys):
    original = NeuralNetwork.fit

    def interrupted(self, **kwargs):
        original(self, **{**kwargs, "epochs": 1})
        raise KeyboardInterrupt

    monkeypatch.setattr(NeuralNetwork, "fit", interrupted)
    out = tmp_path / "run"
    argv = ["train", *SMALL, "--out", str(out), "--quiet", "--no-figures"]
    assert main(argv) == 130
    assert f"--resume {out}" in capsys.readouterr().err
    monkeypatch.setattr(NeuralNetwork, "fit", original)
    assert main(["train", "--resume", str(out), "--quiet", "--no-figures"]) == 0
    assert read_json(out / "history.json")["epoch"] == [1, 2]


def test_validation_split_keeps_the_test_set_out_of_choices(tmp_path):
    out = train(tmp_path / "run", "--validation-split", "0.25")
    metrics = read_json(out / "metrics.json")
    assert (metrics["n_train"], metrics["n_validation"], metrics["n_test"]) == (1500, 500, 500)
    assert metrics["selected_on"] == "validation"
    assert 0 < metrics["validation_accuracy"] <= 1
    history = read_json(out / "history.json")
    # The per-epoch validation numbers are not the test numbers.
    assert history["val_accuracy"][metrics["best_epoch"] - 1] == metrics["validation_accuracy"]


def test_progress_bar_and_summary(tmp_path, capsys):
    argv = ["train", *SMALL, "--seed", "0", "--out", str(tmp_path / "run")]
    assert main([*argv, "--no-figures"]) == 0
    captured = capsys.readouterr()
    assert "loss=" in captured.err and "acc=" in captured.err
    assert "Test accuracy" in captured.out and str(tmp_path / "run") in captured.out


def test_quiet_prints_nothing_and_no_figures_draws_none(tmp_path, capsys):
    out = train(tmp_path / "run")
    assert capsys.readouterr() == ("", "")
    assert sorted(p.name for p in out.iterdir()) == sorted(set(RUN_FILES) - set(FIGURES))


def test_a_run_folder_is_not_overwritten_by_accident(tmp_path, capsys):
    out = train(tmp_path / "run")
    argv = ["train", *SMALL, "--out", str(out), "--quiet", "--no-figures"]
    assert main(argv) == 2
    assert "--resume" in capsys.readouterr().err
    assert main([*argv, "--overwrite"]) == 0


def test_default_run_folder_is_under_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", *SMALL, "--quiet", "--no-figures"]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    assert (folder / "model.npz").is_file()


def test_no_hidden_layer_is_softmax_regression(tmp_path):
    out = train(tmp_path / "run", "--hidden", figures=True)
    assert load_model(out / "model.npz").architecture == []
    assert (out / "first_layer_weights.png").is_file()


def test_datasets_are_those_the_datasets_module_has():
    from neural_network.data import mnist

    assert DATASETS["mnist"].load is mnist.load_mnist
    for name, loader in (("fashion-mnist", "load_fashion_mnist"), ("kmnist", "load_kmnist")):
        assert (name in DATASETS) == hasattr(mnist, loader)


def test_data_dir_reads_idx_files(tmp_path):
    (x_train, y_train), (x_test, y_test) = load_mnist()
    folder = tmp_path / "idx"
    folder.mkdir()
    for name, array, magic in (
        ("train-images-idx3-ubyte", x_train.reshape(-1, 28, 28), 0x0803),
        ("train-labels-idx1-ubyte", y_train.astype(np.uint8), 0x0801),
        ("t10k-images-idx3-ubyte", x_test.reshape(-1, 28, 28), 0x0803),
        ("t10k-labels-idx1-ubyte", y_test.astype(np.uint8), 0x0801),
    ):
        header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (folder / name).write_bytes(header + array.tobytes())
    out = train(tmp_path / "run", "--data-dir", str(folder))
    assert tomllib.loads((out / "config.toml").read_text())["data_dir"] == str(folder)


def test_toml_writer_round_trips():
    values = {
        "text": 'quote " backslash \\ newline \n tab \t del \x7f é 😀',
        "integer": -3,
        "real": 1e-05,
        "whole": 2.0,
        "flag": True,
        "sizes": [512, 256],
        "empty": [],
        "missing": None,
    }
    parsed = tomllib.loads(format_toml(values, header="a comment\nover two lines"))
    assert parsed == {key: value for key, value in values.items() if value is not None}
    assert isinstance(parsed["whole"], float)


# evaluate


def test_evaluate_prints_accuracy_table_and_matrix(run, capsys):
    assert main(["evaluate", str(run / "model.npz"), "--limit-test", "500"]) == 0
    out = capsys.readouterr().out
    metrics = read_json(run / "metrics.json")
    assert f"Accuracy {100 * metrics['test_accuracy']:.2f}% on 500 mnist test images" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if "precision" in line)
    assert lines[header].split() == ["class", "precision", "recall", "f1", "support"]
    table = [line.split() for line in lines[header + 1 : header + 11]]
    assert [row[0] for row in table] == [str(k) for k in range(10)]
    assert sum(int(row[-1]) for row in table) == 500
    matrix_at = next(i for i, line in enumerate(lines) if line.startswith("Confusion matrix ("))
    rows = [line.split() for line in lines[matrix_at + 2 : matrix_at + 12]]
    counts = np.array([[int(v) for v in row[1:]] for row in rows])
    np.testing.assert_array_equal(counts, metrics["confusion_matrix"])
    evaluation = run / "evaluation"
    assert read_json(evaluation / "evaluation.json")["test_accuracy"] == metrics["test_accuracy"]
    pixels = imread(evaluation / "confusion_matrix.png")[..., :3]
    assert pixels.shape[0] >= 300 and pixels.std() > 0.05


def test_evaluate_a_layered_model_and_out_folder(tmp_path, capsys):
    model = build_mlp(784, [16], 10, rng=np.random.default_rng(0))
    model.save(tmp_path / "layered.npz")
    out = tmp_path / "eval"
    argv = ["evaluate", str(tmp_path / "layered.npz"), "--limit-test", "300", "--out", str(out)]
    assert main(argv) == 0
    assert "on 300 mnist test images" in capsys.readouterr().out
    assert (out / "confusion_matrix.png").is_file()


# predict


@pytest.fixture(scope="module")
def digit_files(tmp_path_factory, test_digits):
    """20 MNIST test digits as PNG: as they are, inverted, and inverted at 100x100."""
    folder = tmp_path_factory.mktemp("digits")
    x_test, y_test = test_digits
    files = {"as-is": [], "inverted": [], "resized": []}
    for index in range(20):
        image = x_test[index].reshape(28, 28)
        for kind, picture in (
            ("as-is", Image.fromarray(image)),
            ("inverted", Image.fromarray(255 - image)),
            ("resized", Image.fromarray(255 - image).resize((100, 100), Image.Resampling.LANCZOS)),
        ):
            path = folder / f"{kind}-{index}.png"
            picture.save(path)
            files[kind].append(str(path))
    return files, y_test[:20]


@pytest.mark.parametrize("kind", ["as-is", "inverted", "resized"])
def test_predict_reads_real_digits(run, digit_files, kind, capsys):
    files, labels = digit_files
    assert main(["predict", str(run / "model.npz"), *files[kind], "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in results] == files[kind]
    for result in results:
        assert set(result) == {"file", "label", "probabilities"}
        assert list(result["probabilities"]) == [str(k) for k in range(10)]
        assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-4)
        best = max(result["probabilities"], key=result["probabilities"].get)
        assert str(result["label"]) == best
    accuracy = np.mean([r["label"] for r in results] == labels)
    assert accuracy >= 0.85, accuracy


def test_predict_prints_class_and_top_three(run, digit_files, capsys):
    files, _ = digit_files
    assert main(["predict", str(run / "model.npz"), *files["as-is"][:3]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, files["as-is"][:3], strict=True):
        assert line.startswith(path)
        assert line.count("%") == 3


def test_predict_show_input_writes_what_the_network_was_given(run, digit_files, tmp_path, capsys):
    files, _ = digit_files
    chosen = [files["as-is"][0], files["resized"][1]]
    twin = tmp_path / "other" / Path(chosen[0]).name  # the same name in another folder
    twin.parent.mkdir()
    shutil.copy(chosen[0], twin)
    out = tmp_path / "inputs"
    argv = ["predict", str(run / "model.npz"), *chosen, str(twin), "--show-input", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    stem0, stem1 = Path(chosen[0]).stem, Path(chosen[1]).stem
    written = sorted(p.name for p in out.iterdir())
    assert written == sorted([f"{stem0}-1.png", f"{stem1}.png", f"{stem0}-2.png"])
    for name, source in [(f"{stem0}-1.png", chosen[0]), (f"{stem1}.png", chosen[1])]:
        with Image.open(out / name) as picture:
            assert picture.size == (28, 28)
            assert picture.mode == "L"
            np.testing.assert_array_equal(np.asarray(picture).ravel(), load_digit(source))


def test_predict_show_input_writes_one_file_per_input(run, digit_files, tmp_path, capsys):
    """``a.png a.jpg a-1.png`` once wrote two files: the numbered name of one ``a`` was the
    other file's own name."""
    files, _ = digit_files
    folder = tmp_path / "pictures"
    folder.mkdir()
    sources = [folder / "a.png", folder / "a.jpg", folder / "a-1.png", folder / "A.PNG"]
    for index, path in enumerate(sources):
        with Image.open(files["as-is"][index]) as picture:
            picture.save(path, format="JPEG" if path.suffix == ".jpg" else "PNG")
    out = tmp_path / "inputs"
    argv = ["predict", str(run / "model.npz"), *map(str, sources), "--show-input", str(out)]
    assert main(argv) == 0
    capsys.readouterr()
    written = sorted(out.iterdir())
    assert len(written) == len(sources)
    shown = [np.asarray(Image.open(path)).ravel() for path in written]
    expected = [load_digit(path) for path in sources]
    for digit in expected:  # each input, exactly once
        assert sum(np.array_equal(digit, picture) for picture in shown) == 1


def test_predict_show_input_never_overwrites(run, digit_files, tmp_path, capsys):
    files, _ = digit_files
    out = tmp_path / "inputs"
    out.mkdir()
    kept = out / (Path(files["as-is"][1]).stem + ".png")
    kept.write_bytes(b"mine")
    argv = ["predict", str(run / "model.npz"), *files["as-is"][:2], "--show-input", str(out)]
    assert main(argv) == 1
    assert "exists; choose a new or empty folder" in capsys.readouterr().err
    assert kept.read_bytes() == b"mine"
    assert sorted(out.iterdir()) == [kept]  # nothing else written either
    (tmp_path / "file").write_text("x")
    argv[-1] = str(tmp_path / "file")
    assert main(argv) == 1
    assert "is not a folder" in capsys.readouterr().err


def test_predict_npy_and_a_layered_model(tmp_path, test_digits, capsys):
    np.save(tmp_path / "digit.npy", test_digits[0][0].reshape(28, 28))
    model = build_mlp(784, [8], 10, rng=np.random.default_rng(0))
    model.save(tmp_path / "layered.npz")
    argv = ["predict", str(tmp_path / "layered.npz"), str(tmp_path / "digit.npy"), "--json"]
    assert main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)
    probs = model.predict_proba(test_digits[0][:1] / 255.0)[0]
    assert result["label"] == int(probs.argmax())
    assert list(result["probabilities"].values()) == pytest.approx(probs.tolist())


def test_predict_with_an_mlp_classifier(tmp_path, test_digits, capsys):
    pytest.importorskip("sklearn")
    from neural_network import MLPClassifier

    x, labels = test_digits
    classifier = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1, random_state=0)
    classifier.fit(x[:1000], labels[:1000]).save(tmp_path / "classifier.npz")
    np.save(tmp_path / "digit.npy", x[0])
    argv = ["predict", str(tmp_path / "classifier.npz"), str(tmp_path / "digit.npy"), "--json"]
    assert main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)
    probs = classifier.predict_proba(x[:1])[0]
    assert list(result["probabilities"].values()) == pytest.approx(probs.tolist())
    assert result["label"] == classifier.predict(x[:1])[0]


def test_class_probabilities_agree_across_model_kinds(run, test_digits):
    network = load_model(run / "model.npz")
    x = test_digits[0][:50]
    probs, classes = class_probabilities(network, x)
    assert classes == list(range(10))
    np.testing.assert_allclose(probs, network.predict_proba(x.T).T)
    with pytest.raises(CommandError, match="cannot predict"):
        class_probabilities(object(), x)
    with pytest.raises(CommandError, match="784 inputs"):
        class_probabilities(network, x[:, :100])


# bad input


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, run):
    folder = tmp_path_factory.mktemp("bad")
    (folder / "text.png").write_text("not a picture")
    data = (run / "model.npz").read_bytes()
    (folder / "corrupt.npz").write_bytes(data[: len(data) // 2])
    (folder / "bad.toml").write_text("epochs = -3\n")
    (folder / "unknown.toml").write_text("epoch = 3\n")
    (folder / "broken.toml").write_text("epochs = \n")
    Image.new("L", (28, 28), 0).save(folder / "blank.png")
    return folder


BAD_INPUT = {
    "unknown command": (["frobnicate"], 2),
    "no command": ([], 2),
    "unknown activation": (["train", "--activation", "foo"], 2),
    "unknown dataset": (["train", "--dataset", "foo"], 2),
    "negative epochs": (["train", "--epochs", "-1"], 2),
    "zero batch size": (["train", "--batch-size", "0"], 2),
    "zero threads": (["train", "--threads", "0"], 2),
    "threads a word": (["train", "--threads", "many"], 2),
    "lr not a number": (["train", "--lr", "fast"], 2),
    "keep probability over 1": (["train", "--dropout-keep", "1.5"], 2),
    "validation split of 1": (["train", "--validation-split", "1"], 2),
    "config value": (["train", "--config", "{bad}/bad.toml"], 2),
    "config key": (["train", "--config", "{bad}/unknown.toml"], 2),
    "config syntax": (["train", "--config", "{bad}/broken.toml"], 1),
    "missing config": (["train", "--config", "{bad}/none.toml"], 1),
    "missing data dir": (["train", "--data-dir", "{bad}/none", "--limit-train", "9"], 1),
    "resume nothing": (["train", "--resume", "{bad}/none"], 1),
    "evaluate unknown dataset": (["evaluate", "{run}/model.npz", "--dataset", "foo"], 2),
    "evaluate corrupt model": (["evaluate", "{bad}/corrupt.npz"], 1),
    "evaluate missing model": (["evaluate", "{bad}/none.npz"], 1),
    "evaluate a picture": (["evaluate", "{bad}/blank.png"], 1),
    "predict no image": (["predict", "{run}/model.npz"], 2),
    "predict missing image": (["predict", "{run}/model.npz", "{bad}/none.png"], 1),
    "predict unreadable image": (["predict", "{run}/model.npz", "{bad}/text.png"], 1),
    "predict blank image": (["predict", "{run}/model.npz", "{bad}/blank.png"], 1),
    "predict corrupt model": (["predict", "{bad}/corrupt.npz", "{bad}/blank.png"], 1),
    "predict missing model": (["predict", "{bad}/none.npz", "{bad}/blank.png"], 1),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_line_and_an_exit_code(case, bad_files, run, capsys):
    argv, expected = BAD_INPUT[case]
    argv = [arg.format(bad=bad_files, run=run) for arg in argv]
    assert main(argv) == expected
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("neural-network: error: "), err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(bad_files, run):
    with pytest.raises(ValueError, match="not a readable image"):
        main(["predict", str(run / "model.npz"), str(bad_files / "text.png"), "--debug"])


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "train" in capsys.readouterr().out


def run_subprocess(argv):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_python_dash_m_help():
    result = run_subprocess([sys.executable, "-m", "neural_network", "--help"])
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "predict"):
        assert command in result.stdout


def test_python_dash_m_bad_input_has_no_traceback(bad_files, run):
    argv = [sys.executable, "-m", "neural_network", "predict", str(bad_files / "corrupt.npz")]
    result = run_subprocess([*argv, str(bad_files / "blank.png")])
    assert result.returncode == 1
    assert result.stderr.startswith("neural-network: error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("neural-network") is None, reason="console script not installed")
def test_console_script():
    result = subprocess.run(
        ["neural-network", "train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "--validation-split" in result.stdout


@pytest.mark.parametrize("kind", ["as-is", "inverted", "resized"])
def test_predict_without_scikit_image_reads_clean_digits_and_says_photos_need_it(
    run, digit_files, kind, monkeypatch, capsys
):
    files, labels = digit_files
    assert main(["predict", str(run / "model.npz"), *files[kind], "--json"]) == 0
    with_cleanup = [r["label"] for r in json.loads(capsys.readouterr().out)]
    for name in [m for m in sys.modules if m == "skimage" or m.startswith("skimage.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "skimage", None)
    assert main(["predict", str(run / "model.npz"), *files[kind], "--json"]) == 0
    captured = capsys.readouterr()
    plain = [r["label"] for r in json.loads(captured.out)]
    # One note, not one per picture, and it says what the photo clean-up needs.
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("neural-network: note: scikit-image is not installed")
    assert 'pip install "neural-network[photos]"' in captured.err
    assert np.mean(np.array(plain) == labels) >= np.mean(np.array(with_cleanup) == labels) - 0.05
