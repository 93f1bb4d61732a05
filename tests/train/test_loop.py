"""Behaviour of the training loop: L2, dropout, early stopping, History, determinism,
validation of ``fit``'s arguments, divergence, ``evaluate`` and callbacks."""

import math
import pickle
import re
import warnings

import numpy as np
import pytest

from neural_network import (
    SGD,
    Adam,
    Callback,
    Dropout,
    EarlyStopping,
    History,
    LRSchedule,
    ProgressBar,
    StepDecay,
    TrainingDivergedError,
    build_mlp,
    evaluate,
    fit,
    log_softmax,
)
from neural_network.core.losses import HalfSquaredError
from neural_network.train.loop import minibatches

N_FEATURES, N_CLASSES = 8, 3
HISTORY_FIELDS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "grad_norm",
    "epoch_time",
    "threads",
    "step_time",
)


def make_blobs(seed, n_samples=120, scale=1.0):
    """Three Gaussian blobs in ``N_FEATURES`` dimensions: (x float32, labels)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(N_CLASSES, N_FEATURES))
    labels = rng.integers(0, N_CLASSES, n_samples)
    x = centers[labels] + rng.normal(size=(n_samples, N_FEATURES))
    return (scale * x).astype(np.float32), labels


def make_model(seed=1, hidden=(16,), dropout=None):
    return build_mlp(N_FEATURES, list(hidden), N_CLASSES, dropout=dropout, rng=_rng(seed))


def _rng(seed):
    return np.random.default_rng(seed)


def train(seed=0, *, epochs=4, dropout=None, l2=0.0, **kwargs):
    """Train a fresh model whose init, dropout and shuffling all derive from ``seed``."""
    x, labels = make_blobs(0)
    model = make_model(seed, dropout=dropout)
    history = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01, l2=l2),
        epochs=epochs,
        batch_size=16,
        rng=_rng(seed + 100),
        **kwargs,
    )
    return model, history


class OnEpochEnd(Callback):
    """Calls ``function(run)`` after every epoch."""

    def __init__(self, function):
        self.function = function

    def on_epoch_end(self, run):
        self.function(run)


# --- L2 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer_cls", [SGD, Adam])
def test_more_l2_gives_smaller_weights(optimizer_cls):
    x, labels = make_blobs(0)
    norms = []
    for l2 in (0.0, 1e-2, 1e-1, 1.0):
        model = make_model(1)
        fit(
            model,
            x,
            labels,
            optimizer=optimizer_cls(model.flat, lr=0.05, l2=l2),
            epochs=20,
            batch_size=16,
            rng=_rng(2),
        )
        norms.append(float(np.linalg.norm(model.flat.decayed_values)))
    assert (np.diff(norms) < 0).all(), norms


def test_l2_decays_weights_not_biases_in_one_step():
    """One full-batch SGD step from the same start: L2 adds ``0.5*l2*sum(W**2)`` to the loss
    and ``lr*l2*W`` to the weights' update, and leaves biases exactly alone."""
    x, labels = make_blobs(0, n_samples=32)
    lr, l2 = 0.1, 0.5
    runs = {}
    for strength in (0.0, l2):
        model = make_model(1)
        for p in model.parameters():
            if not p.decay:
                p.value[...] = 1.0  # biases that a decay would visibly shrink
        start = model.flat.values.copy()
        history = fit(
            model,
            x,
            labels,
            optimizer=SGD(model.flat, lr=lr, l2=strength),
            epochs=1,
            batch_size=len(x),
            rng=_rng(0),
        )
        runs[strength] = (model.flat.values.copy(), history.train_loss[0])
    (plain, plain_loss), (decayed, decayed_loss) = runs[0.0], runs[l2]
    n_decay = model.flat.n_decay
    weights = start[:n_decay].astype(np.float64)
    np.testing.assert_array_equal(decayed[n_decay:], plain[n_decay:])
    np.testing.assert_allclose(
        decayed[:n_decay], plain[:n_decay] - lr * l2 * weights, rtol=1e-5, atol=1e-6
    )
    assert decayed_loss - plain_loss == pytest.approx(0.5 * l2 * weights @ weights, rel=1e-5)


