"""Each bad input named in one sentence: the classic API's architecture and NumPy-scalar
settings, a keep probability too small for floating point, a resume with another dropout,
a config file that is not UTF-8, a serve host that does not exist, and labels a model file
cannot store."""

import re

import numpy as np
import pytest

from neural_network import NeuralNetwork, load_mnist, one_hot_encode
from neural_network.apps.cli import main


@pytest.fixture(scope="module")
def columns():
    (x_train, y_train), _ = load_mnist()
    return x_train[:300].T, one_hot_encode(y_train[:300], 10)


def network(columns, **kwargs):
    x, y = columns
    return NeuralNetwork(X=x, y=y, seed=0, **{"architecture": [8], **kwargs})


def test_one_integer_is_one_hidden_layer(columns):
    assert network(columns, architecture=512).architecture == [512]
    assert network(columns, architecture=np.int64(16)).architecture == [16]
    assert network(columns, architecture=(16, 8)).architecture == [16, 8]
    assert network(columns, architecture=np.array([16, 8])).architecture == [16, 8]
    assert network(columns, architecture=[]).architecture == []


@pytest.mark.parametrize(
    ("architecture", "message"),
    [
        ("512", "list of hidden layer sizes"),
        (b"512", "list of hidden layer sizes"),
        ([1.5], r"must be positive integers; architecture\[0\] is 1\.5"),
        ([True], r"must be positive integers; architecture\[0\] is True"),
        ([16, 0], r"must be positive integers; architecture\[1\] is 0"),
        (0, "must be positive integers; architecture is 0"),
        (True, "list of hidden layer sizes"),
        (None, "list of hidden layer sizes"),
    ],
)
def test_an_architecture_that_is_not_positive_integers_is_refused(columns, architecture, message):
    with pytest.raises(ValueError, match=message):
        network(columns, architecture=architecture)


def test_numpy_scalars_are_numbers_for_fit(columns):
    nn = network(columns)
    nn.fit(epochs=1, lam=np.float32(1e-4), dropout_keep=np.float32(0.5), verbose=False)
    nn.fit(epochs=np.int64(1), batch_size=np.int32(64), lr=np.float32(1e-3), verbose=False)
    assert len(nn.history) == 1


def test_a_keep_probability_too_small_for_floating_point_is_named(columns, capsys):
    with pytest.raises(ValueError, match=r"dropout_keep must be a keep probability.*1e-300"):
        network(columns).fit(epochs=1, dropout_keep=1e-300, verbose=False)
    assert main(["train", "--dropout-keep", "1e-300"]) == 2  # refused while parsing
    err = capsys.readouterr().err
    assert "--dropout-keep" in err and "1e-300" in err and "rate" not in err


def test_a_resume_with_another_dropout_says_what_differs(columns, tmp_path):
    path = tmp_path / "checkpoint.npz"
    network(columns).fit(epochs=1, dropout_keep=1.0, checkpoint_path=path, verbose=False)
    with pytest.raises(ValueError, match=r"another architecture: layer \d+ \(Dropout\)") as e:
        network(columns).fit(epochs=2, dropout_keep=0.5, resume_from=path, verbose=False)
    assert "rate 0.0 in the file and 0.5 in this run" in str(e.value)
    assert "{" not in str(e.value)


def test_a_config_file_that_is_not_utf8_is_named(tmp_path, capsys):
    config = tmp_path / "settings.toml"
    config.write_bytes(b"epochs = 2\n# caf\xe9\n")
    assert main(["train", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert str(config) in err and "UTF-8" in err and err.count("\n") == 1


def test_a_serve_host_that_does_not_exist_is_named(capsys):
    assert main(["serve", "--host", "256.1.1.1", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "256.1.1.1" in err and err.count("\n") == 1


def test_labels_a_model_file_cannot_store_are_refused_at_fit():
    pytest.importorskip("sklearn")
    from neural_network import MLPClassifier

    x = np.random.default_rng(0).random((40, 4))
    days = np.array(["2024-01-01", "2024-01-02"], dtype="datetime64[D]")[np.arange(40) % 2]
    with pytest.raises(ValueError, match=re.escape("integers, floats, booleans or strings")):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(x, days)
    classifier = MLPClassifier(hidden_layer_sizes=(4,), max_iter=1)
    with pytest.raises(ValueError, match="datetime64"):
        classifier.partial_fit(x, days, classes=days[:2])
