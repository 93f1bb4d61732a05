"""scikit-learn compatible ``MLPClassifier`` and ``MLPRegressor`` built on this library's
network and training loop.

Needs scikit-learn (``pip install "neural-network[sklearn]"``). ``import neural_network``
does not import this package; ``neural_network.MLPClassifier`` and
``neural_network.MLPRegressor`` import it on first access.

They follow scikit-learn's estimator contract, so they sit in a ``Pipeline``, are cloned by
``GridSearchCV`` and ``cross_val_score``, and are pickled to worker processes (joblib's loky
or Dask backend)::

    from sklearn.model_selection import GridSearchCV
    from neural_network import MLPClassifier

    search = GridSearchCV(
        MLPClassifier(random_state=0), {"hidden_layer_sizes": [(64,), (128,)]}, n_jobs=2
    )
    search.fit(x_train, y_train)

The modules: ``base`` (what both share: parameters, network, training, warm starts),
``classifier``, ``regressor``, ``weights`` (sample and class weights) and ``files`` (their
model files).
"""

from .classifier import MLPClassifier
from .regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
