"""Grid search of ``MLPClassifier`` on scikit-learn's bundled digits (8x8 images, 10 classes).

A stratified 75/25 split; 5-fold cross-validated grid search on the 75 %, then the best
candidate, refitted on all of it, is scored on the held-out 25 %. For reference, the same
split is also scored by scikit-learn's own ``MLPClassifier`` with its defaults (inputs
min-max scaled as ours are). Prints two JSON lines: ours, then the reference.

    python benchmarks/digits_grid_search.py
    python benchmarks/digits_grid_search.py --n-jobs 4 --cv 3
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from neural_network import MLPClassifier

GRID = {
    "hidden_layer_sizes": [(64,), (128,), (128, 64)],
    "learning_rate_init": [1e-3, 3e-3],
    "alpha": [1e-4, 1e-3],
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits (joblib)")
    parser.add_argument("--cv", type=int, default=5, help="cross-validation folds")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    search = GridSearchCV(
        MLPClassifier(max_iter=args.epochs, scale_inputs=True, random_state=args.seed),
        GRID,
        cv=args.cv,
        n_jobs=args.n_jobs,
    )
    started = time.perf_counter()
    search.fit(x_train, y_train)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "estimator": "neural_network.MLPClassifier",
                "best_params": search.best_params_,
                "cv_accuracy": round(float(search.best_score_), 4),
                "test_accuracy": round(float(search.score(x_test, y_test)), 4),
                "n_candidates": len(search.cv_results_["params"]),
                "cv": args.cv,
                "n_train": len(x_train),
                "n_test": len(x_test),
                "seconds": round(seconds, 1),
            }
        )
    )

    reference = make_pipeline(MinMaxScaler(), SklearnMLPClassifier(random_state=args.seed))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference.fit(x_train, y_train)
    print(
        json.dumps(
            {
                "estimator": "sklearn.neural_network.MLPClassifier (defaults, one fit)",
                "test_accuracy": round(float(reference.score(x_test, y_test)), 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
