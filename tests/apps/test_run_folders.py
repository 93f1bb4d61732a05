"""Run folders are never overwritten by surprise, and always describe the run in them:
``--resume A --out B`` checks B as ``--out B`` does, every file a run writes counts as a
run, a refused resume changes nothing, a resumed run keeps its settings, and ``--overwrite``
leaves nothing of the old run behind."""

from pathlib import Path

import pytest

from neural_network.apps.cli import main
from neural_network.apps.run_folder import FIGURE_FILES, RUN_FILES

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
