"""``neural-network evaluate``: accuracy, per-class precision and recall, confusion matrix."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..run_folder import write_json
from .datasets import DATASETS, load_dataset
from .errors import CommandError
from .models import class_probabilities, load_model_file
from .options import add_data_options
from .reports import draw_confusion_matrix, format_class_table, format_confusion_matrix, scores


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``evaluate`` subcommand and its options."""
    command = commands.add_parser(
        "evaluate",
        parents=[common],
        help="accuracy, per-class precision and recall, confusion matrix",
        description="Evaluate a model file on a dataset's test set: accuracy, per-class "
        "precision and recall, and the confusion matrix as text and as a PNG.",
    )
    command.add_argument("model", metavar="MODEL", help="a model file (model.npz)")
    add_data_options(command)
    command.add_argument(
        "--out",
        metavar="DIR",
        help="folder for the figure and evaluation.json (default: MODEL's folder/evaluation)",
    )
    command.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> int:
    """``neural-network evaluate``."""
    model = load_model_file(args.model)
    dataset = DATASETS[args.dataset]
    _, (x_test, y_test) = load_dataset(args.dataset, args.data_dir, args.limit_test)
    probs, classes = class_probabilities(model, x_test)
    n_classes = len(dataset.class_names)
    if [str(c) for c in classes] != [str(k) for k in range(n_classes)]:
        raise CommandError(
            f"the model's classes {classes} are not the {args.dataset} classes 0..{n_classes - 1}"
        )
    metrics = {"dataset": args.dataset, "model": os.fspath(args.model)} | scores(
        probs, y_test, n_classes
    )
    if args.out:
        out = Path(args.out)
    else:
        model_path = Path(args.model)
        out = (model_path if model_path.is_dir() else model_path.parent) / "evaluation"
    out.mkdir(parents=True, exist_ok=True)
    figure = draw_confusion_matrix(out, metrics, dataset.class_names)
    write_json(out / "evaluation.json", metrics)
    print(
        f"Accuracy {100 * metrics['test_accuracy']:.2f}% on {len(y_test)} {args.dataset} test "
        f"images (mean cross-entropy {metrics['test_loss']:.4f})"
    )
    print()
    print(format_class_table(metrics["per_class"], dataset.class_names))
    print()
    print(format_confusion_matrix(np.array(metrics["confusion_matrix"]), dataset.class_names))
    print()
    print(f"Confusion matrix figure: {figure}")
    return 0
