"""examples/dask_grid_search.py runs a grid search on a local Dask cluster on 127.0.0.1."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("dask.distributed")

ROOT = Path(__file__).resolve().parents[2]


def test_dask_grid_search_example_runs_on_a_local_cluster():
    # One worker, a thread of the example's process (cheaper to start than a process), still
    # reached by the scheduler and client over TCP on 127.0.0.1. Pickling the estimator to
    # other processes is covered by the GridSearchCV(n_jobs=2) test of test_estimator.py.
    command = [
        sys.executable,
        str(ROOT / "examples" / "dask_grid_search.py"),
        "--quick",
        "--n-workers=1",
        "--no-processes",
        "--host=127.0.0.1",
    ]
    # The example must import neural_network whether or not it is installed.
    python_path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": python_path}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["workers"] == 1
    assert result["n_fits"] == 6
    assert set(result["best_params"]) == {"hidden_layer_sizes", "learning_rate_init"}
    assert result["test_accuracy"] > 0.8
