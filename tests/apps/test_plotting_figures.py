"""The run folder's figures: learning rate, confusion matrix, misclassified images and
first-layer weights. Checked by what they draw and by the pixels of the saved PNG."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from neural_network import History
from neural_network.apps.plotting import (
    plot_accuracy,
    plot_confusion_matrix,
    plot_first_layer_weights,
    plot_learning_rate,
    plot_loss,
    plot_misclassified,
)

SRC = Path(__file__).resolve().parents[2] / "src"


def png_pixels(path) -> np.ndarray:
    """The saved PNG as (height, width, 3) floats in [0, 1]."""
    return imread(path)[..., :3]


def assert_drawn(path, *, min_size=(300, 300), min_inked=0.02):
    """A real picture: at least ``min_size`` pixels, not one colour, partly not white."""
    pixels = png_pixels(path)
    height, width = pixels.shape[:2]
    assert height >= min_size[0] and width >= min_size[1], pixels.shape
    assert pixels.std() > 0.05
    inked = np.mean(pixels.min(axis=2) < 0.9)
    assert inked > min_inked, inked
    return pixels


@pytest.fixture
def history():
    return History(
        epoch=[1, 2, 3, 4],
        train_loss=[1.0, 0.6, 0.4, 0.3],
        train_accuracy=[0.5, 0.7, 0.8, 0.85],
        val_loss=[0.9, 0.7, 0.5, 0.45],
        val_accuracy=[0.6, 0.7, 0.75, 0.8],
        lr=[1e-2, 1e-2, 5e-3, 2.5e-3],
    )


def test_learning_rate_is_a_log_step_curve(history, tmp_path):
    fig = plot_learning_rate(history, path=tmp_path / "lr.png")
    (ax,) = fig.axes
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), history.lr)
    assert_drawn(tmp_path / "lr.png", min_inked=0.005)


def test_constant_learning_rate_is_a_flat_line_on_an_axis_from_zero(history):
    history.lr = [1e-3] * 4
    ax = plot_learning_rate(history).axes[0]
    assert ax.get_yscale() == "linear"
    low, high = ax.get_ylim()
    assert low == 0 and 1e-3 < high < 2e-3  # not 0.00096-0.00104
    assert [text.get_text() for text in ax.texts] == ["constant: 0.001"]


def test_a_small_change_of_learning_rate_is_drawn_from_zero(history):
    history.lr = [1e-3, 1e-3, 8e-4, 8e-4]
    ax = plot_learning_rate(history).axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0
    assert not ax.texts


def test_curves_name_the_validation_data_and_the_penalty(history):
    legend = plot_loss(history, val_label="validation").axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == [
        "train (cross-entropy + L2, mean over the epoch's batches)",
        "validation (cross-entropy)",
    ]
    legend = plot_accuracy(history, val_label="validation").axes[0].get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["train", "validation"]


@pytest.mark.parametrize("plot", [plot_loss, plot_accuracy])
def test_curves_mark_the_kept_epoch_on_each_curve(history, plot):
    ax = plot(history, best_epoch=2).axes[0]
    lines = ax.get_lines()
    (kept,) = [line for line in lines if line.get_label() == "kept: epoch 2"]
    assert list(kept.get_xdata()) == [2, 2]
    stars = [line for line in lines if line.get_marker() == "*"]
    curves = [line for line in lines if line.get_marker() == "o"]
    assert len(stars) == len(curves) == 2
    for star, line in zip(stars, curves, strict=True):
        assert list(star.get_xdata()) == [2]
        assert star.get_ydata()[0] == line.get_ydata()[1]  # on the curve, at epoch 2
        assert star.get_color() == line.get_color()
    assert "kept: epoch 2" in [text.get_text() for text in ax.get_legend().get_texts()]


@pytest.mark.parametrize("best_epoch", [None, 9])
def test_curves_mark_nothing_without_a_kept_epoch_in_range(history, best_epoch):
    ax = plot_loss(history, best_epoch=best_epoch).axes[0]
    assert [line.get_marker() for line in ax.get_lines()] == ["o", "o"]


def test_confusion_matrix_labels_every_cell_with_its_count(tmp_path):
    matrix = np.array([[50, 2, 0], [3, 40, 7], [0, 1, 60]])
    fig = plot_confusion_matrix(matrix, class_names=["a", "b", "c"], path=tmp_path / "cm.png")
    ax = fig.axes[0]
    counts = sorted(int(text.get_text()) for text in ax.texts)
    assert counts == sorted(matrix.ravel().tolist())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    assert_drawn(tmp_path / "cm.png", min_inked=0.1)


def test_confusion_matrix_shows_rare_errors_beside_a_large_diagonal(tmp_path):
    """One error among thousands of correct predictions is still a coloured cell: the
    diagonal is masked and the colour scale ends at the largest error."""
    matrix = np.diag([980, 1135, 1032]).astype(int)
    matrix[1, 2] = 4
    matrix[2, 0] = 1
    fig = plot_confusion_matrix(matrix, path=tmp_path / "cm.png")
    (image,) = fig.axes[0].get_images()
    shares = image.get_array()
    np.testing.assert_array_equal(np.ma.getmaskarray(shares), np.eye(3, dtype=bool))
    assert image.norm.vmax == pytest.approx(4 / 1139)
    colours = image.to_rgba(shares)
    assert colours[2, 0, 0] > colours[2, 0, 2] + 0.1  # one error in 1033: visibly red
    assert colours[1, 2, 1] < 0.3  # the largest error: the darkest red
    pixels = png_pixels(tmp_path / "cm.png")
    assert np.any((pixels[..., 0] > 0.4) & (pixels[..., 1] < 0.2) & (pixels[..., 2] < 0.2))


def test_confusion_matrix_without_errors_draws(tmp_path):
    plot_confusion_matrix(np.diag([5, 5]), path=tmp_path / "cm.png")
    assert_drawn(tmp_path / "cm.png", min_inked=0.05)


def test_confusion_matrix_checks_its_input():
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix(np.zeros((2, 2), dtype=int), class_names=["a"])


def digit_images(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    images = np.zeros((n, 28, 28))
    for image in images:
        top, left = rng.integers(4, 12, size=2)
        image[top : top + 12, left : left + 4] = 255  # a bar: some ink on each tile
    return images.reshape(n, 784)


def test_misclassified_grid_labels_each_image(tmp_path):
    images = digit_images(12)
    labels, predicted = np.arange(12) % 10, (np.arange(12) + 1) % 10
    fig = plot_misclassified(images, labels, predicted, path=tmp_path / "wrong.png")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [f"true {t}\npred {p}" for t, p in zip(labels, predicted, strict=True)]
    (image,) = fig.axes[0].get_images()
    assert image.get_array().shape[0] >= 2 * 28  # 12 images on 9 columns: two rows
    assert_drawn(tmp_path / "wrong.png", min_size=(200, 400))


def test_misclassified_grid_keeps_to_max_images_and_names_classes():
    fig = plot_misclassified(
        digit_images(50), [0] * 50, [1] * 50, class_names=["shirt", "bag"], max_images=20
    )
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 20
    assert texts[0] == "true shirt\npred bag"


def test_misclassified_grid_with_no_mistakes_says_none(tmp_path):
    fig = plot_misclassified(np.zeros((0, 784)), [], [], path=tmp_path / "none.png")
    assert [t.get_text() for t in fig.axes[0].texts] == ["none"]
    assert_drawn(tmp_path / "none.png", min_size=(100, 300), min_inked=0.005)


def test_misclassified_grid_checks_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        plot_misclassified(digit_images(3), [0, 1], [1, 0, 1])


def test_first_layer_weights_draw_one_tile_per_unit(tmp_path):
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(784, 100))
    used = np.ones(784, dtype=bool)
    used[:56] = False  # the top two rows of pixels never carry ink
    fig = plot_first_layer_weights(weight, inputs_used=used, path=tmp_path / "w.png")
    assert "64 of 100 units" in fig.axes[0].get_title()
    (image,) = fig.axes[0].get_images()
    mosaic = image.get_array()
    assert mosaic.shape == (8 * 30 + 2, 8 * 30 + 2, 4)  # 8x8 tiles of 28 + 2 pixels apart
    tile = mosaic[2:30, 2:30]
    np.testing.assert_allclose(tile[:2, :, :3], 0.75)  # unused inputs are grey
    assert tile[2:].std() > 0.1  # the weights are drawn in colour
    pixels = assert_drawn(tmp_path / "w.png", min_inked=0.3)
    red = (pixels[..., 0] > 0.6) & (pixels[..., 2] < 0.4)
    blue = (pixels[..., 2] > 0.6) & (pixels[..., 0] < 0.4)
    assert red.mean() > 0.002 and blue.mean() > 0.002
    assert len(fig.axes) == 2  # the image and its colour bar


def test_first_layer_weights_show_what_a_unit_looks_for():
    weight = np.zeros((784, 2))
    weight[14 * 28 + 14, 0] = 1.0  # unit 0 wants the centre pixel on
    weight[0, 1] = -2.0  # unit 1 wants the corner off
    mosaic = plot_first_layer_weights(weight).axes[0].get_images()[0].get_array()
    centre = mosaic[2 + 14, 2 + 14]
    corner = mosaic[2, 30 + 2]
    assert centre[0] > 0.6 and centre[2] < centre[0] - 0.2  # red, half as strong as ...
    assert corner[2] > 0.3 and corner[0] < 0.2  # ... the corner's dark blue: one shared scale
    assert centre[2] > corner[0] + 0.2


def test_first_layer_weights_need_image_sized_inputs():
    with pytest.raises(ValueError, match="784"):
        plot_first_layer_weights(np.zeros((100, 4)))


def test_new_figures_are_headless_and_never_import_pyplot(tmp_path):
    script = f"""
import sys
import numpy as np
from neural_network import History
from neural_network.apps.plotting import (plot_confusion_matrix, plot_first_layer_weights,
    plot_learning_rate, plot_misclassified)
out = {str(tmp_path)!r}
plot_learning_rate(History(epoch=[1, 2], lr=[0.1, 0.05]), path=out + "/lr.png")
plot_confusion_matrix(np.eye(3, dtype=int), path=out + "/cm.png")
plot_misclassified(np.ones((2, 784)), [0, 1], [1, 0], path=out + "/m.png")
plot_first_layer_weights(np.ones((784, 3)), path=out + "/w.png")
assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
"""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png", "lr.png", "m.png", "w.png"]
