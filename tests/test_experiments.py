"""benchmarks/experiments.py runs end to end (in its --quick mode), its summaries count what
they say they count, and every figure the book's experiment chapters draw comes out of it."""

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "experiments.py"


def load_experiments():
    spec = importlib.util.spec_from_file_location("experiments", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    experiments = load_experiments()
    out = tmp_path_factory.mktemp("experiments")
    assert experiments.main(["--quick", "--out", str(out)]) == 0
    return experiments, out, json.loads((out / "experiments.json").read_text())


def test_quick_run_records_every_run_of_every_experiment(quick):
    experiments, _, document = quick
    settings = experiments.QUICK
    assert set(document) == set(experiments.EXPERIMENTS)
    overfitting = document["overfitting"]
    assert len(overfitting["runs"]) == settings.seeds * len(experiments.OVERFIT_TECHNIQUES)
    assert len(overfitting["l2_sweep"]) == settings.seeds * len(settings.overfit_l2_sweep)
    for run in overfitting["runs"]:
        curves = run["curves"]
        assert len(curves["train_accuracy"]) == len(curves["val_loss"]) == run["epochs_run"]
        assert run["final"]["gap"] == pytest.approx(
            run["final"]["train_accuracy"] - run["final"]["val_accuracy"]
        )
    # the L2 coefficient is on the runs that use it and only on those
    assert {r["l2"] for r in overfitting["runs"] if r["technique"] != "l2"} == {0.0}
    assert {r["l2"] for r in overfitting["l2_sweep"]} == set(settings.overfit_l2_sweep)
    grid = sum(len(lrs) for lrs in settings.lr_grids.values())
    assert len(document["learning_rates"]["runs"]) == settings.seeds * grid
    naive = document["naive"]["runs"]
    assert len(naive) == settings.seeds * len(settings.naive_runs)
    for run in naive:
        n_steps = next(
            s
            for i, n, lr, s in settings.naive_runs
            if (i, n, lr) == (run["inputs"], run["init"], run["lr"])
        )
        assert len(run["steps"]["loss"]) == n_steps or run["first_nonfinite_step"]
        assert len(run["steps"]["layer_grad_norms"][0]) == len(settings.naive_hidden) + 1
        assert run["checks"]["step"][0] == 0
    for result in document.values():
        assert len(result["meta"]["load_average_at_start"]) == 3
        assert result["meta"]["quick"] is True


def test_a_learning_rate_too_large_shows_as_a_loss_that_jumps(quick):
    _, _, document = quick
    # the quick grid holds SGD at 100 on purpose
    run = next(r for r in document["learning_rates"]["runs"] if r["lr"] == 100.0)
    finite = [v for v in run["losses"] if v is not None]
    assert run["diverged_at_step"] is not None or max(finite) > 10 * finite[0]


def test_only_reruns_one_experiment_and_keeps_the_others(quick, tmp_path):
    experiments, out, document = quick
    (tmp_path / "experiments.json").write_text((out / "experiments.json").read_text())
    assert experiments.main(["--quick", "--only", "naive", "--out", str(tmp_path)]) == 0
    again = json.loads((tmp_path / "experiments.json").read_text())
    assert again["overfitting"] == document["overfitting"]
    assert again["naive"]["meta"]["started"] >= document["naive"]["meta"]["started"]
    # same seeds, same settings, same threads: the same measurements
    assert [r["steps"]["loss"] for r in again["naive"]["runs"]] == [
        r["steps"]["loss"] for r in document["naive"]["runs"]
    ]


def test_every_figure_of_the_chapters_draws_from_the_results(quick):
    experiments, _, document = quick
    figures = [
        experiments.draw_overfitting_curves(document["overfitting"]),
        experiments.draw_overfitting_losses(document["overfitting"]),
        experiments.draw_overfitting_bars(document["overfitting"]),
        experiments.draw_lr_losses(document["learning_rates"]),
        experiments.draw_lr_sweep(document["learning_rates"]),
        experiments.draw_optimizers(document["learning_rates"]),
        experiments.draw_naive_steps(document["naive"], last_step=10),
        experiments.draw_naive_outcome(document["naive"]),
        experiments.draw_naive_gradients(document["naive"]),
    ]
    for figure in figures:
        assert figure.axes and all(ax.has_data() for ax in figure.axes)


def lr_run(optimizer, lr, seed, accuracy, diverged=False):
    return {
        "optimizer": optimizer,
        "lr": lr,
        "seed": seed,
        "diverged_at_step": 3 if diverged else None,
        "steps_per_epoch": 2,
        "losses": [2.3, 2.0, 1.0, 0.5][: 3 if diverged else 4],
        "val_accuracy": [] if diverged else [accuracy / 2, accuracy],
        "test_accuracy": None if diverged else accuracy,
    }


def test_lr_summary_counts_a_diverged_run_as_chance_and_best_lr_skips_it():
    experiments = load_experiments()
    result = {
        "runs": [
            lr_run("sgd", 0.1, 0, 0.80),
            lr_run("sgd", 0.1, 1, 0.90),
            lr_run("sgd", 1.0, 0, 0.99),
            lr_run("sgd", 1.0, 1, 0.0, diverged=True),
        ]
    }
    rows = experiments.lr_summary(result)["sgd"]
    assert [row["lr"] for row in rows] == [0.1, 1.0]
    assert rows[0]["val_accuracy"][0] == pytest.approx(85.0)
    assert rows[0]["last_epoch_loss"][0] == pytest.approx(0.75)  # the last 2 steps' mean
    assert rows[1]["diverged"] == 1
    assert rows[1]["val_accuracy"][0] == pytest.approx((99.0 + 10.0) / 2)
    assert math.isinf(rows[1]["last_epoch_loss"][0])
    assert experiments.best_lr(rows)["lr"] == 0.1  # the diverged rate is never the best
