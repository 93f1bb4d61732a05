"""Files written before the library was split into layers (format version 1) still load,
predict the same, and resume bit for bit (``tests/io/data/README.md`` says how they were
made)."""

import json
from pathlib import Path

import numpy as np
import pytest

from neural_network import (
    Adam,
    Checkpoint,
    Cosine,
    EarlyStopping,
    LRSchedule,
    NeuralNetwork,
    Sequential,
    build_mlp,
    fit,
    load_model,
)
from neural_network.io.archive import read_archive, write_archive
from neural_network.io.model_files import read_model_file

DATA = Path(__file__).parent / "data"


def problem(seed=0, n_samples=80):
    data_rng = np.random.default_rng(seed)
    x = data_rng.normal(size=(n_samples, 10)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, labels


def run(checkpoint: Path | None = None, *, l2: float = 1e-3, epochs: int = 12, save_to=None):
    """The run that wrote ``checkpoint_v1.npz``, in today's API, resumed from ``checkpoint``
    (or from the start when it is None), writing checkpoints to ``save_to``."""
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, dropout=0.2, rng=rng)
    stopping = EarlyStopping(patience=3, monitor="val_loss")
    history = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01, l2=l2, clip_norm=5.0),
        epochs=epochs,
        batch_size=16,
        validation_data=problem(seed=7, n_samples=40),
        rng=rng,
        callbacks=[
            LRSchedule(Cosine(0.05, epochs=10, warmup_epochs=2)),
            stopping,
            Checkpoint(save_to, resume_from=checkpoint),
        ],
    )
    return model, history, stopping


def resume(checkpoint: Path, *, l2: float = 1e-3, epochs: int = 12):
    return run(checkpoint, l2=l2, epochs=epochs)


def version_1_copy(checkpoint: Path, path: Path) -> Path:
    """``checkpoint_v1.npz`` with the numbers of ``checkpoint`` (the same run after the same
    epoch, computed on this machine): version 1's layout, this processor's arithmetic."""
    old_metadata, old_arrays = read_archive((DATA / "checkpoint_v1.npz").read_bytes(), _all)
    metadata, arrays = read_archive(checkpoint.read_bytes(), _all)
    assert metadata["checkpoint"]["epoch"] == old_metadata["checkpoint"]["epoch"]
    section = old_metadata["checkpoint"]
    section["history"] = {
        key: values
        for key, values in metadata["checkpoint"]["history"].items()
        if key in section["history"]
    }
    section["early_stopping"]["best"] = metadata["checkpoint"]["callbacks"]["EarlyStopping"][
        "state"
    ]["best"]
    assert section["generators"] == metadata["checkpoint"]["generators"]
    arrays["early_stopping.best_values"] = arrays.pop("callbacks.EarlyStopping.best_values")
    assert set(arrays) == set(old_arrays)
    write_archive(path, old_metadata, arrays)
    return path


def _all(metadata, present):
    return present


def without_timings(history) -> dict:
    records = history.to_dict()
    for key in ("epoch_time", "threads", "step_time"):  # timings, and fields the file lacks
        records.pop(key)
    return records


def test_a_version_1_checkpoint_resumes_to_the_uninterrupted_run(tmp_path):
    """Bit for bit against the same run left uninterrupted on this machine: the checkpoint
    after epoch 4, written in version 1's layout, then resumed."""
    model, history, stopping = run()
    run(epochs=4, save_to=tmp_path / "after_4.npz")
    copy = version_1_copy(tmp_path / "after_4.npz", tmp_path / "v1.npz")
    assert read_model_file(copy).metadata["format_version"] == 1
    resumed, resumed_history, resumed_stopping = resume(copy)
    assert np.array_equal(resumed.flat.values, model.flat.values)
    assert without_timings(resumed_history) == without_timings(history)
    assert (resumed_stopping.best_epoch, resumed_stopping.wait, resumed_stopping.stopped) == (
        stopping.best_epoch,
        stopping.wait,
        stopping.stopped,
    )