def test_l2_penalty_is_part_of_the_train_loss():
    _, history = train(epochs=1, l2=0.0)
    _, history_l2 = train(epochs=1, l2=1e-2)
    assert history_l2.train_loss[0] > history.train_loss[0]


# --- Dropout --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_is_identity_at_inference(rate):
    layer = Dropout(rate, rng=_rng(0))
    x = _rng(1).normal(size=(50, 20)).astype(np.float32)
    out = layer.forward(x, training=False)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_dropout_is_inverted_while_training(rate):
    layer = Dropout(rate, rng=_rng(0))
    x = np.ones((400, 250), dtype=np.float32)
    out = layer.forward(x, training=True)
    dropped = out == 0
    assert dropped.mean() == pytest.approx(rate, abs=0.01)
    np.testing.assert_allclose(out[~dropped], 1.0 / (1.0 - rate), rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.03)
    assert out.dtype == x.dtype
    # The gradient flows through the same mask, with the same scale.
    grad_in = layer.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(grad_in, 2.0 * out)


def test_dropout_does_not_touch_its_input():
    layer = Dropout(0.5, rng=_rng(0))
    x = np.ones((10, 10), dtype=np.float32)
    layer.forward(x, training=True)
    np.testing.assert_array_equal(x, 1.0)


def test_model_with_dropout_predicts_deterministically():
    model = make_model(0, hidden=(32, 32), dropout=0.5)
    twin = make_model(0, hidden=(32, 32), dropout=None)
    x, _ = make_blobs(3, n_samples=40)
    first = model.predict_proba(x)
    np.testing.assert_array_equal(first, model.predict_proba(x))
    # Same seed, same weights: dropout layers change nothing at inference.
    np.testing.assert_array_equal(model.flat.values, twin.flat.values)
    np.testing.assert_array_equal(first, twin.predict_proba(x))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_dropout_rejects_rates_outside_unit_interval(rate):
    with pytest.raises(ValueError, match="rate"):
        Dropout(rate)


# --- EarlyStopping as a state machine -------------------------------------------------------


def feed(stopper, values):
    """Feed ``values`` as epochs 1, 2, ...; return the epoch at which it said stop (or None)."""
    for epoch, value in enumerate(values, start=1):
        if stopper.update(value, epoch):
            return epoch
    return None


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
def test_early_stopping_stops_exactly_after_patience_epochs(patience):
    values = [1.0, 0.8, 0.5] + [0.6 + 0.01 * i for i in range(patience + 3)]
    stopper = EarlyStopping(patience=patience)
    assert feed(stopper, values) == 3 + patience
    assert stopper.stopped
    assert stopper.best == 0.5
    assert stopper.best_epoch == 3


def test_early_stopping_improvement_resets_the_count():
    stopper = EarlyStopping(patience=3)
    assert feed(stopper, [1.0, 1.1, 1.2, 0.5, 0.6, 0.7]) is None
    assert stopper.best_epoch == 4
    assert stopper.wait == 2
    assert stopper.update(0.8, 7)


def test_early_stopping_never_stops_while_improving():
    stopper = EarlyStopping(patience=1)
    assert feed(stopper, [1.0 / k for k in range(1, 30)]) is None
    assert not stopper.stopped


def test_early_stopping_respects_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    # 0.95 and 0.92 are lower, but not by more than min_delta: no improvement, so training
    # stops; the best epoch is still the lowest one (min_delta only decides when to stop).
    assert feed(stopper, [1.0, 0.95, 0.92]) == 3
    assert stopper.best == 0.92
    assert stopper.best_epoch == 3

    stopper = EarlyStopping(patience=2, min_delta=0.1)
    # 0.8 beats the best before it (0.95) by more than min_delta: patience starts again.
    assert feed(stopper, [1.0, 0.95, 0.8, 0.79]) is None
    assert stopper.best == 0.79
    assert stopper.best_epoch == 4


def test_early_stopping_never_counts_nan_as_improvement():
    stopper = EarlyStopping(patience=2)
    assert feed(stopper, [1.0, math.nan, math.nan]) == 3
    assert stopper.best == 1.0

    stopper = EarlyStopping(patience=2, monitor="val_accuracy")
    assert feed(stopper, [math.nan, math.nan]) == 2
    assert stopper.best_epoch == 0


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [
        ("val_loss", "min"),
        ("train_loss", "min"),
        ("val_accuracy", "max"),
        ("train_accuracy", "max"),
    ],
)
def test_early_stopping_mode_follows_the_monitor(monitor, mode):
    assert EarlyStopping(monitor=monitor).mode == mode


