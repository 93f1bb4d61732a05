"""The classic API: ``NeuralNetwork`` and ``one_hot_encode``, samples in COLUMNS."""

import math
import re

import numpy as np
import pytest

import neural_network
from neural_network import NeuralNetwork, one_hot_encode

N_FEATURES, N_CLASSES = 6, 3
LOG_LINE = re.compile(
    r"^Epoch +(\d+) \| Cost \d+\.\d{4} \| Train \d+\.\d{2}% \| Test \d+\.\d{2}% "
    r"\| LR \d\.\d{2}e[-+]\d{2}$"
)


def make_columns(seed=0, n_samples=60):
    """Raw integer features (0..255) around fixed class centres, in columns, and one-hot
    labels: the classic layout. ``seed`` draws the noise only."""
    centers = np.random.default_rng(123).integers(40, 215, size=(N_CLASSES, N_FEATURES))
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % N_CLASSES
    x = centers[labels] + rng.integers(-40, 41, size=(n_samples, N_FEATURES))
    return x.T.astype(np.int64), one_hot_encode(labels, N_CLASSES)


def make_network(seed=0, **kwargs):
    X, y = make_columns(0)
    X_test, y_test = make_columns(1, n_samples=30)
    kwargs = {"activation": "relu", "num_labels": N_CLASSES, "architecture": [8], **kwargs}
    return NeuralNetwork(X, y, X_test, y_test, seed=seed, **kwargs)


QUIET = {"epochs": 3, "batch_size": 16, "verbose": False}


# --- one_hot_encode -------------------------------------------------------------------------


def test_one_hot_encode_puts_samples_in_columns():
    labels = [3, 0, 9, 3, 1]
    encoded = one_hot_encode(labels, 10)
    assert encoded.shape == (10, 5)
    assert encoded.dtype == np.float32
    assert encoded.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(encoded.sum(axis=0), 1.0)
    np.testing.assert_array_equal(encoded.argmax(axis=0), labels)


def test_one_hot_encode_accepts_a_column_of_labels():
    np.testing.assert_array_equal(one_hot_encode(np.array([[1], [0]]), 2), [[0, 1], [1, 0]])


@pytest.mark.parametrize(
    ("labels", "num_labels", "match"),
    [([0, 10], 10, r"\[0, 10\)"), ([-1], 10, r"\[0, 10\)"), ([0.5], 2, "integer")],
)
def test_one_hot_encode_rejects_bad_labels(labels, num_labels, match):
    with pytest.raises(ValueError, match=match):
        one_hot_encode(labels, num_labels)


# --- Constructor validation -----------------------------------------------------------------


def _replace(array, index, value):
    array = array.astype(np.float64)
    array[index] = value
    return array


def _constructor_args():
    X, y = make_columns(0)
    X_test, y_test = make_columns(1, n_samples=30)
    return {"X": X, "y": y, "X_test": X_test, "y_test": y_test, "num_labels": N_CLASSES}


