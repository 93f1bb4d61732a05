"""MLPRegressor: fitting, target shapes and standardisation, Huber, model files, pipelines."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from neural_network import MLPRegressor, load_model  # noqa: E402
from neural_network.io.model_files import MODEL_KINDS, read_model_file  # noqa: E402


@pytest.fixture(scope="module")
def diabetes():
    x, y = load_diabetes(return_X_y=True)
    return train_test_split(x, y, test_size=0.25, random_state=0)


def _friedman_like(rng, n=300, n_outputs=None):
    x = rng.uniform(size=(n, 5))
    y = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3]
    if n_outputs is None:
        return x, y
    return x, np.stack([y * (j + 1) + 100 * j for j in range(n_outputs)], axis=1)


def test_learns_diabetes_and_score_is_r2(diabetes):
    x_train, x_test, y_train, y_test = diabetes
    reg = MLPRegressor((32,), max_iter=200, random_state=0).fit(x_train, y_train)
    assert reg.score(x_test, y_test) == pytest.approx(r2_score(y_test, reg.predict(x_test)))
    assert reg.score(x_test, y_test) > 0.3  # ridge regression: 0.37 on this split
    assert reg.predict(x_test).shape == y_test.shape
    assert reg.n_iter_ == len(reg.loss_curve_) == 200
    assert reg.best_loss_ == min(reg.loss_curve_)
    assert reg.validation_scores_ is None


def test_multi_output_targets_in_their_own_units(rng):
    x, y = _friedman_like(rng, n_outputs=3)
    reg = MLPRegressor((64,), learning_rate_init=5e-3, max_iter=150, random_state=0).fit(x, y)
    assert reg.n_outputs_ == 3
    assert reg.predict(x).shape == (300, 3)
    assert reg.score(x, y) > 0.9
    np.testing.assert_allclose(reg.target_mean_, y.mean(axis=0))
    # A (n, 1) target predicts (n, 1); a 1-D one predicts 1-D.
    column = MLPRegressor((8,), max_iter=2, random_state=0).fit(x, y[:, :1])
    assert column.predict(x).shape == (300, 1)


def test_without_standardisation_the_network_sees_raw_targets(rng):
    x, y = _friedman_like(rng)
    raw = MLPRegressor((16,), max_iter=3, standardize_targets=False, random_state=0).fit(x, y)
    standard = MLPRegressor((16,), max_iter=3, random_state=0).fit(x, y)
    assert raw.target_mean_ is None
    # Half the squared error of targets around 14 in their units, against about 1/2 of a
    # standard deviation's square.
    assert raw.loss_curve_[0] > 20 * standard.loss_curve_[0]


def test_huber_resists_outliers(rng):
    x = rng.uniform(-1, 1, size=(400, 1))
    y = 3 * x[:, 0]
    y_dirty = y.copy()
    y_dirty[::10] += 50  # a tenth of the targets are far off
    fits = {
        # Trained until the training loss levels off (about 25 epochs each).
        loss: MLPRegressor((), loss=loss, learning_rate_init=0.05, max_iter=60, random_state=0).fit(
            x, y_dirty
        )
        for loss in ("squared_error", "huber")
    }
    errors = {loss: np.abs(reg.predict(x) - y).mean() for loss, reg in fits.items()}
    assert errors["huber"] < 0.5 * errors["squared_error"]


def test_early_stopping_scores_validation_r2(rng):
    x, y = _friedman_like(rng)
    reg = MLPRegressor((32,), max_iter=300, early_stopping=True, n_iter_no_change=3, random_state=0)
    reg.fit(x, y)
    assert reg.n_iter_ < 300
    assert len(reg.validation_scores_) == len(reg.val_loss_curve_) == reg.n_iter_
    assert reg.best_loss_ is None
    assert reg.best_validation_score_ == reg.validation_scores_[reg.best_epoch_ - 1]
    assert -1 < reg.best_validation_score_ <= 1


@pytest.mark.parametrize(
    "params",
    [
        {"loss": "huber", "huber_delta": 0.5, "random_state": 2},
        {"standardize_targets": False, "scale_inputs": False},
        {"early_stopping": True, "dropout": 0.1, "dtype": "float64"},
    ],
)
@pytest.mark.parametrize("n_outputs", [None, 2])
def test_save_and_load_round_trip(tmp_path, rng, params, n_outputs):
    x, y = _friedman_like(rng, n=80, n_outputs=n_outputs)
    reg = MLPRegressor((8, 4), max_iter=5, **params).fit(x, y)
    reg.save(tmp_path / "reg.npz")
    loaded = load_model(tmp_path / "reg.npz")
    assert isinstance(loaded, MLPRegressor)
    assert loaded.get_params() == reg.get_params()
    np.testing.assert_array_equal(loaded.predict(x), reg.predict(x))
    assert loaded.loss_curve_ == reg.loss_curve_
    assert loaded.validation_scores_ == reg.validation_scores_
    assert (loaded.best_epoch_, loaded.best_validation_score_) == (
        reg.best_epoch_,
        reg.best_validation_score_,
    )
    # a fresh optimiser continues from the loaded weights (partial_fit refuses early stopping)
    loaded.set_params(warm_start=True, max_iter=1).fit(x, y)
    assert len(loaded.loss_curve_) == len(reg.loss_curve_) + 1


def test_the_kind_is_loaded_lazily_and_checked(tmp_path, rng):
    assert MODEL_KINDS["mlp_regressor"].loader == (
        "neural_network.apps.estimators:MLPRegressor._from_model_file"
    )
    x, y = _friedman_like(rng, n=40)
    MLPRegressor((4,), max_iter=1).fit(x, y).save(tmp_path / "reg.npz")
    assert read_model_file(tmp_path / "reg.npz").kind == "mlp_regressor"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"loss": "gamma"}, "loss"),
        ({"huber_delta": 0.0}, "huber_delta"),
        ({"standardize_targets": "yes"}, "standardize_targets"),
        ({"dtype": "float16"}, "dtype"),
        ({"init": "zeros"}, "init"),
    ],
)
def test_invalid_parameters_are_rejected_in_fit(params, message):
    with pytest.raises(ValueError, match=message):
        MLPRegressor(**params).fit(np.zeros((4, 2)), np.arange(4.0))


def test_partial_fit_refuses_another_number_of_outputs(rng):
    x, y = _friedman_like(rng, n=20, n_outputs=2)
    reg = MLPRegressor((4,)).partial_fit(x, y)
    with pytest.raises(ValueError, match="outputs"):
        reg.partial_fit(x, y[:, 0])


def test_pipeline_and_grid_search(diabetes):
    x_train, x_test, y_train, y_test = diabetes
    pipeline = make_pipeline(
        StandardScaler(), MLPRegressor(max_iter=60, scale_inputs=False, random_state=0)
    )
    search = GridSearchCV(
        pipeline, {"mlpregressor__hidden_layer_sizes": [(16,), (32,)]}, cv=3, n_jobs=2
    )
    search.fit(x_train, y_train)
    assert search.best_score_ > 0.2
    assert search.score(x_test, y_test) > 0.2