def test_early_stopping_maximises_accuracies():
    stopper = EarlyStopping(patience=2, monitor="val_accuracy")
    assert feed(stopper, [0.5, 0.6, 0.55, 0.58, 0.7]) == 4
    assert stopper.best == 0.6
    assert stopper.best_epoch == 2

    stopper = EarlyStopping(patience=2, monitor="val_accuracy", min_delta=0.05)
    assert feed(stopper, [0.5, 0.53, 0.54]) == 3  # too small a rise to go on ...
    assert stopper.best == 0.54  # ... but the best epoch is still the highest


def test_early_stopping_restore_copies_back_the_best_weights():
    stopper = EarlyStopping(patience=2)
    weights = np.zeros(5, dtype=np.float32)
    snapshots = {}
    for epoch, value in enumerate([1.0, 0.5, 0.7, 0.9], start=1):
        weights[...] = epoch  # the "training" of this epoch
        snapshots[epoch] = weights.copy()
        stop = stopper.update(value, epoch, weights)
    assert stop
    weights[...] = -1.0  # the kept copy must not alias the live buffer
    buffer = weights
    assert stopper.restore(weights)
    assert weights is buffer
    np.testing.assert_array_equal(weights, snapshots[2])


def test_early_stopping_restore_is_a_no_op_without_best_weights():
    weights = np.arange(4, dtype=np.float32)
    assert not EarlyStopping().restore(weights)

    stopper = EarlyStopping(patience=1, restore_best=False)
    stopper.update(1.0, 1, weights.copy())
    assert not stopper.restore(weights)
    np.testing.assert_array_equal(weights, np.arange(4))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"patience": 0}, "patience"),
        ({"patience": -1}, "patience"),
        ({"patience": 1.5}, "patience"),
        ({"min_delta": -0.1}, "min_delta"),
        ({"min_delta": math.nan}, "min_delta"),
        ({"monitor": "loss"}, "monitor"),
    ],
)
def test_early_stopping_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def noisy_task(seed=0):
    """Few training samples with half their labels replaced at random, and a clean
    validation set from the same blobs: validation loss falls, then rises as the
    network memorises the noise."""
    rng = _rng(seed)
    centers = rng.normal(scale=1.5, size=(N_CLASSES, 10))

    def draw(n_samples, noise):
        labels = rng.integers(0, N_CLASSES, n_samples)
        x = centers[labels] + rng.normal(size=(n_samples, 10))
        noisy = rng.random(n_samples) < noise
        labels = np.where(noisy, rng.integers(0, N_CLASSES, n_samples), labels)
        return x.astype(np.float32), labels

    return draw(40, 0.5), draw(300, 0.0)


def test_fit_stops_early_and_restores_the_best_epoch():
    (x, labels), validation = noisy_task()
    model = build_mlp(10, [64], N_CLASSES, rng=_rng(4))
    snapshots = {}

    def snapshot(run):
        snapshots[run.epoch] = model.flat.values.copy()

    stopper = EarlyStopping(patience=3)
    epochs = 200
    history = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01),
        epochs=epochs,
        batch_size=8,
        validation_data=validation,
        rng=_rng(5),
        callbacks=[OnEpochEnd(snapshot), stopper],
    )
    best = stopper.best_epoch
    assert stopper.stopped
    assert len(history) < epochs
    assert best == int(np.argmin(history.val_loss)) + 1
    assert len(history) == best + stopper.patience
    assert 1 < best < len(history)
    np.testing.assert_array_equal(model.flat.values, snapshots[best])
    assert not np.array_equal(model.flat.values, snapshots[len(history)])
    # The restored weights give back the best epoch's validation loss.
    assert evaluate(model, *validation)[0] == pytest.approx(min(history.val_loss), rel=1e-6)


# --- History --------------------------------------------------------------------------------


