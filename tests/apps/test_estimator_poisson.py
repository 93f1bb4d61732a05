"""MLPRegressor(loss="poisson"): half the Poisson deviance with a log link."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
from estimator_fits import fit_quietly
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_poisson_deviance

from neural_network import MLPRegressor, load_model


@pytest.fixture
def counts(rng):
    x = rng.normal(size=(150, 3))
    return x, rng.poisson(np.exp(0.4 * x[:, 0] - 0.3 * x[:, 1] + 1.0)).astype(float)


def test_poisson_without_hidden_layers_is_the_poisson_glm(counts):
    x, y = counts
    reg = MLPRegressor((), loss="poisson", solver="lbfgs", alpha=0.0, tol=1e-10,
                       scale_inputs=False, random_state=0).fit(x, y)  # fmt: skip
    glm = PoissonRegressor(alpha=0.0, tol=1e-10).fit(x, y)
    assert reg.out_activation_ == "exp" and reg.target_mean_ is None
    # L-BFGS stops on scipy's relative-decrease test, a few 1e-6 from the optimum.
    np.testing.assert_allclose(reg.predict(x), glm.predict(x), rtol=5e-5)
    np.testing.assert_allclose(reg.coefs_[0][:, 0], glm.coef_, atol=1e-5)


def test_poisson_loss_is_half_the_mean_deviance(counts):
    x, y = counts
    reg = fit_quietly(
        MLPRegressor((4,), loss="poisson", solver="lbfgs", alpha=0.0, max_iter=30, random_state=0),
        x,
        y,
    )
    predicted = reg.predict(x)
    assert (predicted > 0).all()
    assert reg.loss_ == pytest.approx(mean_poisson_deviance(y, predicted) / 2, rel=1e-9)


def test_poisson_refuses_negative_targets_by_name(counts):
    x, y = counts
    with pytest.raises(ValueError, match=r'loss="poisson" needs targets >= 0'):
        MLPRegressor((3,), loss="poisson").fit(x, y - 5)


def test_poisson_early_stopping_warm_start_and_files(counts, tmp_path):
    x, y = counts
    reg = MLPRegressor((4,), loss="poisson", early_stopping=True, warm_start=True, max_iter=5,
                       learning_rate_init=0.01, random_state=0)  # fmt: skip
    fit_quietly(reg, x, y)
    fit_quietly(reg, x, y)  # standardize_targets=True does not apply to counts: nothing to refuse
    assert len(reg.validation_scores_) == 10 and reg.target_mean_ is None
    reg.save(tmp_path / "poisson.npz")
    loaded = load_model(tmp_path / "poisson.npz")
    np.testing.assert_array_equal(loaded.predict(x), reg.predict(x))
    assert loaded.out_activation_ == "exp"


def test_poisson_validation_r2_is_of_the_means_not_the_log_means():
    from types import SimpleNamespace

    from sklearn.metrics import r2_score

    from neural_network.apps.estimators.regressor import ValidationR2

    log_means = np.array([[0.0], [1.0], [2.0], [0.5]])
    targets = np.array([[1.0], [3.0], [7.0], [2.0]])
    model = SimpleNamespace(forward=lambda x, training: x)
    run = SimpleNamespace(model=model, validation_data=(log_means, targets))
    scores = []
    ValidationR2(scores, log_link=True).on_epoch_end(run)
    assert scores == [pytest.approx(r2_score(targets, np.exp(log_means)))]
