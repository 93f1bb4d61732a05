"""One optimiser step on the classic network's parameters: NumPy's passes against the compiled loop.

Times ``optimizer.step()`` (L2, the global norm, clipping when it applies, the update rule)
and its parts on the flat buffers of 784-512-256-128-10 in float32 (567k parameters), with
the compiled loops of ``neural_network.optim.cpu_kernels`` switched off and on, in turns, on
one BLAS thread. Prints one JSON line per optimiser and code path, then the ratios.

    python benchmarks/update_step.py
    python benchmarks/update_step.py --repeats 9 --steps 300
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_limits

from neural_network.core.model import build_mlp
from neural_network.optim import cpu_kernels
from neural_network.optim.optimizers import SGD, Adam

OPTIMIZERS = {
    "adam": lambda flat: Adam(flat, lr=1e-3, l2=1e-4, clip_norm=5.0),
    "sgd-momentum": lambda flat: SGD(flat, lr=0.01, momentum=0.9, l2=1e-4, clip_norm=5.0),
}


def time_steps(make_optimizer, compiled: bool, steps: int) -> tuple[float, float]:
    """Median milliseconds of one ``step()`` and of its ``_update`` alone."""
    cpu_kernels.ENABLED = compiled
    model = build_mlp(784, [512, 256, 128], 10, rng=np.random.default_rng(0), dtype=np.float32)
    optimizer = make_optimizer(model.flat)
    gradient = np.random.default_rng(1).standard_normal(model.flat.size, dtype=np.float32)
    gradient *= np.float32(1e-3)  # below the clipping bound, as in most of a run's steps
    step_ms, update_ms = [], []
    for _ in range(steps):
        model.flat.grads[:] = gradient
        start = time.perf_counter()
        optimizer.step()
        step_ms.append((time.perf_counter() - start) * 1e3)
        model.flat.grads[:] = gradient
        start = time.perf_counter()
        optimizer._update(optimizer._scratch, flush=False)
        update_ms.append((time.perf_counter() - start) * 1e3)
    return statistics.median(step_ms[10:]), statistics.median(update_ms[10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="turns of NumPy, then compiled")
    args = parser.parse_args()
    if cpu_kernels.compiled() is None:
        raise SystemExit("Numba is not installed (pip install numba): nothing to compare")
    with threadpool_limits(1):
        for name, make in OPTIMIZERS.items():
            results = {False: [], True: []}
            for _ in range(args.repeats):
                for compiled in (False, True):
                    results[compiled].append(time_steps(make, compiled, args.steps))
            for compiled, runs in results.items():
                line = {
                    "optimizer": name,
                    "code": "compiled loop" if compiled else "NumPy passes",
                    "step_ms": round(statistics.median(r[0] for r in runs), 3),
                    "update_rule_ms": round(statistics.median(r[1] for r in runs), 3),
                }
                print(json.dumps(line), flush=True)
            numpy_step = statistics.median(r[0] for r in results[False])
            compiled_step = statistics.median(r[0] for r in results[True])
            ratio = round(compiled_step / numpy_step, 3)
            print(json.dumps({"optimizer": name, "compiled_over_numpy_step": ratio}))
    print(json.dumps({"load_average": [round(x, 2) for x in os.getloadavg()]}))


if __name__ == "__main__":
    main()