def test_history_has_one_entry_per_epoch_for_every_field():
    x_val, labels_val = make_blobs(7, n_samples=50)
    schedule = StepDecay(0.1, factor=0.5, every=2)
    epochs = 5
    _, history = train(
        epochs=epochs, callbacks=[LRSchedule(schedule)], validation_data=(x_val, labels_val)
    )
    assert len(history) == epochs
    records = history.to_dict()
    assert set(records) == set(HISTORY_FIELDS)
    for name in HISTORY_FIELDS:
        assert len(records[name]) == epochs, name
    assert history.epoch == [1, 2, 3, 4, 5]
    assert history.lr == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    assert history.lr == [schedule(i) for i in range(epochs)]
    for name in ("train_accuracy", "val_accuracy"):
        assert all(0.0 <= a <= 1.0 for a in records[name]), name
    for name in ("train_loss", "val_loss", "grad_norm", "epoch_time"):
        assert all(math.isfinite(v) and v > 0 for v in records[name]), name
    last = history.last()
    assert last["epoch"] == epochs
    assert last["lr"] == pytest.approx(0.025)


def test_history_without_validation_leaves_val_fields_empty():
    _, history = train(epochs=3)
    assert len(history) == 3
    assert history.val_loss == []
    assert history.val_accuracy == []
    assert math.isnan(history.last()["val_loss"])


def test_history_without_schedule_records_the_optimizer_lr():
    _, history = train(epochs=2)
    assert history.lr == [0.01, 0.01]


# --- Determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize("dropout", [None, 0.3])
def test_same_seed_gives_bit_identical_runs(dropout):
    validation = make_blobs(7, n_samples=50)
    model_a, history_a = train(3, dropout=dropout, validation_data=validation, l2=1e-3)
    model_b, history_b = train(3, dropout=dropout, validation_data=validation, l2=1e-3)
    assert np.array_equal(model_a.flat.values, model_b.flat.values)
    assert history_a.train_loss == history_b.train_loss
    assert history_a.val_loss == history_b.val_loss
    assert history_a.grad_norm == history_b.grad_norm


def test_different_seed_gives_a_different_run():
    model_a, history_a = train(3)
    model_b, history_b = train(4)
    assert not np.array_equal(model_a.flat.values, model_b.flat.values)
    assert history_a.train_loss != history_b.train_loss


def test_shuffling_seed_alone_changes_the_run():
    x, labels = make_blobs(0)
    results = []
    for shuffle_seed in (0, 1):
        model = make_model(1)
        fit(
            model,
            x,
            labels,
            optimizer=SGD(model.flat, lr=0.05),
            epochs=2,
            batch_size=16,
            rng=_rng(shuffle_seed),
        )
        results.append(model.flat.values.copy())
    assert not np.array_equal(*results)


class RecordBatches(Callback):
    """Keeps a copy of every training batch the loop forms."""

    def __init__(self):
        self.batches = []

    def on_batch_begin(self, x_batch, run):
        self.batches.append(x_batch.copy())
        return x_batch


def test_shuffle_false_takes_the_data_in_order_and_leaves_the_generator_alone():
    x, labels = make_blobs(0, n_samples=40)
    model = make_model(1)
    rng = _rng(7)
    state = rng.bit_generator.state
    recorder = RecordBatches()
    fit(
        model, x, labels, optimizer=SGD(model.flat, lr=0.05), epochs=2, batch_size=16,
        rng=rng, callbacks=[recorder], shuffle=False,
    )  # fmt: skip
    in_order = [x[0:16], x[16:32], x[32:40]]
    assert len(recorder.batches) == 6
    for got, expected in zip(recorder.batches, in_order * 2, strict=True):
        np.testing.assert_array_equal(got, expected)
    assert rng.bit_generator.state == state


def test_shuffle_true_is_the_default_run_bit_for_bit():
    default_model, default_history = train(seed=3, epochs=2)
    model, history = train(seed=3, epochs=2, shuffle=True)
    np.testing.assert_array_equal(model.flat.values, default_model.flat.values)
    assert history.train_loss == default_history.train_loss
    unshuffled, _ = train(seed=3, epochs=2, shuffle=False)
    assert not np.array_equal(unshuffled.flat.values, default_model.flat.values)


def test_fit_refuses_a_shuffle_that_is_not_a_bool():
    with pytest.raises(ValueError, match="shuffle must be True or False; got 'no'"):
        train(epochs=1, shuffle="no")


