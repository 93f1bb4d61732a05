"""scipy.sparse inputs: the first Dense layer's products, training, evaluation, prediction and
L-BFGS on CSR/CSC matrices give what the dense arrays give, without densifying."""

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.layers import Dense, Dropout
from neural_network.core.model import Sequential, build_mlp
from neural_network.core.sparse import is_sparse
from neural_network.optim.optimizers import SGD, Adam
from neural_network.train.lbfgs import train_lbfgs
from neural_network.train.loop import evaluate, fit

sparse = pytest.importorskip("scipy.sparse")

FORMATS = {
    "csr_matrix": sparse.csr_matrix,
    "csc_matrix": sparse.csc_matrix,
    "csr_array": sparse.csr_array,
    "coo_matrix": sparse.coo_matrix,
}


def _problem(rng, n=90, n_features=12, density=0.25):
    x = sparse.random(n, n_features, density=density, format="csr", random_state=rng)
    x.data = rng.uniform(0.1, 1.0, size=x.nnz)
    dense = x.toarray()
    labels = (dense[:, :4].sum(axis=1) > dense[:, 4:8].sum(axis=1)).astype(int)
    return x, dense, labels


def _model(n_features=12, dtype=np.float64):
    return build_mlp(n_features, [7], 2, rng=np.random.default_rng(3), dtype=dtype)


def test_is_sparse_tells_matrices_from_arrays(rng):
    x, dense, _ = _problem(rng)
    assert is_sparse(x) and is_sparse(x.tocsc()) and is_sparse(sparse.csr_array(x))
    assert not is_sparse(dense) and not is_sparse([[1.0]]) and not is_sparse(None)


