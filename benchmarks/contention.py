"""Speed on an idle machine and under a one-core background load, in one command.

Two comparisons of the classic MNIST network (``compare_speed.py``'s, epochs in turns):

1. idle: this library (``threads="auto"``) against the library in ``--baseline SRC`` (the
   code before threads were chosen, say), to show the choice costs nothing when every core
   is free;
2. one core kept busy by a spinning process for the whole comparison: ours (auto), ours with
   one BLAS thread, and PyTorch with its default threads.

Prints compare_speed's lines for each, then one JSON line with the ratios the targets are
stated in (ours/baseline idle <= 1.02; under load ours/ours-1thread <= 1.1 and
ours/PyTorch <= 1.0) and whether each holds.

    python benchmarks/contention.py --baseline /path/to/old/src --epochs 6
"""

from __future__ import annotations

import argparse
import json
import os

from compare_speed import compare

TARGETS = {
    "idle_ours_over_baseline": 1.02,
    "loaded_ours_over_ours-1thread": 1.1,
    "loaded_ours_over_pytorch": 1.0,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--baseline", metavar="SRC", help="the library to compare with, idle")
    parser.add_argument("--background-load", type=int, default=1, metavar="N")
    args = parser.parse_args()
    figures = {}
    # Other programs show in the load average: the "idle" figure means idle only if it stays
    # near 0 during the first comparison (and near --background-load during the second).
    load_average = {"start": os.getloadavg()[0]}
    if args.baseline:
        idle = compare(["ours"], epochs=args.epochs, seed=args.seed, baseline=args.baseline)
        figures["idle_ours_over_baseline"] = idle["ours_over_baseline"]["ratio"]
        load_average["after_idle"] = os.getloadavg()[0]
    loaded = compare(
        ["ours", "ours-1thread", "pytorch"],
        epochs=args.epochs,
        seed=args.seed,
        baseline=None,
        background_load=args.background_load,
    )
    for other in ("ours-1thread", "pytorch"):
        if f"ours_over_{other}" in loaded:
            figures[f"loaded_ours_over_{other}"] = loaded[f"ours_over_{other}"]["ratio"]
    load_average["end"] = os.getloadavg()[0]
    medians = {
        impl: loaded[impl]["median_epoch_s"]
        for impl in ("ours", "ours-1thread", "pytorch")
        if impl in loaded
    }
    held = {name: value <= TARGETS[name] for name, value in figures.items()}
    summary = {"loaded_median_epoch_s": medians, "ratios": figures, "targets": TARGETS}
    print(json.dumps({**summary, "held": held, "load_average_1min": load_average}))


if __name__ == "__main__":
    main()
