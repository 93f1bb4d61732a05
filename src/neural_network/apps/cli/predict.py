"""``neural-network predict``: classify pictures of digits, or ``.npy`` arrays."""

from __future__ import annotations

import argparse
import io
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...data.images import FIELD, load_digit
from ...data.ink import PLAIN_READING, PlainReadingWarning
from ...io.atomic import write_atomically
from .errors import CommandError
from .models import class_probabilities, load_model_file
from .options import Option, flag_type, positive_int


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """The ``predict`` subcommand and its options."""
    command = commands.add_parser(
        "predict",
        parents=[common],
        help="classify image files",
        description="Classify pictures of digits (phone photos, scans, drawings: PNG, JPEG, "
        "... of any size; dark on light or light on dark; photos are cleaned up with "
        'scikit-image, pip install "neural-network[photos]") or .npy arrays of 28x28 values '
        "in 0-255 (used as they are).",
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
    command.add_argument(
        "--show-input",
        metavar="DIR",
        help="write the 28x28 input the network was given for each image, as DIR/NAME.png "
        "(a new or empty folder's files are never overwritten)",
    )
    command.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """``neural-network predict``."""
    model = load_model_file(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PlainReadingWarning)
        x = np.stack([load_digit(path) for path in args.images])
    for warning in caught:
        if issubclass(warning.category, PlainReadingWarning):
            print(f"neural-network: note: {PLAIN_READING}", file=sys.stderr)
            break
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if args.show_input is not None:
        write_inputs(args.show_input, args.images, x)
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


def input_names(images: list[str]) -> list[str]:
    """One PNG name per image file, all different: its name's stem, numbered when two stems
    are the same, skipping numbers another file's own name takes (``a.png a.jpg a-1.png``
    gives ``a-2.png a-3.png a-1.png``). Names are compared ignoring case, as macOS and
    Windows file systems do."""
    stems = [Path(path).stem or "image" for path in images]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem.casefold()] = counts.get(stem.casefold(), 0) + 1
    taken = {f"{stem}.png".casefold() for stem in stems if counts[stem.casefold()] == 1}
    names, number = [], dict.fromkeys(counts, 0)
    for stem in stems:
        key = stem.casefold()
        if counts[key] == 1:
            names.append(f"{stem}.png")
            continue
        while True:
            number[key] += 1
            name = f"{stem}-{number[key]}.png"
            if name.casefold() not in taken:
                break
        taken.add(name.casefold())
        names.append(name)
    return names


def write_inputs(folder: str, images: list[str], x: np.ndarray) -> None:
    """Each row of ``x`` as a 28x28 grey PNG in ``folder``, named after its image file.

    Raises:
        CommandError: if ``folder`` is a file, or one of the PNGs exists already (nothing is
            written then).
    """
    from PIL import Image

    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--show-input: {folder} is not a folder")
    targets = [out / name for name in input_names(images)]
    existing = [str(target) for target in targets if target.exists()]
    if existing:
        raise CommandError(f"--show-input: {existing[0]} exists; choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    for target, row in zip(targets, x, strict=True):
        buffer = io.BytesIO()
        Image.fromarray(row.reshape(FIELD, FIELD).astype(np.uint8)).save(buffer, format="PNG")
        write_atomically(target, buffer.getvalue())


def _shown(text: Any) -> str:
    """``str(text)`` with control and other unprintable characters escaped: a class label
    read from a model file never reaches the terminal as an escape sequence."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in str(text))


def _json_label(label: Any) -> Any:
    """A class label as a JSON scalar (NumPy scalars become Python ones)."""
    return label.item() if isinstance(label, np.generic) else label
