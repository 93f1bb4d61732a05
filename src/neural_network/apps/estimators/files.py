"""The estimators in model files: what ``save`` writes and ``load_model`` reads back.

Two kinds, ``"mlp_classifier"`` and ``"mlp_regressor"``, share one layout: the network, the
input scaler's two arrays, and a config of the constructor parameters, the feature names,
the History and the best epoch. The classifier adds its class labels (and their dtype), the
regressor the target standardisation's two arrays and the validation R² of each epoch. The
optimiser state and the early-stopping memory of ``partial_fit`` are not kept.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Any

import numpy as np

from ...core.model import Sequential, build_mlp
from ...data.preprocessing import MinMaxScaler
from ...io.archive import ModelFileError
from ...io.model_files import ModelFile, read_history, save_model
from .. import SCALER_ARRAYS
from .initial_weights import network_init

COMMON_KEYS = frozenset(
    {
        "params",
        "n_features_in",
        "feature_names_in",
        "history",
        "best_epoch",
        "best_validation_score",
        "schedule_start",
    }
)
# Parameters added after the first model files were written, and the values those files
# were trained with.
_ADDED_PARAMS = {
    "warm_start": False,
    "class_weight": None,
    "dtype": "float32",
    "init": None,
    "device": "cpu",
    # scikit-learn's names arrived later; files before them trained with these.
    "learning_rate": "constant",
    "power_t": 0.5,
    "shuffle": True,
    "momentum": 0.9,
    "nesterovs_momentum": False,
    "beta_1": 0.9,
    "beta_2": 0.999,
    "epsilon": 1e-8,
    "max_fun": 15000,
}
# Parameters renamed to scikit-learn's names: the old name in older files, the new one.
_RENAMED_PARAMS = {
    "lr": "learning_rate_init",
    "epochs": "max_iter",
    "l2": "alpha",
    "optimizer": "solver",
    "patience": "n_iter_no_change",
    "min_delta": "tol",
}


def save_estimator(
    estimator,
    path: str | os.PathLike,
    *,
    kind: str,
    config: dict,
    arrays: dict[str, np.ndarray],
    classes: list | None = None,
) -> None:
    """Write a fitted estimator to ``path``, with its kind's own ``config`` and ``arrays``."""
    params = {key: _json_param(value) for key, value in estimator.get_params().items()}
    check_architecture(estimator.model_, params, estimator.n_features_in_, estimator._n_outputs)
    estimator._check_fitted_preprocessing()
    feature_names = getattr(estimator, "feature_names_in_", None)
    common = {
        "params": params,
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": None if feature_names is None else list(feature_names),
        "history": estimator.history_.to_dict(),
        "best_epoch": int(estimator.best_epoch_),
        "best_validation_score": estimator.best_validation_score_,
        "schedule_start": int(getattr(estimator, "_schedule_start", 0)),
    }
    if estimator.scaler_ is not None:
        state = estimator.scaler_.get_state()
    else:  # the kind's arrays are fixed; without scaling they are stored but unused
        state = {
            "min": np.zeros(estimator.n_features_in_),
            "scale": np.ones(estimator.n_features_in_),
        }
    save_model(
        path,
        estimator.model_,
        kind=kind,
        config={**common, **config},
        arrays={**dict(zip(SCALER_ARRAYS, (state["min"], state["scale"]), strict=True)), **arrays},
        classes=classes,
    )


