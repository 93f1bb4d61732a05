"""Run folders are never overwritten by surprise, and always describe the run in them:
``--resume A --out B`` checks B as ``--out B`` does, every file a run writes counts as a
run, a refused resume changes nothing, a resumed run keeps its settings, and ``--overwrite``
leaves nothing of the old run behind."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neural_network import NeuralNetwork, load_model
from neural_network.apps.cli import main
from neural_network.apps.run_folder import (
    FIGURE_FILES,
    LOCK_FILE,
    RUN_FILES,
    lock_run_folder,
    run_files_in,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SMALL = ["--limit-train", "600", "--limit-test", "200", "--epochs", "2", "--hidden", "16"]
QUIET = ["--quiet", "--no-figures"]


def train(out, *flags):
    assert main(["train", *SMALL, "--seed", "0", "--out", str(out), *QUIET, *flags]) == 0
    return Path(out)


def snapshot(folder):
    return {path.name: path.read_bytes() for path in sorted(Path(folder).iterdir())}


def test_resume_into_another_run_is_refused_without_overwrite(tmp_path, capsys):
    first, second = train(tmp_path / "a"), train(tmp_path / "b", "--seed", "1")
    before = snapshot(second)
    argv = ["train", "--resume", str(first), "--out", str(second), *QUIET]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert str(second) in err and "--overwrite" in err and err.count("\n") == 1
    assert snapshot(second) == before
    assert main([*argv, "--overwrite"]) == 0
    assert snapshot(second) != before


def test_resume_into_a_new_folder_writes_a_whole_run(tmp_path):
    first = train(tmp_path / "a")
    second = tmp_path / "b"
    argv = ["train", "--resume", str(first), "--out", str(second), *QUIET]
    assert main([*argv, "--epochs", "3"]) == 0
    assert main(argv) == 2


@pytest.mark.parametrize("name", ["config.toml", "history.json", "metrics.json", "cost.png"])
def test_any_file_a_run_writes_counts_as_a_run(tmp_path, name, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).write_text("the user's own file\n")
    assert main(["train", *SMALL, "--out", str(out), *QUIET]) == 2
    assert name in capsys.readouterr().err
    assert snapshot(out) == {name: b"the user's own file\n"}


def test_other_files_in_the_folder_are_left_alone(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    train(out)
    train(out, "--overwrite")
    assert (out / "notes.txt").read_text() == "mine\n"


REFUSED_RESUMES = {
    "hidden": ["--hidden", "8"],
    "activation": ["--activation", "tanh"],
    "limit-train": ["--limit-train", "500"],
    "batch-size": ["--batch-size", "64"],
    "dropout-keep": ["--dropout-keep", "0.5"],
    "lr": ["--lr", "0.01"],
    "early-stopping-patience": ["--early-stopping-patience", "3"],
    "validation-split": ["--validation-split", "0.1"],
    "seed": ["--seed", "999"],
    "lam": ["--lam", "0.01"],
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    return train(tmp_path_factory.mktemp("resume") / "run")


@pytest.mark.parametrize("case", list(REFUSED_RESUMES))
def test_a_refused_resume_changes_nothing(finished_run, case, capsys):
    before = snapshot(finished_run)
    argv = ["train", "--resume", str(finished_run), *QUIET]
    assert main([*argv, *REFUSED_RESUMES[case], "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--{case}" in err, err
    assert "{" not in err  # one sentence, not two dumped dicts
    assert snapshot(finished_run) == before
    assert main(argv) == 0  # a plain resume still works


def test_resume_cannot_shrink_the_epochs(finished_run, capsys):
    before = snapshot(finished_run)
    assert main(["train", "--resume", str(finished_run), "--epochs", "1", *QUIET]) == 2
    err = capsys.readouterr().err
    assert "--epochs 1" in err and "2 epochs" in err
    assert snapshot(finished_run) == before


def test_resume_for_more_epochs_records_them(tmp_path):
    out = train(tmp_path / "run")
    assert main(["train", "--resume", str(out), "--epochs", "3", *QUIET]) == 0
    assert "epochs = 3" in (out / "config.toml").read_text()


def test_overwrite_leaves_nothing_of_the_old_run(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--seed", "0", "--out", str(out), "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == set(RUN_FILES)
    train(out, "--overwrite")
    assert not any((out / name).exists() for name in FIGURE_FILES)


def test_resume_without_figures_removes_the_stale_ones(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *SMALL, "--seed", "0", "--out", str(out), "--quiet"]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "3", *QUIET]) == 0
    assert not any((out / name).exists() for name in FIGURE_FILES)


def test_a_preset_is_not_written_over_a_run(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.json").write_text("{}\n")
    assert main(["train", "--preset", "best", "--out", str(out), "--quiet"]) == 2
    assert "history.json" in capsys.readouterr().err
    assert (out / "history.json").read_text() == "{}\n"


posix_only = pytest.mark.skipif(os.name != "posix", reason="file-size limits and flock are POSIX")


@posix_only
def test_a_resume_that_cannot_write_leaves_its_config_whole(tmp_path):
    """A full disk or a file-size limit while --resume writes config.toml: the old file stays
    (before, it was cut short and the run could not be resumed even after space was freed)."""
    out = train(tmp_path / "run")
    before = (out / "config.toml").read_bytes()
    script = (
        "import resource, signal, sys\n"
        "from neural_network.apps.cli import main\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100, resource.RLIM_INFINITY))\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    argv = ["train", "--resume", str(out), "--epochs", "3", *QUIET]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    limited = subprocess.run(
        [sys.executable, "-c", script, *argv],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert limited.returncode == 1 and "File too large" in limited.stderr, limited.stderr
    assert (out / "config.toml").read_bytes() == before
    assert main(argv) == 0  # space again: the run resumes
    assert "epochs = 3" in (out / "config.toml").read_text()


@posix_only
@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_second_train_on_a_folder_in_use_fails_at_once(tmp_path, overwrite, capsys):
    out = tmp_path / "run"
    with lock_run_folder(out):  # what a running train holds
        assert main(["train", *SMALL, "--out", str(out), *QUIET, *overwrite]) == 1
        err = capsys.readouterr().err
        assert f"{out} is in use: process {os.getpid()} is training in it" in err, err
        assert run_files_in(out) == []
    assert not out.exists()  # the lock's holder made the folder and left it empty


@posix_only
def test_two_trains_started_together_never_mix_a_folder(tmp_path):
    out = tmp_path / "run"
    argv = ["train", *SMALL, "--epochs", "1", "--threads", "1", "--out", str(out), *QUIET]
    script = "import sys\nfrom neural_network.apps.cli import main\nsys.exit(main(sys.argv[1:]))"
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv, "--seed", str(seed)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    results = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 1], [0, 2]), results  # one trains; the other is refused
    config = tomllib.loads((out / "config.toml").read_text())
    winner = [seed for seed, (code, _) in zip((1, 2), results, strict=True) if code == 0]
    assert [config["seed"]] == winner
    # The model is the winner's too: the same run made alone gives the same weights.
    alone = tmp_path / "alone"
    assert (
        main([*argv[: -len(QUIET) - 2], "--out", str(alone), *QUIET, "--seed", str(winner[0])]) == 0
    )
    x = np.random.default_rng(0).uniform(0, 255, size=(5, 784))
    np.testing.assert_array_equal(
        load_model(out / "model.npz").predict_proba(x.T),
        load_model(alone / "model.npz").predict_proba(x.T),
    )
    assert not (out / LOCK_FILE).exists()


def test_a_stale_lock_file_of_a_killed_train_does_not_block(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text("999999999\n")  # its process is gone, its lock with it
    train(out)
    assert not (out / LOCK_FILE).exists()


def interrupt_before_the_first_checkpoint(monkeypatch):
    def interrupted(self, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(NeuralNetwork, "fit", interrupted)


def test_a_run_stopped_before_its_first_checkpoint_starts_afresh(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    argv = ["train", *SMALL, "--seed", "0", "--out", str(out), *QUIET]
    original = NeuralNetwork.fit
    interrupt_before_the_first_checkpoint(monkeypatch)
    assert main(argv) == 130
    assert run_files_in(out) == ["config.toml"]
    capsys.readouterr()
    # --resume says what to do instead of only "no checkpoint.npz"
    assert main(["train", "--resume", str(out), *QUIET]) == 1
    err = capsys.readouterr().err
    assert "stopped before its first epoch ended" in err
    assert "the same command without --resume" in err
    monkeypatch.setattr(NeuralNetwork, "fit", original)
    assert main(argv) == 0  # the same command starts afresh, and says so
    assert "starting afresh" in capsys.readouterr().err
    assert isinstance(load_model(out / "model.npz"), NeuralNetwork)
    assert main(argv) == 2  # a folder with a whole run in it is still refused


def test_a_hand_written_config_toml_is_not_taken_for_a_stopped_run(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.toml").write_text("epochs = 2\n")
    assert main(["train", *SMALL, "--out", str(out), *QUIET]) == 2
    assert (out / "config.toml").read_text() == "epochs = 2\n"


@posix_only
def test_a_config_that_is_a_fifo_is_refused_not_waited_on(tmp_path, capsys):
    import threading

    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    codes = []
    thread = threading.Thread(
        target=lambda: codes.append(main(["train", "--config", str(fifo), *QUIET])), daemon=True
    )
    thread.start()
    thread.join(30)
    if thread.is_alive():  # the reader waits for a writer: give it an end, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(30)
    assert codes == [1]
    assert "is a FIFO (named pipe), not a config file" in capsys.readouterr().err


@posix_only
def test_a_config_that_never_ends_is_refused_unread(capsys):
    assert main(["train", "--config", "/dev/zero", *QUIET]) == 1
    assert "/dev/zero is a character device, not a config file" in capsys.readouterr().err


def test_a_huge_config_is_refused_unread(tmp_path, capsys):
    huge = tmp_path / "config.toml"
    with open(huge, "wb") as file:
        file.truncate(1 << 30)  # sparse: 1 GiB that takes no disk
    assert main(["train", "--config", str(huge), *QUIET]) == 1
    assert "more than the 1048576 a config file may have" in capsys.readouterr().err
