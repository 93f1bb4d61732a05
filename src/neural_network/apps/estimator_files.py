"""``MLPClassifier`` in model files: what ``save`` writes and ``load_model`` reads back.

The kind is ``"mlp_classifier"``: the network, the input scaler's two arrays, the class
labels, and a config of the constructor parameters, the label dtype, the feature names and
the History. The optimiser state is not kept.
"""

from __future__ import annotations

import numbers
import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.model import Sequential, build_mlp
from ..data.preprocessing import MinMaxScaler
from ..io.archive import ModelFileError
from ..io.model_files import ModelFile, read_history, save_model
from . import SCALER_ARRAYS

if TYPE_CHECKING:
    from .estimators import MLPClassifier

# Label dtypes a model file may restore ``classes_`` as: bool, integers, floats, strings.
_CLASS_DTYPE_KINDS = "biufUO"
_CONFIG_KEYS = {
    "params",
    "classes_dtype",
    "n_features_in",
    "feature_names_in",
    "history",
    "best_epoch",
    "best_validation_score",
}


def save_classifier(estimator: MLPClassifier, path: str | os.PathLike) -> None:
    """Write a fitted classifier to ``path`` (see ``MLPClassifier.save``)."""
    params = {key: _json_param(value) for key, value in estimator.get_params().items()}
    _check_architecture(estimator.model_, params, estimator.n_features_in_, len(estimator.classes_))
    feature_names = getattr(estimator, "feature_names_in_", None)
    config = {
        "params": params,
        "classes_dtype": estimator.classes_.dtype.str,
        "n_features_in": int(estimator.n_features_in_),
        "feature_names_in": None if feature_names is None else list(feature_names),
        "history": estimator.history_.to_dict(),
        "best_epoch": int(estimator.best_epoch_),
        "best_validation_score": estimator.best_validation_score_,
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
        kind="mlp_classifier",
        config=config,
        arrays=dict(zip(SCALER_ARRAYS, (state["min"], state["scale"]), strict=True)),
        classes=estimator.classes_.tolist(),
    )


def restore_classifier(cls: type[MLPClassifier], model_file: ModelFile) -> tuple[Any, dict]:
    """A fitted ``cls`` from a checked model file of kind ``"mlp_classifier"``, without its
    optimiser and generator (the caller adds them), and its checked settings.

    Raises:
        ModelFileError: for settings that are invalid or do not describe the network.
    """
    config, model = model_file.config, model_file.model
    if set(config) != _CONFIG_KEYS:
        raise ModelFileError(f"MLPClassifier config must have keys {sorted(_CONFIG_KEYS)}")
    params = config["params"]
    known = cls().get_params()
    if not isinstance(params, dict) or set(params) != set(known):
        raise ModelFileError(f"params must be an object with keys {sorted(known)}")
    if isinstance(params["hidden_layer_sizes"], list):
        params = {**params, "hidden_layer_sizes": tuple(params["hidden_layer_sizes"])}
    if params["random_state"] is not None and type(params["random_state"]) is not int:
        raise ModelFileError(f"random_state must be an int or null; got {params['random_state']!r}")
    estimator = cls(**params)
    try:
        settings = estimator._check_params()
    except ValueError as error:
        raise ModelFileError(f"invalid MLPClassifier parameters: {error}") from None
    n_features = config["n_features_in"]
    _check_architecture(model, params, n_features, model.n_classes, error=ModelFileError)

    dtype = config["classes_dtype"]
    if not isinstance(dtype, str) or np.dtype(dtype).kind not in _CLASS_DTYPE_KINDS:
        raise ModelFileError(f"classes dtype {dtype!r} is not a label dtype")
    classes = np.asarray(model_file.classes, dtype=np.dtype(dtype))
    if classes.ndim != 1 or classes.tolist() != model_file.classes:
        raise ModelFileError(f"classes {model_file.classes!r} do not fit dtype {dtype!r}")
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
    estimator.classes_ = classes
    estimator.model_ = model
    estimator.scaler_ = None
    if settings["scale_inputs"]:
        state = dict(
            zip(("min", "scale"), (model_file.arrays[k] for k in SCALER_ARRAYS), strict=True)
        )
        estimator.scaler_ = MinMaxScaler.from_state(state, dtype=np.float32)
    estimator.history_ = read_history(config["history"])
    estimator.n_iter_ = len(estimator.history_)
    estimator.loss_curve_ = list(estimator.history_.train_loss)
    estimator.val_loss_curve_ = list(estimator.history_.val_loss)
    estimator.validation_scores_ = list(estimator.history_.val_accuracy)
    best_epoch, best_score = config["best_epoch"], config["best_validation_score"]
    if type(best_epoch) is not int or not 0 <= best_epoch <= estimator.n_iter_:
        raise ModelFileError(f"best_epoch {best_epoch!r} is not an epoch of the history")
    if best_score is not None and not (
        isinstance(best_score, (int, float)) and 0 <= best_score <= 1
    ):
        raise ModelFileError(f"best_validation_score {best_score!r} is not an accuracy")
    estimator.best_epoch_, estimator.best_validation_score_ = best_epoch, best_score
    return estimator, settings


def _json_param(value):
    """A constructor parameter as JSON: tuples become lists, NumPy scalars Python ones, and a
    ``random_state`` object (not reproducible from a file) becomes ``None``."""
    if isinstance(value, (np.random.RandomState, np.random.Generator)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (tuple, list, np.ndarray)):
        return [_json_param(item) for item in value]
    return value


def _check_architecture(
    model: Sequential, params: dict, n_features: int, n_classes: int, *, error=ValueError
) -> None:
    """Raise ``error`` unless ``model`` is the network that ``params`` build for
    ``n_features`` inputs and ``n_classes`` classes (layer types, sizes, initialisers,
    activation settings, dropout rates and dtype)."""
    hidden = params["hidden_layer_sizes"]
    try:
        expected = build_mlp(
            n_features,
            [hidden] if isinstance(hidden, int) else list(hidden),
            n_classes,
            activation=params["activation"],
            dropout=params["dropout"] or None,
            rng=np.random.default_rng(0),
        ).get_config()
    except (TypeError, ValueError) as problem:
        raise error(f"the parameters do not describe a network: {problem}") from None
    if expected != model.get_config():
        raise error(
            "the network does not match the parameters hidden_layer_sizes="
            f"{hidden!r}, activation={params['activation']!r}, dropout={params['dropout']!r} "
            f"for {n_features} features and {n_classes} classes"
        )
