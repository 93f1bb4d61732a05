"""``neural-network predict``: classify pictures of digits, or ``.npy`` arrays."""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ...data.image_files import check_image_file
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
    for path in args.images:
        check_image_file(path)  # format, size and .npy shape, before anything is decoded
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
    files = [_shown(path) for path in args.images]
    width = max(map(len, files))
    for file, result in zip(files, results, strict=True):
        top = "  ".join(f"{_shown(label)}: {100 * p:5.1f}%" for label, p in result["top"])
        print(f"{file:<{width}}  {_shown(result['label'])}   ({top})")
    return 0


def _shown(text: Any) -> str:
    """``str(text)`` with control and other unprintable characters escaped: a class label
    read from a model file never reaches the terminal as an escape sequence."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in str(text))


def _json_label(label: Any) -> Any:
    """A class label as a JSON scalar (NumPy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label