CONSTRUCTOR_ERRORS = {
    "sample counts disagree": (
        lambda a: {**a, "y": a["y"][:, :-1]},
        r"X has 60 samples \(columns\) but y has 59",
    ),
    "one-hot in rows": (
        lambda a: {**a, "y": a["y"].T},
        r"y has shape \(60, 3\), one sample per row, but samples are columns in this API, "
        r"\(num_labels=3, n_samples\): pass y\.T",
    ),
    "wrong num_labels": (
        lambda a: {**a, "num_labels": 4},
        r"y must be one-hot with shape \(num_labels=4, n_samples\); got shape \(3, 60\)",
    ),
    "y 1-D class ids": (
        lambda a: {**a, "y": a["y"].argmax(axis=0)},
        r"y must be one-hot with shape",
    ),
    "y soft labels": (lambda a: {**a, "y": a["y"] * 0.5}, r"y must be one-hot: each column"),
    "y empty column": (
        lambda a: {**a, "y": _replace(a["y"], (slice(None), 4), 0.0)},
        r"y must be one-hot: each column",
    ),
    "y two ones": (
        lambda a: {**a, "y": _replace(a["y"], (slice(None), 4), 1.0)},
        r"y must be one-hot: each column",
    ),
    "y_test not one-hot": (
        lambda a: {**a, "y_test": a["y_test"] * 2},
        r"y_test must be one-hot: each column",
    ),
    "y_test sample count": (
        lambda a: {**a, "y_test": a["y_test"][:, :10]},
        r"X_test has 30 samples \(columns\) but y_test has 10",
    ),
    "X nan": (lambda a: {**a, "X": _replace(a["X"], (2, 7), np.nan)}, r"X holds NaN or infinite"),
    "X inf": (lambda a: {**a, "X": _replace(a["X"], (0, 0), np.inf)}, r"X holds NaN or infinite"),
    "X -inf": (
        lambda a: {**a, "X": _replace(a["X"], (5, 59), -np.inf)},
        r"X holds NaN or infinite",
    ),
    "X_test nan": (
        lambda a: {**a, "X_test": _replace(a["X_test"], (1, 1), np.nan)},
        r"X_test holds NaN or infinite",
    ),
    "X 1-D": (lambda a: {**a, "X": a["X"][0]}, r"X must be 2-D \(n_features, n_samples\)"),
    "X strings": (lambda a: {**a, "X": a["X"].astype(str)}, r"X must hold real numbers"),
    "X_test feature count": (
        lambda a: {**a, "X_test": a["X_test"][:5]},
        r"X_test has 5 features \(rows\) but the network expects 6",
    ),
    "X_test without y_test": (
        lambda a: {**a, "y_test": None},
        r"X_test and y_test must be given together",
    ),
    "y_test without X_test": (
        lambda a: {**a, "X_test": None},
        r"X_test and y_test must be given together",
    ),
    "num_labels zero": (lambda a: {**a, "num_labels": 0}, r"num_labels must be a positive"),
    "hidden size zero": (
        lambda a: {**a, "architecture": [8, 0]},
        r"hidden layer sizes must be positive",
    ),
}


@pytest.mark.parametrize("case", list(CONSTRUCTOR_ERRORS))
def test_constructor_rejects_bad_input(case):
    change, match = CONSTRUCTOR_ERRORS[case]
    with pytest.raises(ValueError, match=match):
        NeuralNetwork(**change(_constructor_args()))


@pytest.mark.parametrize("activation", ["softmax", "ReLU", "", None])
def test_unknown_activation_lists_the_valid_ones(activation):
    with pytest.raises(ValueError, match="Unknown activation") as info:
        NeuralNetwork(**_constructor_args(), activation=activation)
    message = str(info.value)
    for name in ("relu", "leaky_relu", "sigmoid", "tanh"):
        assert repr(name) in message


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh", "identity"])
def test_every_activation_trains(activation):
    network = make_network(activation=activation)
    history = network.fit(lr=1e-2, **QUIET)
    assert len(history) == QUIET["epochs"]
    assert all(math.isfinite(cost) for cost in network.costs)


def test_constructor_accepts_data_without_a_test_set():
    X, y = make_columns(0)
    network = NeuralNetwork(X, y, num_labels=N_CLASSES, architecture=[4], seed=0)
    network.fit(**QUIET)
    assert network.test_accuracies == []
    assert len(network.train_accuracies) == QUIET["epochs"]


# --- fit validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, r"epochs must be a positive integer; got 0"),
        ({"epochs": -1}, r"epochs must be a positive integer; got -1"),
        ({"epochs": 2.0}, r"epochs must be a positive integer; got 2\.0"),
        ({"batch_size": 0}, r"batch_size must be a positive integer; got 0"),
        ({"batch_size": -1}, r"batch_size must be a positive integer; got -1"),
        ({"lr": 0}, r"lr must be a positive number; got 0"),
        ({"lr": -1}, r"lr must be a positive number; got -1"),
        ({"lr": -1e-3}, r"lr must be a positive number"),
        ({"lr": math.nan}, r"lr must be a positive number"),
        ({"lr": math.inf}, r"lr must be finite"),
        ({"dropout_keep": 0}, r"dropout_keep must lie in \(0, 1\]; got 0"),
        ({"dropout_keep": 1.5}, r"dropout_keep must lie in \(0, 1\]; got 1\.5"),
        ({"dropout_keep": -0.1}, r"dropout_keep must lie in \(0, 1\]; got -0\.1"),
        ({"lam": -1e-4}, r"lam must be a non-negative number"),
        ({"grad_clip": 0}, r"grad_clip must be a positive number"),
        ({"log_every": 0}, r"log_every must be a positive integer"),
    ],
)
def test_fit_rejects_bad_hyperparameters(kwargs, match):
    network = make_network()
    before = network.model.flat.values.copy()
    with pytest.raises(ValueError, match=match):
        network.fit(**{**QUIET, **kwargs})
    np.testing.assert_array_equal(network.model.flat.values, before)