def test_the_stored_version_1_checkpoint_resumes_near_the_stored_uninterrupted_run():
    """The file written elsewhere: another processor's float32 kernels round differently,
    so weights and losses agree to float32 rounding, not bit for bit."""
    assert read_model_file(DATA / "checkpoint_v1.npz").metadata["format_version"] == 1
    reference = json.loads((DATA / "checkpoint_v1_continued.json").read_text())
    model, history, stopping = resume(DATA / "checkpoint_v1.npz")
    np.testing.assert_allclose(
        model.flat.values, np.array(reference["weights"], dtype=np.float32), rtol=1e-4, atol=1e-5
    )
    records = without_timings(history)
    assert records.keys() == reference["history"].keys()
    for key, values in reference["history"].items():
        np.testing.assert_allclose(records[key], values, rtol=1e-4, atol=1e-6, err_msg=key)
    assert (stopping.best_epoch, stopping.wait, stopping.stopped) == tuple(
        reference["early_stopping"].values()
    )


def test_a_resumed_version_1_checkpoint_is_written_again_as_version_2(tmp_path):
    x, labels = problem()
    rng = np.random.default_rng(1)
    model = build_mlp(10, [16, 8], 3, dropout=0.2, rng=rng)
    path = tmp_path / "again.npz"
    fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01, l2=1e-3, clip_norm=5.0),
        epochs=5,
        batch_size=16,
        validation_data=problem(seed=7, n_samples=40),
        rng=rng,
        callbacks=[
            LRSchedule(Cosine(0.05, epochs=10, warmup_epochs=2)),
            EarlyStopping(patience=3, monitor="val_loss"),
            Checkpoint(path, resume_from=DATA / "checkpoint_v1.npz"),
        ],
    )
    metadata = read_model_file(path).metadata
    assert metadata["format_version"] == 2
    assert metadata["checkpoint"]["epoch"] == 5
    assert set(metadata["checkpoint"]["callbacks"]) == {"EarlyStopping"}


def test_a_version_1_checkpoint_refuses_a_run_with_other_settings():
    with pytest.raises(ValueError, match="optimizer"):
        resume(DATA / "checkpoint_v1.npz", l2=1e-2)


def test_a_version_1_checkpoint_loads_as_its_model():
    model = load_model(DATA / "checkpoint_v1.npz")
    assert isinstance(model, Sequential)
    assert model.n_features == 10 and model.n_classes == 3


@pytest.mark.parametrize(
    ("name", "kind"),
    [("sequential", Sequential), ("neural_network", NeuralNetwork), ("mlp_classifier", None)],
)
def test_version_1_model_files_load_and_predict_the_same(name, kind):
    predictions = json.loads((DATA / "predictions_v1.json").read_text())
    x = np.array(predictions["x"], dtype=np.float32)
    if kind is None:
        pytest.importorskip("sklearn")
    model = load_model(DATA / f"{name}_v1.npz")
    if kind is None:
        assert type(model).__name__ == "MLPClassifier"
        assert model.classes_.tolist() == predictions["mlp_classifier_classes"]
        probs = model.predict_proba(x)
    elif kind is NeuralNetwork:
        assert isinstance(model, NeuralNetwork)
        probs = model.predict_proba((np.abs(x) * 50).astype(np.float64).T).T
    else:
        assert isinstance(model, Sequential)
        probs = model.predict_proba(x)
    # Written on another processor: float32 matrix products round differently across BLAS
    # kernels (and the scaler's arithmetic), so the probabilities agree to float32 rounding,
    # and the classes exactly.
    expected = np.array(predictions[name], dtype=probs.dtype)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(
        probs.argmax(axis=-1 if kind is not NeuralNetwork else 0),
        expected.argmax(axis=-1 if kind is not NeuralNetwork else 0),
    )
