"""``neural-network predict``: classify pictures of digits, or ``.npy`` arrays."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ...data.images import load_digit
from .models import class_probabilities, load_model_file
from .options import Option, flag_type, positive_int


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``predict`` subcommand and its options."""
    command = commands.add_parser(
        "predict",
        parents=[common],
        help="classify image files",
        description="Classify pictures of digits (PNG, JPEG, ... of any size; dark on light "
        "or light on dark) or .npy arrays of 28x28 values in 0-255 (used as they are).",
    )
    command.add_argument("model", metavar="MODEL", help="a model file (model.npz)")
    command.add_argument("images", metavar="IMAGE", nargs="+", help="image or .npy files")
    command.add_argument("--json", action="store_true", help="print a JSON list")
    command.add_argument(
        "--top",
        type=flag_type(Option("top", positive_int, "")),
        default=3,
        metavar="K",
        help="how many classes to list per image (default: 3)",
    )
    command.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """``neural-network predict``."""
    model = load_model_file(args.model)
    x = np.stack([load_digit(path) for path in args.images])
    probs, classes = class_probabilities(model, x)
    results = []
    for path, row in zip(args.images, probs, strict=True):
        order = np.argsort(-row, kind="stable")
        results.append(
            {
                "file": path,
                "label": _json_label(classes[order[0]]),
                "probabilities": {str(c): float(p) for c, p in zip(classes, row, strict=True)},
                "top": [(_json_label(classes[k]), float(row[k])) for k in order[: args.top]],
            }
        )
    if args.json:
        print(json.dumps([{k: r[k] for k in ("file", "label", "probabilities")} for r in results]))
        return 0
    width = max(map(len, args.images))
    for result in results:
        top = "  ".join(f"{label}: {100 * p:5.1f}%" for label, p in result["top"])
        print(f"{result['file']:<{width}}  {result['label']}   ({top})")
    return 0


def _json_label(label: Any) -> Any:
    """A class label as a JSON scalar (NumPy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label