@pytest.mark.parametrize("dropout_keep", [1.0, 0.8, 0.5])
def test_fit_with_dropout_keep(dropout_keep):
    network = make_network()
    network.fit(dropout_keep=dropout_keep, **QUIET)
    X_test, _ = make_columns(1, n_samples=30)
    np.testing.assert_array_equal(network.predict_proba(X_test), network.predict_proba(X_test))


# --- Predictions ----------------------------------------------------------------------------


def test_predict_and_predict_proba_shapes():
    network = make_network()
    network.fit(lr=1e-2, **QUIET)
    X_test, y_test = make_columns(1, n_samples=30)
    probs = network.predict_proba(X_test)
    assert probs.shape == (N_CLASSES, 30)
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, rtol=1e-5)
    predictions = network.predict(X_test)
    assert predictions.shape == (30,)
    assert np.issubdtype(predictions.dtype, np.integer)
    np.testing.assert_array_equal(predictions, probs.argmax(axis=0))
    expected = np.mean(predictions == y_test.argmax(axis=0))
    assert network.accuracy(X_test, y_test) == pytest.approx(expected)
    # The same scaler is applied to inputs at prediction time: the task is easy.
    assert network.accuracy(X_test, y_test) > 0.9


@pytest.mark.parametrize("rows", [5, 7])
def test_predict_rejects_a_wrong_feature_count(rows):
    network = make_network()
    X = np.zeros((rows, 4))
    with pytest.raises(ValueError, match=rf"X has {rows} features \(rows\).*expects 6"):
        network.predict(X)


def test_predict_rejects_samples_in_rows():
    network = make_network()
    with pytest.raises(ValueError, match="samples are columns"):
        network.predict_proba(np.zeros((4, N_FEATURES)))


def test_same_seed_gives_identical_predictions():
    X_test, _ = make_columns(2, n_samples=40)
    results = []
    for seed in (7, 7, 8):
        network = make_network(seed=seed)
        history = network.fit(dropout_keep=0.8, **QUIET)
        results.append((network.predict_proba(X_test), history.train_loss))
    (probs_a, loss_a), (probs_b, loss_b), (probs_c, loss_c) = results
    np.testing.assert_array_equal(probs_a, probs_b)
    assert loss_a == loss_b
    assert not np.array_equal(probs_a, probs_c)
    assert loss_a != loss_c


def test_fit_records_history_properties():
    network = make_network()
    history = network.fit(**QUIET)
    assert history is network.history
    assert network.costs == history.train_loss
    assert network.train_accuracies == history.train_accuracy
    assert network.test_accuracies == history.val_accuracy
    assert len(network.costs) == len(network.test_accuracies) == QUIET["epochs"]


# --- The log line ---------------------------------------------------------------------------


def logged_epochs(text):
    return [int(m.group(1)) for line in text.splitlines() if (m := LOG_LINE.match(line))]


@pytest.mark.parametrize(
    ("log_every", "expected"),
    [(1, [1, 2, 3, 4, 5, 6]), (2, [1, 2, 4, 6]), (5, [1, 5, 6]), (10, [1, 6])],
)
def test_log_line_format_and_frequency(capsys, log_every, expected):
    network = make_network()
    network.fit(
        epochs=6, batch_size=16, log_every=log_every, early_stopping_patience=None, verbose=True
    )
    out = capsys.readouterr().out
    assert logged_epochs(out) == expected
    assert "| LR 1.00e-03" in out


