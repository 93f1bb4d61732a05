"""Figures with matplotlib, imported lazily and without pyplot's global state: learning curves,
the learning rate, a confusion matrix, a grid of misclassified images, first-layer weights.

Figures are built with ``matplotlib.figure.Figure`` so they work headless (no display, no
backend switch) and are garbage-collected like any object; ``show=True`` opts into pyplot.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..train.loop import History


def _integer_epochs(ax) -> None:
    """Epochs are whole numbers: no 1.2, 1.4 ... ticks on short runs."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def new_figure(*, show: bool = False, figsize: tuple[float, float] = (7.0, 4.5)) -> Figure:
    """A blank figure: a pyplot-managed one when it is to be shown, else a free-standing one."""
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def finish_figure(fig: Figure, *, path: str | os.PathLike | None, show: bool) -> Figure:
    """Save ``fig`` to ``path`` (format from the suffix, written atomically) and/or show it;
    return it."""
    if path is not None:
        import io

        from ..io.atomic import write_atomically

        buffer = io.BytesIO()
        suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
        fig.savefig(buffer, dpi=120, format=suffix or None)
        write_atomically(path, buffer.getvalue())
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


def plot_loss(
    history: History,
    *,
    title: str = "Cost",
    val_label: str = "test/validation",
    best_epoch: int | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Train (and validation, if recorded, labelled ``val_label``) loss per epoch.

    The train line is what training minimised, the L2 penalty included (averaged over the
    epoch's batches); the validation line is the cross-entropy alone. The legend says so.

    Args:
        best_epoch: The epoch whose weights the model kept (early stopping restores it),
            marked on both curves; ``None`` marks nothing.
    """
    return _plot_curves(
        history.epoch,
        history.train_loss,
        history.val_loss,
        ylabel="loss",
        title=title,
        # Train sits above validation: it carries the L2 penalty, and it is averaged over the
        # epoch's batches while the weights were still learning.
        train_label="train (cross-entropy + L2, mean over the epoch's batches)",
        val_label=f"{val_label} (cross-entropy)",
        best_epoch=best_epoch,
        path=path,
        show=show,
    )


def plot_accuracy(
    history: History,
    *,
    title: str = "Accuracy",
    val_label: str = "test/validation",
    best_epoch: int | None = None,
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Train (and validation, if recorded, labelled ``val_label``) accuracy per epoch, in
    percent; ``best_epoch``, the epoch whose weights the model kept, is marked."""
    return _plot_curves(
        history.epoch,
        [100 * a for a in history.train_accuracy],
        [100 * a for a in history.val_accuracy],
        ylabel="accuracy (%)",
        title=title,
        train_label="train",
        val_label=val_label,
        best_epoch=best_epoch,
        path=path,
        show=show,
    )


def _plot_curves(
    epochs: list[int],
    train: list[float],
    val: list[float],
    *,
    ylabel: str,
    title: str,
    train_label: str,
    val_label: str,
    best_epoch: int | None,
    path: str | os.PathLike | None,
    show: bool,
) -> Figure:
    """One metric per epoch: the train curve, the validation curve when recorded, and the
    kept epoch as a dashed line with a star on each curve."""
    fig = new_figure(show=show)
    ax = fig.add_subplot()
    curves = [(train, train_label)] + ([(val, val_label)] if val else [])
    for values, label in curves:
        (line,) = ax.plot(epochs, values, marker="o", markersize=3, label=label)
        if best_epoch in epochs:
            y = values[list(epochs).index(best_epoch)]
            ax.plot(
                [best_epoch],
                [y],
                marker="*",
                markersize=13,
                color=line.get_color(),
                markeredgecolor="black",
                linestyle="none",
            )
    if best_epoch in epochs:
        ax.axvline(
            best_epoch, color="0.4", linestyle="--", linewidth=1, label=f"kept: epoch {best_epoch}"
        )
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    _integer_epochs(ax)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish_figure(fig, path=path, show=show)


def plot_learning_rate(
    history: History,
    *,
    title: str = "Learning rate",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """The learning rate of each epoch as a step curve: on a log scale when it changes by a
    factor of 2 or more, else on a linear axis from 0, so a constant rate is a flat line at
    its height (not a line across an axis of 0.00096-0.00104)."""
    fig = new_figure(show=show)
    ax = fig.add_subplot()
    ax.step(history.epoch, history.lr, where="post", marker="o", markersize=3)
    positive = [lr for lr in history.lr if lr > 0]
    if positive and max(positive) >= 2 * min(positive):
        ax.set_yscale("log")
    elif history.lr:
        ax.set_ylim(0, 1.15 * max(history.lr) if max(history.lr) > 0 else 1.0)
        if max(history.lr) == min(history.lr):
            ax.text(
                0.5,
                0.5,
                f"constant: {history.lr[0]:g}",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=11,
            )
    ax.set(xlabel="epoch", ylabel="learning rate", title=title)
    _integer_epochs(ax)
    ax.grid(alpha=0.3, which="both")
    return finish_figure(fig, path=path, show=show)


def plot_confusion_matrix(
    matrix: np.ndarray,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "Confusion matrix",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Counts of (true class, predicted class), each cell labelled, the errors coloured.

    Off-diagonal cells are coloured by their share of the true class, on a scale that ends
    at the largest error; the diagonal (correct predictions) is grey.

    Args:
        matrix: ``(n_classes, n_classes)`` counts; row ``i`` is true class ``i``, column
            ``j`` the predicted class ``j``.
        class_names: Tick labels; ``0 .. n_classes-1`` by default.

    Raises:
        ValueError: if ``matrix`` is not square or ``class_names`` has the wrong length.
    """
    from matplotlib import colormaps

    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square; got shape {matrix.shape}")
    n_classes = matrix.shape[0]
    names = [str(k) for k in range(n_classes)] if class_names is None else list(class_names)
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes")
    side = max(4.5, 0.5 * n_classes + 2.0)
    fig = new_figure(show=show, figsize=(side + 1.0, side))
    ax = fig.add_subplot()
    # The errors are what a reader looks for, and next to a diagonal of ~1000 they would all
    # be near-white: colour only the off-diagonal cells, each by its share of the true class
    # (so that rare classes show their errors too), on a scale set by the largest error, and
    # draw the diagonal grey with its counts.
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    errors = np.ma.masked_array(shares, mask=np.eye(n_classes, dtype=bool))
    largest = float(errors.max()) if errors.count() and errors.max() > 0 else 1.0
    cmap = colormaps["Reds"].with_extremes(bad="0.85")
    image = ax.imshow(errors, cmap=cmap, vmin=0.0, vmax=largest)
    fig.colorbar(image, ax=ax, label="errors: share of the true class (correct: grey)")
    for i in range(n_classes):
        for j in range(n_classes):
            dark = i != j and shares[i, j] > 0.6 * largest
            weight = "bold" if i == j else "normal"
            ax.text(
                j,
                i,
                f"{matrix[i, j]:d}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
                fontweight=weight,
            )
    ax.set_xticks(range(n_classes), names, rotation=45 if max(map(len, names)) > 2 else 0)
    ax.set_yticks(range(n_classes), names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    return finish_figure(fig, path=path, show=show)


def _tile(
    images: np.ndarray, n_columns: int, *, gap: int, gap_above: int = 0, fill: float = np.nan
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """One mosaic of ``(n, h, w)`` images, ``n_columns`` wide, ``gap`` pixels apart (and
    ``gap_above`` more above each row, for labels). Drawing one image instead of one axes
    per tile keeps a figure of 64 tiles fast. Returns the mosaic (``fill`` between tiles)
    and each tile's top-centre in mosaic coordinates."""
    n, height, width = images.shape[:3]
    n_rows = max(1, math.ceil(n / n_columns))
    cell_h, cell_w = height + gap + gap_above, width + gap
    mosaic = np.full((n_rows * cell_h + gap, n_columns * cell_w + gap, *images.shape[3:]), fill)
    anchors = []
    for index, image in enumerate(images):
        top = (index // n_columns) * cell_h + gap + gap_above
        left = (index % n_columns) * cell_w + gap
        mosaic[top : top + height, left : left + width] = image
        anchors.append((left + (width - 1) / 2, top - 0.5))
    return mosaic, anchors


def _mosaic_figsize(mosaic: np.ndarray, width: float) -> tuple[float, float]:
    """A figure size in inches that fits ``mosaic`` ``width`` inches wide, plus a title."""
    return width + 0.4, width * mosaic.shape[0] / mosaic.shape[1] + 0.6


def plot_misclassified(
    images: np.ndarray,
    labels: Sequence[int],
    predicted: Sequence[int],
    *,
    image_shape: tuple[int, int] = (28, 28),
    class_names: Sequence[str] | None = None,
    max_images: int = 36,
    n_columns: int = 9,
    title: str = "Misclassified test images",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """A grid of images, each labelled with its true and its predicted class.

    Args:
        images: ``(n, height * width)`` or ``(n, height, width)`` pixel values; the first
            ``max_images`` are drawn, bright values dark (ink on paper).
        labels: The true class of each image.
        predicted: The predicted class of each image.
        image_shape: ``(height, width)`` of one image.
        class_names: Names to print for the classes; the class ids by default.
        max_images: Most images to draw.
        n_columns: Images per row.
    """
    images = np.asarray(images, dtype=np.float64)
    if len(images) != len(labels) or len(images) != len(predicted):
        raise ValueError(
            f"images, labels and predicted differ in length: "
            f"{len(images)}, {len(labels)}, {len(predicted)}"
        )
    images = images[:max_images].reshape(-1, *image_shape)

    def name(k) -> str:
        return str(k) if class_names is None else str(class_names[int(k)])

    if not len(images):
        fig = new_figure(show=show, figsize=(6.0, 1.5))
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title(title)
        ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=14)
        return finish_figure(fig, path=path, show=show)
    n_columns = min(n_columns, len(images))
    mosaic, anchors = _tile(
        images / max(float(images.max()), 1e-12),
        n_columns,
        gap=3,
        gap_above=image_shape[0] // 2,
        fill=0.0,
    )
    fig = new_figure(show=show, figsize=_mosaic_figsize(mosaic, max(4.5, 1.1 * n_columns)))
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_axis_off()
    ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    for (x, y), true, guess in zip(anchors, labels, predicted, strict=False):
        label = f"true {name(true)}\npred {name(guess)}"
        ax.text(x, y, label, ha="center", va="bottom", fontsize=7, linespacing=1.0)
    return finish_figure(fig, path=path, show=show)


def plot_first_layer_weights(
    weight: np.ndarray,
    *,
    image_shape: tuple[int, int] = (28, 28),
    max_units: int = 64,
    inputs_used: np.ndarray | None = None,
    n_columns: int = 8,
    title: str = "First-layer weights",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Each hidden unit's incoming weights drawn as an image: what the unit looks for.

    Red is a positive weight, blue a negative one, white zero, on one colour scale shared by all
    units (the colour bar), so that tiles compare.

    Args:
        weight: The first Dense layer's ``(n_in, n_out)`` weights, ``n_in`` = height * width.
        image_shape: ``(height, width)`` of one input image.
        max_units: Most units to draw (the first ones).
        inputs_used: ``(n_in,)`` booleans; the weights of inputs marked False (say pixels
            that are blank in all training images, which the scaler maps to 0) have no
            effect and are drawn grey.
        n_columns: Units per row.

    Raises:
        ValueError: if ``weight`` does not have ``height * width`` rows.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 2 or weight.shape[0] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"weight must be ({image_shape[0] * image_shape[1]}, n_units) for images of shape "
            f"{image_shape}; got {weight.shape}"
        )
    units = weight[:, :max_units].T.copy()
    used = np.ones(weight.shape[0], dtype=bool)
    if inputs_used is not None:
        used = np.asarray(inputs_used, dtype=bool)
    # One scale for every unit, so that tiles compare: a pale unit has small weights.
    limit = float(np.abs(units[:, used]).max(initial=0.0)) or 1.0
    colours = colormaps["RdBu_r"]((units / limit + 1.0) / 2.0)  # (n, n_in, 4)
    colours[:, ~used] = (0.75, 0.75, 0.75, 1.0)
    n_columns = min(n_columns, max(1, len(units)))
    mosaic, _ = _tile(colours.reshape(len(units), *image_shape, 4), n_columns, gap=2, fill=1.0)
    fig = new_figure(show=show, figsize=_mosaic_figsize(mosaic, 1.0 * n_columns))
    ax = fig.add_subplot()
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_title(f"{title} ({len(units)} of {weight.shape[1]} units)")
    ax.set_axis_off()
    scale = ScalarMappable(norm=Normalize(-limit, limit), cmap=colormaps["RdBu_r"])
    fig.colorbar(scale, ax=ax, shrink=0.6, label="weight (one scale for all units)")
    return finish_figure(fig, path=path, show=show)