def test_minibatches_cover_every_sample_once():
    batches = list(minibatches(10, 4, _rng(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))
    np.testing.assert_array_equal(np.concatenate(list(minibatches(10, 4))), np.arange(10))


# --- Validation of fit's arguments ----------------------------------------------------------


def _fit_kwargs():
    x, labels = make_blobs(0, n_samples=30)
    model = make_model(1)
    return {
        "model": model,
        "x": x,
        "labels": labels,
        "optimizer": Adam(model.flat, lr=0.01),
        "epochs": 1,
        "batch_size": 8,
    }


def _with_nan(kwargs):
    x = kwargs["x"].copy()
    x[3, 2] = np.nan
    return {**kwargs, "x": x}


def _with_inf(kwargs):
    x = kwargs["x"].copy()
    x[0, 0] = np.inf
    return {**kwargs, "x": x}


def _with_label(kwargs, value):
    labels = kwargs["labels"].copy()
    labels[0] = value
    return {**kwargs, "labels": labels}


def _with_bad_validation(kwargs):
    x_val = kwargs["x"][:5].copy()
    x_val[0, 0] = np.nan
    return {**kwargs, "validation_data": (x_val, kwargs["labels"][:5])}


FIT_ERRORS = {
    "epochs zero": (lambda k: {**k, "epochs": 0}, r"epochs .*got 0"),
    "epochs negative": (lambda k: {**k, "epochs": -1}, r"epochs .*got -1"),
    "epochs float": (lambda k: {**k, "epochs": 2.5}, r"epochs .*got 2\.5"),
    "batch_size zero": (lambda k: {**k, "batch_size": 0}, r"batch_size .*got 0"),
    "batch_size negative": (lambda k: {**k, "batch_size": -4}, r"batch_size .*got -4"),
    "feature count": (
        lambda k: {**k, "x": k["x"][:, :5]},
        r"5 features but the model expects 8",
    ),
    "x not 2-D": (lambda k: {**k, "x": k["x"][0]}, r"x must be 2-D"),
    "labels length": (lambda k: {**k, "labels": k["labels"][:-1]}, r"labels .*one entry per row"),
    "label too large": (lambda k: _with_label(k, N_CLASSES), r"labels must lie in \[0, 3\)"),
    "label negative": (lambda k: _with_label(k, -1), r"labels must lie in \[0, 3\)"),
    "labels not integers": (
        lambda k: {**k, "labels": k["labels"] + 0.5},
        r"labels must be integer class ids",
    ),
    "nan in x": (_with_nan, r"x holds NaN or infinite"),
    "inf in x": (_with_inf, r"x holds NaN or infinite"),
    "nan in validation": (_with_bad_validation, r"validation x holds NaN"),
    "early stopping without validation": (
        lambda k: {**k, "callbacks": [EarlyStopping(monitor="val_loss")]},
        r"early stopping monitors 'val_loss' but no validation_data",
    ),
    "optimizer of another model": (
        lambda k: {**k, "optimizer": Adam(make_model(2).flat, lr=0.01)},
        r"optimizer was not built on this model",
    ),
}


@pytest.mark.parametrize("case", list(FIT_ERRORS))
def test_fit_rejects_bad_arguments(case):
    change, match = FIT_ERRORS[case]
    kwargs = change(_fit_kwargs())
    model = kwargs.pop("model")
    before = model.flat.values.copy()
    with pytest.raises(ValueError, match=match):
        fit(model, kwargs.pop("x"), kwargs.pop("labels"), **kwargs)
    np.testing.assert_array_equal(model.flat.values, before)


def test_fit_accepts_early_stopping_on_train_metrics_without_validation():
    _, history = train(epochs=2, callbacks=[EarlyStopping(monitor="train_loss")])
    assert len(history) == 2


def test_fit_accepts_whole_float_labels():
    x, labels = make_blobs(0, n_samples=30)
    model = make_model(1)
    history = fit(
        model,
        x,
        labels.astype(np.float64),
        optimizer=SGD(model.flat, lr=0.01),
        epochs=1,
        rng=_rng(0),
    )
    assert len(history) == 1


# --- Divergence -----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:x looks unscaled")  # huge inputs on purpose
def test_the_divergence_error_pickles_with_its_message_and_fields():
    error = TrainingDivergedError(2, 5, math.nan, 3.0, largest_weight=1e300)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is TrainingDivergedError and str(copy) == str(error)
    assert (copy.epoch, copy.step, copy.grad_norm) == (2, 5, 3.0) and math.isnan(copy.loss)


def test_divergence_raises_and_keeps_finite_weights():
    x, labels = make_blobs(0, scale=1000.0)
    model = make_model(1)
    optimizer = SGD(model.flat, lr=1e3)
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDivergedError) as info:
        fit(model, x, labels, optimizer=optimizer, epochs=20, batch_size=16, rng=_rng(2))
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert re.search(rf"epoch {error.epoch}, step {error.step}\b", str(error))
    assert error.epoch >= 1
    assert error.step >= 1
    assert not (math.isfinite(error.loss) and math.isfinite(error.grad_norm))
    assert np.isfinite(model.flat.values).all()