def test_log_line_shows_the_decayed_lr(capsys):
    network = make_network()
    network.fit(
        lr=1e-2,
        epochs=4,
        batch_size=16,
        lr_decay=0.5,
        lr_decay_every=2,
        log_every=1,
        early_stopping_patience=None,
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if LOG_LINE.match(line)]
    assert [line.rsplit("LR ", 1)[1] for line in lines] == [
        "1.00e-02",
        "1.00e-02",
        "5.00e-03",
        "5.00e-03",
    ]


def test_quiet_fit_prints_nothing(capsys):
    make_network().fit(**QUIET)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_early_stopping_reports_and_restores(capsys):
    network = make_network()
    # An lr far below float32 resolution: the weights, hence test accuracy, never change.
    history = network.fit(lr=1e-12, epochs=10, batch_size=16, early_stopping_patience=1)
    assert len(history) == 2
    out = capsys.readouterr().out
    assert "Early stopping after epoch 2; restored the weights of epoch 1" in out


# --- Real data ------------------------------------------------------------------------------


def test_mnist_subset_reaches_90_percent():
    (x_train, labels_train), (x_test, labels_test) = neural_network.load_mnist()
    # The classic architecture and hyperparameters, 3 epochs on a 10,000-image subset.
    # (On 5,000 images, 3 epochs at batch 128 land right at 0.90: too close to test.)
    X, y = x_train[:10_000].T, one_hot_encode(labels_train[:10_000], 10)
    X_test, y_test = x_test[:1_000].T, one_hot_encode(labels_test[:1_000], 10)
    network = NeuralNetwork(
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        activation="relu",
        num_labels=10,
        architecture=[512, 256, 128],
        seed=0,
    )
    network.fit(
        lr=1e-3,
        epochs=3,
        batch_size=128,
        lam=1e-4,
        dropout_keep=1.0,
        grad_clip=5.0,
        early_stopping_patience=8,
        verbose=False,
    )
    assert network.accuracy(X_test, y_test) > 0.90
    assert network.predict(X_test).shape == (1_000,)


def test_samples_in_rows_are_refused_with_what_to_pass():
    rng = np.random.default_rng(0)
    x_rows = rng.random((50, 784))
    y = np.eye(10)[rng.integers(0, 10, 50)].T
    with pytest.raises(ValueError, match=r"one sample per row, but samples are columns.*pass X\.T"):
        NeuralNetwork(x_rows, y, architecture=[8])
    with pytest.raises(ValueError, match=r"one sample per row.*pass y\.T \(and X\.T"):
        NeuralNetwork(x_rows, y.T, architecture=[8])
    network = NeuralNetwork(x_rows.T, y, architecture=[8])
    with pytest.raises(ValueError, match=r"X has shape \(50, 784\).*pass X\.T"):
        network.predict(x_rows)
    with pytest.raises(ValueError, match=r"pass X_test\.T"):
        NeuralNetwork(x_rows.T, y, X_test=x_rows[:20], y_test=y[:, :20], architecture=[8])
    assert network.predict(x_rows.T).shape == (50,)


def test_the_classic_usage_repeats_bit_for_bit_with_one_thread():
    """What the README says to do for a run that repeats: ``threads=1`` (threads chosen by
    timing may split a product differently from one run to the next)."""
    (x_train, y_train), (x_test, y_test) = neural_network.load_mnist()
    X, y = x_train[:600].T, one_hot_encode(y_train[:600], 10)
    X_test, y_test = x_test[:200].T, one_hot_encode(y_test[:200], 10)
    runs = []
    for _ in range(2):
        network = NeuralNetwork(
            X=X, y=y, X_test=X_test, y_test=y_test, architecture=[64, 32], seed=42
        )
        network.fit(epochs=3, batch_size=128, verbose=False, threads=1)
        runs.append(network)
    np.testing.assert_array_equal(runs[0].model.flat.values, runs[1].model.flat.values)
    assert runs[0].history.val_loss == runs[1].history.val_loss
