"""Learning curves: Figures built without pyplot, saved as real (non-blank) PNG files."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from neural_network import History, NeuralNetwork, one_hot_encode
from neural_network.apps.plotting import plot_accuracy, plot_loss

SRC = Path(__file__).resolve().parents[2] / "src"
EPOCHS = 4


def make_network(with_test=True):
    rng = np.random.default_rng(0)
    centers = rng.integers(40, 215, size=(3, 5))
    labels = np.arange(90) % 3
    x = centers[labels] + rng.integers(-50, 51, size=(90, 5))
    X, y = x.T, one_hot_encode(labels, 3)
    test = {"X_test": X[:, :30], "y_test": y[:, :30]} if with_test else {}
    network = NeuralNetwork(X[:, 30:], y[:, 30:], **test, num_labels=3, architecture=[8], seed=0)
    network.fit(lr=1e-2, epochs=EPOCHS, batch_size=16, verbose=False)
    return network


@pytest.fixture(scope="module")
def network():
    return make_network()


PLOTS = {
    "cost": ("plot_cost", "Cost per epoch (lr=0.001)"),
    "accuracies": ("plot_accuracies", "Accuracy per epoch (lr=0.001)"),
}


@pytest.mark.parametrize("kind", list(PLOTS))
def test_plot_returns_a_figure_with_the_lr_in_the_title(network, kind):
    method, title = PLOTS[kind]
    fig = getattr(network, method)(lr_used=1e-3)
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == title
    assert "lr=0.001" in ax.get_title()
    assert ax.get_xlabel() == "epoch"


@pytest.mark.parametrize("kind", list(PLOTS))
def test_plot_without_lr_has_a_plain_title(network, kind):
    method, title = PLOTS[kind]
    fig = getattr(network, method)()
    assert fig.axes[0].get_title() == title.split(" (")[0]


def curve(ax, label_start):
    """The line of ``ax`` whose legend label starts with ``label_start``."""
    (line,) = [line for line in ax.get_lines() if line.get_label().startswith(label_start)]
    return line


def test_cost_plot_shows_train_and_test_curves(network):
    ax = network.plot_cost().axes[0]
    train, test = curve(ax, "train"), curve(ax, "test")
    np.testing.assert_array_equal(train.get_xdata(), range(1, EPOCHS + 1))
    np.testing.assert_allclose(train.get_ydata(), network.costs)
    np.testing.assert_allclose(test.get_ydata(), network.history.val_loss)
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == [
        "train (cross-entropy + L2, mean over the epoch's batches)",
        "test/validation (cross-entropy)",
    ]


def test_classic_plots_mark_the_kept_epoch(network):
    for fig in (network.plot_cost(), network.plot_accuracies()):
        ax = fig.axes[0]
        kept = curve(ax, "kept")
        assert kept.get_label() == f"kept: epoch {network.best_epoch}"
        assert list(kept.get_xdata()) == [network.best_epoch] * 2


def test_accuracy_plot_is_in_percent(network):
    ax = network.plot_accuracies().axes[0]
    train, test = curve(ax, "train"), curve(ax, "test")
    np.testing.assert_allclose(train.get_ydata(), 100 * np.array(network.train_accuracies))
    np.testing.assert_allclose(test.get_ydata(), 100 * np.array(network.test_accuracies))


def test_plots_without_a_test_set_show_one_curve():
    network = make_network(with_test=False)
    for fig in (network.plot_cost(), network.plot_accuracies()):
        labels = [line.get_label() for line in fig.axes[0].get_lines()]
        assert not [label for label in labels if label.startswith("test")]
        assert len([label for label in labels if label.startswith("train")]) == 1


@pytest.mark.parametrize("kind", list(PLOTS))
def test_plot_writes_a_png_that_is_not_blank(network, kind, tmp_path):
    from matplotlib.image import imread

    method, _ = PLOTS[kind]
    path = tmp_path / f"{kind}.png"
    fig = getattr(network, method)(lr_used=1e-3, path=path)
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # An empty set of axes saves to about 11 KB; these plots to about 45 KB.
    assert path.stat().st_size > 20_000
    rgb = imread(path)[..., :3]
    assert rgb.shape[0] > 300
    assert rgb.shape[1] > 500
    assert rgb.std() > 0.05
    # The curves are the only coloured (not grey) pixels; empty axes have none.
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert np.count_nonzero(saturation > 0.3) > 1_000


def test_plot_accepts_a_string_path(network, tmp_path):
    path = tmp_path / "cost.png"
    network.plot_cost(path=str(path))
    assert path.stat().st_size > 0


def test_plot_functions_take_a_history_directly(tmp_path):
    history = History(
        epoch=[1, 2, 3],
        train_loss=[1.0, 0.6, 0.4],
        train_accuracy=[0.5, 0.7, 0.8],
        lr=[0.1, 0.1, 0.1],
    )
    loss_ax = plot_loss(history, title="loss").axes[0]
    assert loss_ax.get_title() == "loss"
    assert len(loss_ax.get_lines()) == 1
    path = tmp_path / "accuracy.svg"
    plot_accuracy(history, path=path)
    assert path.read_text().lstrip().startswith("<?xml")


def test_plotting_is_headless_and_never_imports_pyplot(tmp_path):
    """In a fresh interpreter with no display and no backend set: figures render and save,
    and pyplot (with its global figure registry and GUI backends) is never imported."""
    script = f"""
import sys
import numpy as np
from neural_network import NeuralNetwork, one_hot_encode
labels = np.arange(30) % 3
x = np.random.default_rng(0).normal(size=(4, 30)) + labels
net = NeuralNetwork(x, one_hot_encode(labels, 3), num_labels=3, architecture=[4], seed=0)
net.fit(epochs=2, verbose=False)
net.plot_cost(lr_used=1e-3, path={str(tmp_path / "c.png")!r})
net.plot_accuracies(lr_used=1e-3, path={str(tmp_path / "a.png")!r})
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "c.png").stat().st_size > 20_000
    assert (tmp_path / "a.png").stat().st_size > 20_000