@pytest.mark.filterwarnings("ignore:x looks unscaled")  # huge inputs on purpose
def test_divergence_restores_the_best_weights_when_early_stopping_tracks_them():
    x, labels = make_blobs(0, scale=100.0)
    model = make_model(1)
    snapshots = {}
    stopper = EarlyStopping(patience=5, monitor="train_loss")

    def snapshot(run):
        snapshots[run.epoch] = model.flat.values.copy()

    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDivergedError) as info:
        fit(
            model,
            x,
            labels,
            optimizer=SGD(model.flat, lr=1e-4),
            epochs=10,
            batch_size=16,
            rng=_rng(2),
            # A sane lr for two epochs, then an absurd one.
            callbacks=[
                LRSchedule(lambda epoch: 1e-4 if epoch < 2 else 1e3),
                OnEpochEnd(snapshot),
                stopper,
            ],
        )
    assert info.value.epoch >= 3
    assert stopper.best_epoch in (1, 2)
    np.testing.assert_array_equal(model.flat.values, snapshots[stopper.best_epoch])


# --- evaluate -------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 7, 2048])
def test_evaluate_matches_a_manual_computation(batch_size):
    model = make_model(3, hidden=(16, 16), dropout=0.5)
    x, labels = make_blobs(5, n_samples=50)
    loss, accuracy = evaluate(model, x, labels, batch_size=batch_size)

    logits = model.forward(x, training=False).astype(np.float64)
    log_probs = log_softmax(logits)
    expected_loss = -log_probs[np.arange(len(labels)), labels].mean()
    expected_accuracy = np.mean(logits.argmax(axis=1) == labels)
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    assert accuracy == expected_accuracy
    assert isinstance(loss, float)
    assert isinstance(accuracy, float)


def test_evaluate_ignores_l2_and_matches_history():
    validation = make_blobs(7, n_samples=50)
    model, history = train(epochs=2, validation_data=validation, l2=0.1)
    assert evaluate(model, *validation) == (history.val_loss[-1], history.val_accuracy[-1])


# --- Callbacks and continued runs -----------------------------------------------------------


def test_callbacks_run_once_per_epoch_in_order():
    calls = []
    epochs = 4

    def first(run):
        calls.append(("first", run.epoch, len(run.history)))

    def second(run):
        calls.append(("second", run.epoch, len(run.history)))

    train(epochs=epochs, callbacks=[OnEpochEnd(first), OnEpochEnd(second)])
    expected = []
    for epoch in range(1, epochs + 1):
        expected += [("first", epoch, epoch), ("second", epoch, epoch)]
    assert calls == expected


def test_history_argument_continues_a_run():
    x, labels = make_blobs(0)
    schedule = StepDecay(0.02, factor=0.5, every=2)

    def run(splits):
        model = make_model(1)
        optimizer = Adam(model.flat, lr=0.02)
        rng = _rng(9)
        history, seen = History(), []
        for epochs in splits:
            returned = fit(
                model,
                x,
                labels,
                optimizer=optimizer,
                epochs=epochs,
                batch_size=16,
                rng=rng,
                history=history,
                callbacks=[
                    LRSchedule(schedule),
                    OnEpochEnd(lambda run: seen.append(run.epoch)),
                ],
            )
            assert returned is history
        return model, history, seen

    model, history, seen = run([3, 5])
    assert len(history) == 5
    assert history.epoch == [1, 2, 3, 4, 5]
    assert seen == [1, 2, 3, 4, 5]
    assert history.lr == [schedule(i) for i in range(5)]
    # Same optimiser and generator: splitting the run changes nothing.
    model_once, history_once, _ = run([5])
    np.testing.assert_array_equal(model.flat.values, model_once.flat.values)
    assert history.train_loss == history_once.train_loss