def test_dense_layer_products_with_a_sparse_batch(rng):
    x, dense, _ = _problem(rng, n=10)
    layer = Dense(12, 5, rng=rng, dtype=np.float64)
    g = rng.standard_normal((10, 5))
    out = layer.forward(x, training=True)
    assert isinstance(out, np.ndarray)
    layer.backward(g, input_grad=False)
    sparse_grads = layer.weight.grad.copy(), layer.bias.grad.copy()
    np.testing.assert_allclose(out, layer.forward(dense, training=True), rtol=1e-12, atol=1e-15)
    layer.backward(g)
    np.testing.assert_allclose(sparse_grads[0], layer.weight.grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(sparse_grads[1], layer.bias.grad)

    def f():
        return float(np.sum(layer.forward(x) * g))

    layer.forward(x, training=True)
    layer.backward(g)
    numeric = numerical_gradient(f, layer.weight.value)
    assert_gradient_close(layer.weight.grad, numeric, name="weight (sparse x)")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_on_sparse_equals_fit_on_dense(rng, fmt, weighted):
    x, dense, labels = _problem(rng)
    weights = rng.uniform(0.0, 2.0, size=90) if weighted else None
    if weighted:
        weights[:5] = 0.0  # rows of weight 0 are dropped: a gather of sparse rows
    results = []
    for inputs in (dense, FORMATS[fmt](x)):
        model = _model()
        history = fit(
            model, inputs, labels, optimizer=Adam(model.flat, lr=0.01), epochs=3,
            batch_size=16, rng=np.random.default_rng(4), sample_weight=weights,
            validation_data=(inputs, labels), threads=1,
        )  # fmt: skip
        results.append((model.flat.values, history))
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(results[1][1].train_loss, results[0][1].train_loss, rtol=1e-10)
    np.testing.assert_allclose(results[1][1].val_loss, results[0][1].val_loss, rtol=1e-10)
    assert results[1][1].val_accuracy == results[0][1].val_accuracy


def test_predictions_and_evaluation_on_sparse_equal_dense(rng):
    x, dense, labels = _problem(rng)
    model = _model(dtype=np.float32)
    np.testing.assert_allclose(
        model.predict_proba(x.tocsc(), batch_size=16), model.predict_proba(dense), rtol=1e-6
    )
    np.testing.assert_allclose(
        model.predict_logits(x), model.predict_logits(dense), rtol=1e-5, atol=1e-6
    )
    assert np.array_equal(model.predict(x), model.predict(dense))
    sparse_loss, sparse_accuracy = evaluate(model, x, labels, batch_size=16)
    dense_loss, dense_accuracy = evaluate(model, dense.astype(np.float32), labels)
    assert sparse_loss == pytest.approx(dense_loss, rel=1e-6)
    assert sparse_accuracy == dense_accuracy


def test_lbfgs_on_sparse_equals_dense(rng):
    x, dense, labels = _problem(rng)
    results = []
    for inputs in (dense, x):
        model = _model()
        results.append(train_lbfgs(model, inputs, labels, alpha=1e-3, maxiter=20).loss)
    assert results[1] == pytest.approx(results[0], rel=1e-9)


def test_training_on_a_huge_sparse_matrix_never_densifies_it():
    """3,000 rows of 200,000 features, 10 non-zeros a row: 2.4 GB dense in float32, 0.36 MB
    of non-zeros. Training and predicting stay far below even one dense batch (100 MB)."""
    rng = np.random.default_rng(0)
    n, n_features, per_row = 3000, 200_000, 10
    columns = rng.integers(0, n_features, size=n * per_row)
    rows = np.repeat(np.arange(n), per_row)
    values = rng.uniform(0.5, 1.0, size=n * per_row).astype(np.float32)
    x = sparse.csr_matrix((values, (rows, columns)), shape=(n, n_features))
    labels = (columns.reshape(n, per_row) < n_features // 2).sum(axis=1) > per_row // 2
    model = build_mlp(n_features, [8], 2, rng=rng)
    optimizer = SGD(model.flat, lr=0.5, momentum=0.9)
    tracemalloc.start()
    try:
        history = fit(
            model, x, labels.astype(int), optimizer=optimizer, epochs=2, batch_size=128,
            rng=rng, threads=1,
        )  # fmt: skip
        predictions = model.predict(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    weights_bytes = model.flat.values.nbytes  # 6.4 MB: the gradient of W is as large
    assert peak < 6 * weights_bytes < 0.02 * n * n_features * 4
    assert history.train_loss[-1] < history.train_loss[0]
    assert (predictions == labels).mean() > 0.6


def test_sparse_input_needs_a_dense_first_layer(rng):
    x, _, labels = _problem(rng)
    model = Sequential([Dropout(0.0), Dense(12, 2, rng=rng)])
    with pytest.raises(ValueError, match="first layer is Dense"):
        fit(model, x, labels, optimizer=Adam(model.flat), epochs=1)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda x: x[:, :5], "5 features but the model expects 12"),
        (lambda x: x.multiply(np.nan).tocsr(), "NaN or infinite"),
    ],
)
def test_bad_sparse_input_is_named(rng, change, match):
    x, _, labels = _problem(rng)
    x = change(x)
    model = _model()
    with pytest.raises(ValueError, match=match):
        fit(model, x, labels, optimizer=Adam(model.flat), epochs=1)


def test_unscaled_sparse_input_warns(rng):
    x, _, labels = _problem(rng)
    model = _model()
    with pytest.warns(UserWarning, match="unscaled"):
        fit(model, x * 1000.0, labels, optimizer=Adam(model.flat), epochs=1)


def test_dense_training_does_not_import_scipy():
    code = (
        "import sys, numpy as np; from neural_network import Adam, build_mlp, fit\n"
        "m = build_mlp(4, [3], 2); x = np.random.rand(20, 4).astype(np.float32)\n"
        "fit(m, x, np.arange(20) % 2, optimizer=Adam(m.flat), epochs=1); m.predict(x)\n"
        "assert 'scipy' not in sys.modules, 'scipy was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
