"""scipy.sparse X in MLPClassifier and MLPRegressor: fitted and predicted without a dense
copy, and scaled as the same dense X would be."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
sparse = pytest.importorskip("scipy.sparse")
from estimator_fits import fit_quietly  # noqa: E402

from neural_network import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture
def counts(rng):
    """Non-negative features with zeros in every column (as word counts are)."""
    x = rng.poisson(0.7, size=(80, 12)).astype(np.float64)
    x[0] = 0.0
    return x, (x[:, :4].sum(axis=1) > x[:, 4:8].sum(axis=1)).astype(int)


@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array, sparse.csc_matrix])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("scale_inputs", [False, True])
def test_sparse_fit_matches_the_dense_fit(counts, container, solver, scale_inputs):
    x, y = counts
    params = {"hidden_layer_sizes": (6,), "solver": solver, "max_iter": 8, "random_state": 0,
              "scale_inputs": scale_inputs}  # fmt: skip
    dense = fit_quietly(MLPClassifier(**params), x, y)
    on_sparse = fit_quietly(MLPClassifier(**params), container(x), y)
    if scale_inputs:
        # Min-max scaling of a non-negative feature holding a 0 is division by its maximum.
        np.testing.assert_allclose(on_sparse.scaler_.scale_, dense.scaler_.scale_)
        assert not on_sparse.scaler_.min_.any()
    else:
        assert on_sparse.scaler_ is None and dense.scaler_ is None
    expected = dense.predict_proba(x)
    np.testing.assert_allclose(on_sparse.predict_proba(container(x)), expected, rtol=1e-7)
    np.testing.assert_allclose(on_sparse.predict_proba(x), expected, rtol=1e-7)


def test_sparse_x_is_never_densified(counts, monkeypatch):
    x, y = counts
    x_sparse = sparse.csr_matrix(x)

    def refuse(*args, **kwargs):
        raise AssertionError("the whole sparse X was densified")

    for name in ("toarray", "todense"):
        monkeypatch.setattr(sparse.csr_matrix, name, refuse)
    reg = fit_quietly(
        MLPRegressor((5,), early_stopping=True, max_iter=3, scale_inputs=True, random_state=0),
        x_sparse,
        y,
    )
    assert reg.predict(x_sparse).shape == (len(x),) and len(reg.validation_scores_) == 3
    fit_quietly(MLPClassifier((5,), solver="lbfgs", max_iter=3, random_state=0), x_sparse, y)


def test_sparse_features_of_both_signs_are_divided_by_their_largest_magnitude(rng):
    x = sparse.random(50, 4, density=0.3, random_state=0, format="csr") * 4
    x.data -= 2.0  # stored values in [-2, 2]
    y = rng.normal(size=50)
    reg = fit_quietly(MLPRegressor((3,), max_iter=2, scale_inputs=True, random_state=0), x, y)
    peak = abs(x).max(axis=0).toarray().ravel()
    np.testing.assert_allclose(reg.scaler_.scale_, 1 / peak)


def test_sparse_x_after_a_dense_fit_with_offsets_is_refused_by_name(counts):
    x, y = counts
    clf = fit_quietly(
        MLPClassifier((4,), max_iter=2, scale_inputs=True, random_state=0), x + 1.0, y
    )
    with pytest.raises(ValueError, match=r"X\.toarray\(\)"):
        clf.predict(sparse.csr_matrix(x))
    unscaled = fit_quietly(
        MLPClassifier((4,), max_iter=2, scale_inputs=False, random_state=0), x, y
    )
    np.testing.assert_allclose(
        unscaled.predict_proba(sparse.csr_matrix(x)), unscaled.predict_proba(x), rtol=1e-7
    )
