"""Applications on top of the library: the classic ``NeuralNetwork`` API, the scikit-learn
estimators, training presets, plotting, the ``neural-network`` command and its web demo.

The model kinds these applications save are registered here, with loaders that are imported
only when a file of that kind is read (scikit-learn stays optional).
"""

from ..io.model_files import register_model_kind

SCALER_ARRAYS = ("scaler.min", "scaler.scale")
TARGET_ARRAYS = ("target.mean", "target.scale")

register_model_kind(
    "neural_network",
    "neural_network.apps.classic:NeuralNetwork._from_model_file",
    arrays=SCALER_ARRAYS,
)
register_model_kind(
    "mlp_classifier",
    "neural_network.apps.estimators:MLPClassifier._from_model_file",
    arrays=SCALER_ARRAYS,
)
register_model_kind(
    "mlp_regressor",
    "neural_network.apps.estimators:MLPRegressor._from_model_file",
    arrays=(*SCALER_ARRAYS, *TARGET_ARRAYS),
)
