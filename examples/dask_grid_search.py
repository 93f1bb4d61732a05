"""A hyperparameter search for ``MLPClassifier`` spread over a Dask cluster through joblib.

scikit-learn's ``GridSearchCV`` runs its fits through joblib; inside
``joblib.parallel_config(backend="dask")`` joblib hands them to the Dask cluster of the
current ``dask.distributed.Client``, so the search code is the same as on one machine.
The estimator, its parameters and the data are pickled to the workers; every worker needs
``neural_network`` (and scikit-learn) importable, in the same versions as the client.

Install::

    pip install "neural-network[dask]"

Run on a local cluster started by this script (workers on this machine, on 127.0.0.1)::

    python examples/dask_grid_search.py --n-workers 2

Run on an existing cluster, for instance one started by hand::

    dask scheduler                                  # on the scheduler host; prints its address
    dask worker tcp://SCHEDULER_HOST:8786 --nworkers 4 --nthreads 1   # on every worker host
    python examples/dask_grid_search.py --scheduler tcp://SCHEDULER_HOST:8786

Use one thread per worker process (``--nthreads 1``): the training loop holds the GIL between
NumPy calls, so processes, not threads, give parallel fits. ``--quick`` searches a tiny grid
on a subset of the data (a smoke test). The script prints one JSON object: the best
parameters, their mean cross-validated accuracy, and the accuracy on a held-out test split.
"""

from __future__ import annotations

import argparse
import json
import time

import joblib
from dask.distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split

from neural_network import MLPClassifier

FULL_GRID = {
    "hidden_layer_sizes": [(64,), (128,), (128, 64)],
    "learning_rate_init": [1e-3, 3e-3],
    "alpha": [1e-4, 1e-3],
}
QUICK_GRID = {"hidden_layer_sizes": [(16,), (32,)], "learning_rate_init": [3e-3]}


def search_digits(*, quick: bool, cv: int, seed: int) -> dict:
    """Grid-search ``MLPClassifier`` on scikit-learn's bundled digits with the joblib Dask
    backend; needs a current ``dask.distributed.Client``.

    Args:
        quick: A two-candidate grid of small networks trained for 20 epochs.
        cv: Number of cross-validation folds.
        seed: Seed of the split and of every network.

    Returns:
        ``best_params``, ``cv_accuracy``, ``test_accuracy``, ``n_fits`` and ``seconds``.
    """
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=seed
    )
    grid = QUICK_GRID if quick else FULL_GRID
    estimator = MLPClassifier(max_iter=20 if quick else 100, random_state=seed)
    search = GridSearchCV(estimator, grid, cv=cv, n_jobs=-1)
    started = time.perf_counter()
    with joblib.parallel_config(backend="dask"):
        search.fit(x_train, y_train)
    return {
        "best_params": search.best_params_,
        "cv_accuracy": round(float(search.best_score_), 4),
        "test_accuracy": round(float(search.score(x_test, y_test)), 4),
        "n_fits": cv * len(search.cv_results_["params"]),
        "seconds": round(time.perf_counter() - started, 2),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scheduler", help="address of a running scheduler, e.g. tcp://10.0.0.5:8786"
    )
    parser.add_argument("--n-workers", type=int, default=2, help="workers of a local cluster")
    parser.add_argument(
        "--processes",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="local workers as processes (default) or as threads of this process",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface of a local cluster")
    parser.add_argument("--cv", type=int, default=3, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a tiny grid, for a smoke test")
    args = parser.parse_args(argv)

    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(
            n_workers=args.n_workers,
            threads_per_worker=1,
            processes=args.processes,
            host=args.host,
            # TCP even for thread workers, so that the search goes over the network stack.
            protocol="tcp://",
            dashboard_address=None,
        )
        client = Client(cluster)
    with client:
        result = search_digits(quick=args.quick, cv=args.cv, seed=args.seed)
        result["workers"] = len(client.scheduler_info()["workers"])
        if not args.scheduler:
            client.cluster.close()
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
