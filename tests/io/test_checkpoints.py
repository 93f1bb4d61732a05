"""Checkpoints: a resumed run equals an uninterrupted one, kills never leave a bad file, and a
diverging run keeps finite weights and never checkpoints NaNs."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import neural_network
from neural_network import (
    SGD,
    Adam,
    Callback,
    Checkpoint,
    Cosine,
    EarlyStopping,
    History,
    LRSchedule,
    ModelFileError,
    NeuralNetwork,
    Sequential,
    TimeBudget,
    TrainingDivergedError,
    TrainingRun,
    build_mlp,
    fit,
    load_model,
    one_hot_encode,
)
from neural_network.io.archive import write_archive
from neural_network.io.checkpoints import save_checkpoint
from neural_network.io.model_files import parameter_arrays, read_model_file


class Interrupted(Exception):
    """Stands in for a crash between two epochs."""


class InterruptAt(Callback):
    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, run) -> None:
        if run.epoch == self.epoch:
            raise Interrupted


def interrupt_at(epoch: int) -> Callback:
    return InterruptAt(epoch)


def problem(seed: int = 0, n_samples: int = 80):
    data_rng = np.random.default_rng(seed)
    x = data_rng.normal(size=(n_samples, 10)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, labels


def train(
    path: Path | None,
    *,
    epochs: int = 7,
    resume: bool = False,
    callbacks=(),
    dropout: float | None = None,
    shared_rng: bool = True,
    optimizer: str = "adam",
    early_stopping: bool = False,
    schedule: bool = False,
    checkpoint_every: int = 1,
):
    """Build the same model from seeds and train it; return model, History, optimiser, ES."""
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, dropout=dropout, rng=rng)
    fit_rng = rng if shared_rng else np.random.default_rng(2)
    settings = {"l2": 1e-3, "clip_norm": 5.0}
    if optimizer == "adam":
        opt = Adam(model.flat, lr=0.01, **settings)
    else:
        opt = SGD(model.flat, lr=0.05, **settings)
    stopping = EarlyStopping(patience=2, monitor="val_loss") if early_stopping else None
    callbacks = list(callbacks)
    if schedule:
        callbacks.append(LRSchedule(Cosine(0.05, epochs=10, warmup_epochs=2)))
    if stopping is not None:
        callbacks.append(stopping)
    if path is not None:
        resume_from = path if resume else None
        callbacks.append(Checkpoint(path, every=checkpoint_every, resume_from=resume_from))
    history = fit(
        model,
        x,
        labels,
        optimizer=opt,
        epochs=epochs,
        batch_size=16,
        validation_data=problem(seed=7, n_samples=40) if early_stopping else None,
        rng=fit_rng,
        callbacks=callbacks,
    )
    return model, history, opt, stopping


def same_history(a, b) -> bool:
    timings = {"epoch_time": 0, "step_time": 0, "threads": 0}  # measured, not computed
    return a.to_dict() | timings == b.to_dict() | timings


def assert_same_run(resumed, reference) -> None:
    model, history, opt, stopping = resumed
    ref_model, ref_history, ref_opt, ref_stopping = reference
    assert np.array_equal(model.flat.values, ref_model.flat.values)
    assert same_history(history, ref_history)
    state, ref_state = opt.state_dict(), ref_opt.state_dict()
    assert state.keys() == ref_state.keys()
    assert all(np.array_equal(state[key], ref_state[key]) for key in state)
    assert opt.lr == ref_opt.lr
    if stopping is not None:
        assert (stopping.best, stopping.best_epoch, stopping.wait, stopping.stopped) == (
            ref_stopping.best,
            ref_stopping.best_epoch,
            ref_stopping.wait,
            ref_stopping.stopped,
        )


SCENARIOS = {
    "adam": {},
    "sgd-momentum": {"optimizer": "sgd"},
    "dropout-shared-rng": {"dropout": 0.3},
    "dropout-own-rng": {"dropout": 0.3, "shared_rng": False},
    "cosine-schedule": {"schedule": True, "dropout": 0.2},
    "every-2-epochs": {"checkpoint_every": 2, "dropout": 0.2},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("crash_epoch", [3, 5])
def test_resumed_run_equals_uninterrupted_run(tmp_path, scenario, crash_epoch):
    settings = SCENARIOS[scenario]
    reference = train(None, **settings)
    path = tmp_path / "run.ckpt"
    with pytest.raises(Interrupted):
        train(path, callbacks=[interrupt_at(crash_epoch)], **settings)
    every = settings.get("checkpoint_every", 1)
    assert (
        read_model_file(path).metadata["checkpoint"]["epoch"] == (crash_epoch - 1) // every * every
    )
    assert_same_run(train(path, resume=True, **settings), reference)


def test_resume_with_early_stopping_equals_uninterrupted_run(tmp_path):
    reference = train(None, epochs=40, early_stopping=True, dropout=0.2)
    stopped_at = len(reference[1])
    assert stopped_at < 40, "the scenario should stop early"
    assert reference[3].wait > 0 and reference[3].best_values is not None
    path = tmp_path / "run.ckpt"
    for crash_epoch in (2, stopped_at - 1, stopped_at):
        path.unlink(missing_ok=True)
        with pytest.raises(Interrupted):
            train(
                path,
                epochs=40,
                early_stopping=True,
                dropout=0.2,
                callbacks=[interrupt_at(crash_epoch)],
            )
        assert_same_run(
            train(path, epochs=40, resume=True, early_stopping=True, dropout=0.2), reference
        )


def test_resuming_a_stopped_run_trains_no_further(tmp_path):
    path = tmp_path / "run.ckpt"
    reference = train(path, epochs=40, early_stopping=True)
    assert reference[3].stopped
    assert_same_run(train(path, epochs=40, resume=True, early_stopping=True), reference)


def test_finished_run_can_be_extended(tmp_path):
    path = tmp_path / "run.ckpt"
    train(path, epochs=4, dropout=0.3)
    assert_same_run(
        train(path, epochs=9, resume=True, dropout=0.3), train(None, epochs=9, dropout=0.3)
    )


def test_checkpoint_is_written_every_k_epochs_and_at_the_end(tmp_path):
    path = tmp_path / "run.ckpt"
    epochs_seen = []

    class Record(Callback):
        def on_epoch_end(self, run):
            if path.exists():
                epochs_seen.append(read_model_file(path).metadata["checkpoint"]["epoch"])

    train(path, epochs=7, checkpoint_every=3, callbacks=[Record()])
    # A callback runs before that epoch's checkpoint is written.
    assert epochs_seen == [3, 3, 3, 6]
    assert read_model_file(path).metadata["checkpoint"]["epoch"] == 7
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]


def test_checkpoint_loads_as_a_model(tmp_path):
    path = tmp_path / "run.ckpt"
    model, *_ = train(path, epochs=3, dropout=0.1)
    loaded = load_model(path)
    assert isinstance(loaded, Sequential)
    x, _ = problem()
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))


def network(seed: int = 5) -> NeuralNetwork:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(10, 90)).astype(np.float64)
    y = one_hot_encode((X[0] > 128).astype(int) + (X[1] > 200), 3)
    X_test = rng.integers(0, 256, size=(10, 30)).astype(np.float64)
    y_test = one_hot_encode((X_test[0] > 128).astype(int) + (X_test[1] > 200), 3)
    return NeuralNetwork(X, y, X_test, y_test, num_labels=3, architecture=[12, 6], seed=seed)


def test_neural_network_resume_equals_uninterrupted_run(tmp_path):
    settings = {"lr": 0.01, "batch_size": 16, "dropout_keep": 0.8, "verbose": False}
    reference = network()
    reference.fit(epochs=8, early_stopping_patience=20, **settings)
    path = tmp_path / "net.ckpt"
    network().fit(epochs=3, early_stopping_patience=20, checkpoint_path=path, **settings)
    resumed = network()
    resumed.fit(
        epochs=8, early_stopping_patience=20, resume_from=path, checkpoint_path=path, **settings
    )
    assert np.array_equal(resumed.model.flat.values, reference.model.flat.values)
    assert same_history(resumed.history, reference.history)
    assert read_model_file(path).metadata["checkpoint"]["epoch"] == 8


# A checkpoint resumes only the run that wrote it


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    path = tmp_path / "run.ckpt"
    train(path, epochs=2, dropout=0.2)
    return path


def test_resume_refuses_other_settings(checkpoint):
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, dropout=0.2, rng=rng)
    kwargs = {
        "optimizer": Adam(model.flat, lr=0.01, l2=1e-3, clip_norm=5.0),
        "epochs": 4,
        "rng": rng,
        "callbacks": [Checkpoint(None, resume_from=checkpoint)],
    }
    with pytest.raises(ValueError, match="batch_size"):
        fit(model, x, labels, batch_size=32, **kwargs)
    with pytest.raises(ValueError, match="data"):
        fit(model, x[::-1], labels, batch_size=16, **kwargs)
    with pytest.raises(ValueError, match="data"):
        weights = np.linspace(1, 2, len(x))
        fit(model, x, labels, batch_size=16, sample_weight=weights, **kwargs)
    with pytest.raises(ValueError, match="optimizer"):
        fit(model, x, labels, **{**kwargs, "optimizer": SGD(model.flat, lr=0.01)}, batch_size=16)
    other_l2 = Adam(model.flat, lr=0.01, l2=1e-2, clip_norm=5.0)
    with pytest.raises(ValueError, match="optimizer"):
        fit(model, x, labels, **{**kwargs, "optimizer": other_l2}, batch_size=16)
    with_schedule = [LRSchedule(Cosine(0.01)), *kwargs["callbacks"]]
    with pytest.raises(ValueError, match=r"callbacks\.LRSchedule"):
        fit(model, x, labels, **{**kwargs, "callbacks": with_schedule}, batch_size=16)
    started = History(epoch=[1], train_loss=[1.0], train_accuracy=[0.5], lr=[0.01])
    started.grad_norm, started.epoch_time = [1.0], [0.1]
    with pytest.raises(ValueError, match="not both"):
        fit(model, x, labels, batch_size=16, history=started, **kwargs)
    assert np.array_equal(
        model.flat.values,
        build_mlp(10, [16, 8], 3, dropout=0.2, rng=np.random.default_rng(1)).flat.values,
    )


def test_resume_refuses_another_architecture_or_generator_sharing(checkpoint):
    with pytest.raises(ValueError, match="architecture"):
        train(checkpoint, resume=True, dropout=0.5)
    with pytest.raises(ValueError, match="shared its random generators"):
        train(checkpoint, resume=True, dropout=0.2, shared_rng=False)


def test_resume_refuses_a_plain_model_file(tmp_path):
    rng = np.random.default_rng(1)
    build_mlp(10, [16, 8], 3, rng=rng).save(tmp_path / "model")
    with pytest.raises(ModelFileError, match="not a training checkpoint"):
        train(tmp_path / "model", resume=True)


def test_resume_refuses_a_corrupt_checkpoint(checkpoint):
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 1
    checkpoint.write_bytes(data)
    with pytest.raises(ModelFileError, match="checksum"):
        train(checkpoint, resume=True, dropout=0.2)


def test_missing_checkpoint_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        train(tmp_path / "absent", resume=True)


def test_checkpoint_every_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="every must be a positive integer"):
        train(tmp_path / "c", checkpoint_every=0)


# Divergence


def diverge(path=None, early_stopping=None):
    x, labels = problem(n_samples=200)
    rng = np.random.default_rng(0)
    model = build_mlp(10, [32], 3, rng=rng)
    validation = problem(seed=3) if early_stopping is not None else None
    callbacks = [] if early_stopping is None else [early_stopping]
    if path is not None:
        callbacks.append(Checkpoint(path))
    with np.errstate(all="ignore"), pytest.raises(TrainingDivergedError) as info:
        fit(
            model,
            x,
            labels,
            optimizer=SGD(model.flat, lr=1e3),
            epochs=30,
            batch_size=32,
            rng=rng,
            validation_data=validation,
            callbacks=callbacks,
        )
    return model, info.value


def test_divergence_with_a_huge_lr_is_caught_and_keeps_finite_weights(tmp_path):
    model, error = diverge(tmp_path / "run.ckpt")
    assert error.epoch >= 1 and error.step >= 1
    assert f"epoch {error.epoch}, step {error.step}" in str(error)
    assert np.isfinite(model.flat.values).all()
    model.save(tmp_path / "after.npz")
    assert np.array_equal(load_model(tmp_path / "after.npz").flat.values, model.flat.values)
    if (tmp_path / "run.ckpt").exists():
        checkpoint = read_model_file(tmp_path / "run.ckpt")
        assert checkpoint.metadata["checkpoint"]["epoch"] < error.epoch
        assert np.isfinite(checkpoint.model.flat.values).all()


def test_divergence_restores_the_best_weights_when_early_stopping_kept_them():
    stopping = EarlyStopping(patience=50, monitor="train_loss")
    model, _ = diverge(early_stopping=stopping)
    if stopping.best_values is not None:
        assert np.array_equal(model.flat.values, stopping.best_values)
    assert np.isfinite(model.flat.values).all()


def test_checkpoint_is_never_written_from_non_finite_state(tmp_path):
    rng = np.random.default_rng(0)
    model = build_mlp(10, [8], 3, rng=rng)
    optimizer = Adam(model.flat)
    x, labels = problem()
    run = TrainingRun(model, optimizer, x, labels, None, 16, rng, History(), epochs=1)
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, run)
    before = path.read_bytes()
    for array in (model.flat.values, optimizer.m_sum):
        array[3] = np.nan
        with pytest.raises(ModelFileError, match="refusing to write"):
            save_checkpoint(path, run)
        array[3] = 0
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.ckpt"]


# Killed while checkpointing

CHILD = """
import json, sys
import numpy as np
from neural_network import Adam, Checkpoint, build_mlp, fit