def test_history_already_complete_trains_nothing():
    model, history = train(epochs=2)
    before = model.flat.values.copy()
    x, labels = make_blobs(0)
    again = fit(
        model,
        x,
        labels,
        optimizer=Adam(model.flat, lr=0.01),
        epochs=2,
        history=history,
        rng=_rng(0),
    )
    assert len(again) == 2
    np.testing.assert_array_equal(model.flat.values, before)


def test_progress_bar_goes_to_stderr_and_quiet_runs_print_nothing(capsys):
    train(epochs=2)
    assert capsys.readouterr() == ("", "")
    train(epochs=2, callbacks=[ProgressBar()], validation_data=make_blobs(7, n_samples=20))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2/2" in captured.err
    assert "val_acc=" in captured.err


def test_fit_warns_once_when_inputs_look_unscaled():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (64, 784)).astype(np.float32)  # raw 0-255 values
    labels = rng.integers(0, 10, 64)
    model = build_mlp(784, [8], 10, rng=np.random.default_rng(0))
    with pytest.warns(UserWarning, match=r"looks unscaled.*far outside \[0, 1\].*by 255") as seen:
        fit(model, pixels, labels, optimizer=Adam(model.flat), epochs=3, rng=rng)
    assert sum("unscaled" in str(w.message) for w in seen) == 1
    # Scaled pixels, and standardised features with a few large values, do not warn.
    standardised = rng.standard_normal((64, 784)).astype(np.float32)
    standardised[0, :5] = 200.0
    for x in (pixels / 255.0, standardised):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit(model, x, labels, optimizer=Adam(model.flat), epochs=1, rng=rng)


def test_fit_makes_no_copy_of_the_training_set():
    # Checks on the whole set (the unscaled-input warning, say) must not copy it: on MNIST a
    # float32 copy is 188 MB more at the peak.
    import tracemalloc

    rng = np.random.default_rng(0)
    x = rng.random((20000, 784), dtype=np.float32)
    labels = rng.integers(0, 10, 20000)
    model = build_mlp(784, [], 10, rng=rng)
    optimizer = Adam(model.flat, lr=1e-3)
    tracemalloc.start()
    try:
        fit(model, x, labels, optimizer=optimizer, epochs=1, batch_size=500, rng=rng, threads=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 2


def test_features_beyond_float32_are_reported_as_such_not_as_nan(rng):
    model = build_mlp(4, [8], 3, rng=rng)
    x = rng.normal(size=(20, 4)) * 1e40  # finite in float64; was "x holds NaN or infinite"
    expected = r"x holds values beyond the model's float32 \(largest magnitude \d"
    with pytest.raises(ValueError, match=expected):
        fit(model, x, rng.integers(0, 3, 20), optimizer=Adam(model.flat), epochs=1, rng=rng)


def test_targets_beyond_float32_are_reported_as_such_not_as_a_divergence(rng):
    model = build_mlp(4, [8], 1, rng=rng)
    targets = rng.normal(size=20) * 1e40  # was "Training diverged ...; try a smaller lr"
    with pytest.raises(ValueError, match="targets hold values beyond the model's float32"):
        fit(
            model,
            rng.normal(size=(20, 4)),
            targets,
            optimizer=Adam(model.flat),
            epochs=1,
            rng=rng,
            loss=HalfSquaredError(),
        )


def test_weights_that_overflow_before_any_update_do_not_blame_the_lr(rng):
    model = build_mlp(4, [8], 3, rng=rng)
    model.flat.values[:] = 3e38
    before = model.flat.values.copy()
    with (
        np.errstate(over="ignore", invalid="ignore"),
        pytest.raises(TrainingDivergedError, match="could not start") as raised,
    ):
        fit(
            model,
            rng.normal(size=(20, 4)),
            rng.integers(0, 3, 20),
            optimizer=Adam(model.flat),
            epochs=1,
            rng=rng,
        )
    assert "a smaller lr would not help" in str(raised.value) and "3e+38" in str(raised.value)
    np.testing.assert_array_equal(model.flat.values, before)