def restore_estimator(
    cls, model_file: ModelFile, *, n_outputs: int, own_keys: frozenset[str]
) -> tuple[Any, dict]:
    """A fitted ``cls`` from a checked model file, with what both kinds share restored and
    its checked settings; the caller restores its kind's own part.

    Raises:
        ModelFileError: for settings that are invalid or do not describe the network.
    """
    config, model = model_file.config, model_file.model
    keys = set(config)
    if keys | {"schedule_start"} != COMMON_KEYS | own_keys:  # older files: no schedule_start
        raise ModelFileError(
            f"{cls.__name__} config must have keys {sorted(COMMON_KEYS | own_keys)}"
        )
    params = config["params"]
    known = cls().get_params()
    if not isinstance(params, dict):
        raise ModelFileError(f"params must be an object with keys {sorted(known)}")
    if any(old in params for old in _RENAMED_PARAMS):  # written before the renaming
        params = {_RENAMED_PARAMS.get(key, key): value for key, value in params.items()}
        if type(params.get("n_iter_no_change")) is int:  # it counted epochs to stop after
            params["n_iter_no_change"] = max(params["n_iter_no_change"] - 1, 1)
    params = {**{k: v for k, v in _ADDED_PARAMS.items() if k in known}, **params}
    if set(params) != set(known):
        raise ModelFileError(f"params must be an object with keys {sorted(known)}")
    if isinstance(params["hidden_layer_sizes"], list):
        params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
    if isinstance(params.get("class_weight"), list):
        pairs = params["class_weight"]
        if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
            raise ModelFileError("class_weight must be a list of [label, weight] pairs")
        params["class_weight"] = {label: weight for label, weight in pairs}
    if params.get("n_iter_no_change") == "inf":
        params["n_iter_no_change"] = math.inf
    if params["random_state"] is not None and type(params["random_state"]) is not int:
        raise ModelFileError(f"random_state must be an int or null; got {params['random_state']!r}")
    estimator = cls(**params)
    try:
        settings = estimator._check_params()
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"invalid {cls.__name__} parameters: {error}") from None
    n_features = config["n_features_in"]
    if type(n_features) is not int:
        raise ModelFileError(f"n_features_in must be an integer; got {n_features!r}")
    check_architecture(model, params, n_features, n_outputs, error=ModelFileError)
    names = config["feature_names_in"]
    if names is not None:
        if not (
            isinstance(names, list)
            and len(names) == n_features
            and all(isinstance(name, str) for name in names)
        ):
            raise ModelFileError(f"feature_names_in must be {n_features} strings or null")
        estimator.feature_names_in_ = np.asarray(names, dtype=object)
    for key in SCALER_ARRAYS:
        if model_file.arrays[key].shape != (n_features,):
            raise ModelFileError(
                f"{key} has shape {model_file.arrays[key].shape}; expected ({n_features},)"
            )
    estimator.n_features_in_ = n_features
    estimator.model_ = model
    estimator.scaler_ = None
    if settings["scale_inputs"]:
        state = dict(
            zip(("min", "scale"), (model_file.arrays[k] for k in SCALER_ARRAYS), strict=True)
        )
        estimator.scaler_ = MinMaxScaler.from_state(state, dtype=model.dtype)
    estimator.history_ = read_history(config["history"])
    n_epochs = len(estimator.history_)
    schedule_start = config.get("schedule_start", 0)
    if type(schedule_start) is not int or not 0 <= schedule_start <= n_epochs:
        raise ModelFileError(f"schedule_start {schedule_start!r} is not an epoch of the history")
    best_epoch = config["best_epoch"]
    if type(best_epoch) is not int or not 0 <= best_epoch <= n_epochs:
        raise ModelFileError(f"best_epoch {best_epoch!r} is not an epoch of the history")
    estimator._schedule_start = schedule_start
    estimator._early_stopping = None
    estimator._rng = np.random.default_rng(params["random_state"])
    return estimator, settings


def finish_restoring(estimator, config: dict) -> None:
    """Set the fitted attributes from the restored History, once the kind's own part is
    restored (the validation scores included).

    Raises:
        ModelFileError: for a best validation score that is not a finite number, or one
            without validation scores.
    """
    estimator._set_fitted_attributes(0)
    score = config["best_validation_score"]
    if score is not None and not (
        estimator.validation_scores_ is not None
        and isinstance(score, (int, float))
        and not isinstance(score, bool)
        and math.isfinite(score)
    ):
        raise ModelFileError(f"best_validation_score {score!r} is not a score of the history")
    estimator.best_epoch_, estimator.best_validation_score_ = config["best_epoch"], score


def _json_param(value):
    """A constructor parameter as JSON: tuples become lists, NumPy scalars Python ones, an
    infinity ``"inf"``, and a ``random_state`` object (not reproducible from a file)
    becomes ``None``."""
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        # n_iter_no_change=np.inf (never stop early): JSON has no infinity.
        return "inf" if value == math.inf else float(value)
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_json_param(item) for item in value]
    if isinstance(value, dict):  # class_weight: JSON keys would have to be strings
        return [[_json_param(key), _json_param(item)] for key, item in value.items()]
    return value


# scikit-learn's activation names for this library's layers.
_SKLEARN_ACTIVATIONS = {"logistic": "sigmoid"}


def network_activation(name):
    """The library's activation for an estimator's ``activation`` (scikit-learn's
    ``"logistic"`` is the ``"sigmoid"`` layer)."""
    return _SKLEARN_ACTIVATIONS.get(name, name) if isinstance(name, str) else name


def check_architecture(
    model: Sequential, params: dict, n_features: int, n_outputs: int, *, error=ValueError
) -> None:
    """Raise ``error`` unless ``model`` is the network that ``params`` build for
    ``n_features`` inputs and ``n_outputs`` outputs (layer types, sizes, initialisers,
    activation settings, dropout rates and dtype)."""
    hidden = params["hidden_layer_sizes"]
    try:
        expected = build_mlp(
            n_features,
            [hidden] if isinstance(hidden, int) else list(hidden),
            n_outputs,
            activation=network_activation(params["activation"]),
            dropout=params["dropout"] or None,
            init=network_init(params.get("init")),
            rng=np.random.default_rng(0),
            dtype=params.get("dtype", "float32") or model.dtype,  # None: the input's
        ).get_config()
    except (TypeError, ValueError) as problem:
        raise error(f"the parameters do not describe a network: {problem}") from None
    if expected != model.get_config():
        raise error(
            "the network does not match the parameters hidden_layer_sizes="
            f"{hidden!r}, activation={params['activation']!r}, dropout={params['dropout']!r} "
            f"for {n_features} features and {n_outputs} outputs"
        )