path, epochs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data_rng = np.random.default_rng(0)
x = data_rng.normal(size=(64, 32)).astype(np.float32)
labels = data_rng.integers(0, 10, 64)
rng = np.random.default_rng(1)
# About 0.32 M parameters: with Adam's two moments a checkpoint is about 4 MB, so writing it
# takes a good part of each epoch.
model = build_mlp(32, [768, 384], 10, dropout=0.1, rng=rng)
checkpoint = Checkpoint(None if path == "-" else path,
                        resume_from=None if sys.argv[4] == "fresh" else path)
history = fit(model, x, labels, optimizer=Adam(model.flat, lr=1e-3), epochs=epochs,
              batch_size=32, rng=rng, callbacks=[checkpoint])
if out != "-":
    model.save(out + ".npz")
    with open(out + ".json", "w") as f:
        json.dump(history.to_dict(), f)
"""


def child_env() -> dict:
    src = str(Path(neural_network.__file__).resolve().parent.parent)
    pythonpath = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    # One BLAS thread in every child, so runs in different processes are bit-identical.
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    return {**os.environ, **threads, "PYTHONPATH": pythonpath}


def wait_until(condition, child: subprocess.Popen, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail if the child dies or time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "the training process made no progress"
        time.sleep(0.001)


def test_sigkill_while_checkpointing_always_leaves_a_loadable_checkpoint(tmp_path):
    """Kill a training process 20 times: half the kills at a random moment after the run's
    first new checkpoint, half a few milliseconds after its temporary file appears (most of
    those land mid-write). Every time, the checkpoint loads, and the last one resumes to
    exactly the weights and History of a run that was never interrupted."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    path = tmp_path / "run.ckpt"
    env = child_env()
    chooser = random.Random(20240601)
    mid_write, epochs_done = 0, []
    for kill in range(20):
        mode = "resume" if path.exists() else "fresh"
        previous = path.stat().st_ino if path.exists() else None
        child = subprocess.Popen(
            [sys.executable, str(script), str(path), "100000", "-", mode],
            env=env,
            stderr=subprocess.PIPE,
        )
        temp_prefix = f".run.ckpt.tmp-{child.pid}-"

        def writing(prefix=temp_prefix) -> bool:
            return any(name.startswith(prefix) for name in os.listdir(tmp_path))

        def replaced(previous=previous) -> bool:
            # os.replace gives the path a new inode.
            return path.exists() and path.stat().st_ino != previous

        if kill % 2:
            wait_until(writing, child)
            time.sleep(chooser.uniform(0.0, 0.01))
        else:
            wait_until(replaced, child)
            time.sleep(chooser.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stderr.close()
        temps = [name for name in os.listdir(tmp_path) if ".tmp-" in name]
        # Temporary files of earlier killed writers were removed by the next run.
        assert all(name.startswith(temp_prefix) for name in temps), temps
        mid_write += bool(temps)
        checkpoint = read_model_file(path)
        assert np.isfinite(checkpoint.model.flat.values).all()
        epochs_done.append(checkpoint.metadata["checkpoint"]["epoch"])
    assert epochs_done == sorted(epochs_done) and epochs_done[-1] > epochs_done[0]
    assert mid_write >= 1
    final_epochs = epochs_done[-1] + 2
    for out, mode in (("resumed", "resume"), ("reference", "fresh")):
        checkpoint_path = str(path) if mode == "resume" else "-"
        subprocess.run(
            [
                sys.executable,
                str(script),
                checkpoint_path,
                str(final_epochs),
                str(tmp_path / out),
                mode,
            ],
            env=env,
            check=True,
        )
    resumed = load_model(tmp_path / "resumed.npz")
    reference = load_model(tmp_path / "reference.npz")
    assert np.array_equal(resumed.flat.values, reference.flat.values)
    histories = [
        json.loads((tmp_path / f"{out}.json").read_text()) for out in ("resumed", "reference")
    ]
    for history in histories:
        for key in ("epoch_time", "step_time", "threads"):  # measured, not computed
            history.pop(key)
    assert histories[0] == histories[1]
    assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


# Every callback's state


class CountEpochs(Callback):
    """A callback with state of its own: how many epochs it has seen."""

    def __init__(self):
        self.count = 0

    def on_epoch_end(self, run):
        self.count += 1

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        if set(state) != {"count"} or type(state["count"]) is not int:
            raise ValueError(f"bad count state {state!r}")
        self.count = state["count"]


def test_a_callback_state_is_saved_and_restored_without_the_format_knowing_it(tmp_path):
    path = tmp_path / "run.ckpt"
    counter = CountEpochs()
    with pytest.raises(Interrupted):
        train(path, callbacks=[counter, interrupt_at(4)])
    section = read_model_file(path).metadata["checkpoint"]
    assert section["callbacks"]["CountEpochs"] == {"state": {"count": 3}, "arrays": []}
    resumed = CountEpochs()
    train(path, resume=True, callbacks=[resumed])
    assert resumed.count == 7  # 3 restored, then epochs 4 to 7


def test_resume_refuses_a_checkpoint_with_the_state_of_a_callback_the_run_lacks(tmp_path):
    path = tmp_path / "run.ckpt"
    train(path, epochs=2, callbacks=[CountEpochs()])
    with pytest.raises(ValueError, match="state of CountEpochs, which this run has no callback"):
        train(path, epochs=3, resume=True)


def test_resume_refuses_a_callback_state_the_callback_does_not_accept(tmp_path):
    path = tmp_path / "run.ckpt"
    train(path, epochs=2, callbacks=[CountEpochs()])
    model_file = read_model_file(path)
    model_file.metadata["checkpoint"]["callbacks"]["CountEpochs"]["state"]["count"] = "two"
    # Written again with the seal recomputed, as anyone who edits a file can.
    arrays = {**parameter_arrays(model_file.model), **model_file.checkpoint_arrays}
    write_archive(path, model_file.metadata, arrays)
    with pytest.raises(ModelFileError, match="bad count state"):
        train(path, epochs=3, resume=True, callbacks=[CountEpochs()])


def test_two_callbacks_of_one_class_keep_two_states(tmp_path):
    path = tmp_path / "run.ckpt"
    first, second = CountEpochs(), CountEpochs()
    second.count = 100
    train(path, epochs=2, callbacks=[first, second])
    states = read_model_file(path).metadata["checkpoint"]["callbacks"]
    assert states["CountEpochs"]["state"] == {"count": 2}
    assert states["CountEpochs_2"]["state"] == {"count": 102}


# A refused resume changes nothing


def stopping_run(path, *extra, resume=False, epochs=4):
    """A run with early stopping (which keeps best weights) and a checkpoint."""
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, rng=rng)
    stopper = EarlyStopping(patience=None, monitor="val_loss")
    checkpoint = Checkpoint(None if resume else path, resume_from=path if resume else None)
    fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01),
        epochs=epochs,
        batch_size=16,
        validation_data=problem(seed=7, n_samples=40),
        rng=rng,
        callbacks=[stopper, *extra, checkpoint],
    )
    return model, stopper


