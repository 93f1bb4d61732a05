"""Learning curves with matplotlib, imported lazily and without pyplot's global state.

Figures are built with ``matplotlib.figure.Figure`` so they work headless (no display, no
backend switch) and are garbage-collected like any object; ``show=True`` opts into pyplot.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .training import History


def new_figure(*, show: bool = False, figsize: tuple[float, float] = (7.0, 4.5)) -> Figure:
    """A blank figure: a pyplot-managed one when it is to be shown, else a free-standing one."""
    if show:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=figsize)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def finish_figure(fig: Figure, *, path: str | os.PathLike | None, show: bool) -> Figure:
    """Save ``fig`` to ``path`` (format from the suffix) and/or show it; return it."""
    if path is not None:
        fig.savefig(path, dpi=120)
    if show:
        import matplotlib.pyplot as plt

        plt.show()
    return fig


def plot_loss(
    history: History,
    *,
    title: str = "Cost",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Train (and validation, if recorded) loss per epoch."""
    fig = new_figure(show=show)
    ax = fig.add_subplot()
    ax.plot(history.epoch, history.train_loss, marker="o", markersize=3, label="train")
    if history.val_loss:
        ax.plot(history.epoch, history.val_loss, marker="o", markersize=3, label="test/validation")
    ax.set(xlabel="epoch", ylabel="cross-entropy", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish_figure(fig, path=path, show=show)


def plot_accuracy(
    history: History,
    *,
    title: str = "Accuracy",
    path: str | os.PathLike | None = None,
    show: bool = False,
) -> Figure:
    """Train (and validation, if recorded) accuracy per epoch, in percent."""
    fig = new_figure(show=show)
    ax = fig.add_subplot()
    ax.plot(
        history.epoch,
        [100 * a for a in history.train_accuracy],
        marker="o",
        markersize=3,
        label="train",
    )
    if history.val_accuracy:
        ax.plot(
            history.epoch,
            [100 * a for a in history.val_accuracy],
            marker="o",
            markersize=3,
            label="test/validation",
        )
    ax.set(xlabel="epoch", ylabel="accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish_figure(fig, path=path, show=show)