def edit_checkpoint(path, change):
    model_file = read_model_file(path)
    change(model_file.metadata["checkpoint"], model_file.checkpoint_arrays)
    arrays = {**parameter_arrays(model_file.model), **model_file.checkpoint_arrays}
    write_archive(path, model_file.metadata, arrays)


def fresh_weights():
    return build_mlp(10, [16, 8], 3, rng=np.random.default_rng(1)).flat.values.copy()


def test_a_resume_refused_for_a_missing_callback_leaves_the_weights_alone(tmp_path):
    path = tmp_path / "run.ckpt"
    stopping_run(path, TimeBudget(1e6))
    with pytest.raises(ValueError, match="TimeBudget, which this run has no callback for") as info:
        stopping_run(path, resume=True)
    assert not isinstance(info.value, ModelFileError)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda s, a: s["callbacks"]["TimeBudget"]["state"].update(spent=-1.0), "TimeBudget"),
        (lambda s, a: s["callbacks"]["TimeBudget"]["state"].update(spent=10**400), "TimeBudget"),
        (lambda s, a: a["optimizer.v_sum"].__setitem__(0, -1.0), "v_sum"),
        (lambda s, a: s["callbacks"]["EarlyStopping"]["state"].update(wait=-2), "EarlyStopping"),
    ],
)
def test_a_hostile_callback_or_optimizer_state_is_refused_before_anything_changes(
    tmp_path, change, match
):
    path = tmp_path / "run.ckpt"
    stopping_run(path, TimeBudget(1e6))
    edit_checkpoint(path, change)
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, rng=rng)
    stopper = EarlyStopping(patience=None, monitor="val_loss")
    with pytest.raises(ModelFileError, match=match):
        fit(
            model,
            x,
            labels,
            optimizer=Adam(model.flat, lr=0.01),
            epochs=5,
            batch_size=16,
            validation_data=problem(seed=7, n_samples=40),
            rng=rng,
            callbacks=[stopper, TimeBudget(1e6), Checkpoint(None, resume_from=path)],
        )
    np.testing.assert_array_equal(model.flat.values, fresh_weights())
    assert stopper.best_values is None and stopper.best_epoch == 0


def test_a_checkpoint_without_the_state_of_a_configured_callback_is_refused(tmp_path):
    path = tmp_path / "run.ckpt"
    stopping_run(path)

    def drop_early_stopping(section, arrays):
        del section["callbacks"]["EarlyStopping"]
        del arrays["callbacks.EarlyStopping.best_values"]

    edit_checkpoint(path, drop_early_stopping)
    with pytest.raises(ModelFileError, match="no state for EarlyStopping"):
        stopping_run(path, resume=True)


def test_a_schedule_that_reached_zero_can_be_resumed(tmp_path):
    path = tmp_path / "run.ckpt"
    train(path, epochs=3, callbacks=[LRSchedule(Cosine(0.05, epochs=3))])
    assert read_model_file(path).metadata["checkpoint"]["optimizer"]["lr"] == 0.0
    _, history, *_ = train(
        path, epochs=3, resume=True, callbacks=[LRSchedule(Cosine(0.05, epochs=3))]
    )
    assert history.lr[-1] == 0.0
