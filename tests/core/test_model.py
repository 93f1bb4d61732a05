"""Sequential and build_mlp: whole-model gradient checks, prediction, configs, overfitting."""

import json
import warnings

import numpy as np
import pytest
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network.core.activations import ACTIVATIONS, LeakyReLU, ReLU
from neural_network.core.layers import Dense, Dropout
from neural_network.core.losses import SoftmaxCrossEntropy, add_l2_grad, l2_penalty
from neural_network.core.model import Sequential, build_mlp
from neural_network.optim.optimizers import Adam

L2 = 0.05


def _model64(rng, activation, n_features=4, hidden=(5, 4), n_classes=3):
    model = build_mlp(
        n_features, list(hidden), n_classes, activation=activation, rng=rng, dtype=np.float64
    )
    # Non-zero biases, so that every bias gradient is exercised.
    for p in model.flat.params:
        if not p.decay:
            p.value[...] = 0.1 * rng.standard_normal(p.value.shape)
    return model


def _min_distance_to_kink(model, x):
    """Smallest |pre-activation| feeding a ReLU-family layer (inf if there is none)."""
    smallest = np.inf
    for layer in model.layers:
        if isinstance(layer, (ReLU, LeakyReLU)):
            smallest = min(smallest, float(np.min(np.abs(x))))
        x = layer.forward(x, training=False)
    return smallest


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_model_gradient_with_l2(rng, activation):
    model = _model64(rng, activation)
    x = rng.standard_normal((8, 4))
    labels = rng.integers(0, 3, size=8)
    # A central difference across a ReLU kink is meaningless; this seed keeps well away.
    assert _min_distance_to_kink(model, x) > 1e-3
    criterion = SoftmaxCrossEntropy()
    flat = model.flat

    criterion.forward(model.forward(x, training=True), labels)
    assert model.backward(criterion.backward()) is None
    add_l2_grad(flat, L2)
    analytic = flat.grads.copy()

    def loss():
        logits = model.forward(x, training=False)
        return criterion.forward(logits, labels) + l2_penalty(flat, L2)

    numeric = numerical_gradient(loss, flat.values)
    # Check each parameter on its own, so a failure names it.
    offset = 0
    for i, p in enumerate(flat.params):
        part = slice(offset, offset + p.value.size)
        assert_gradient_close(analytic[part], numeric[part], name=f"param {i} ({p.name})")
        offset += p.value.size
    assert offset == flat.size
    assert_gradient_close(analytic, numeric, name="all parameters")


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_model_input_gradient(rng, activation):
    model = _model64(rng, activation)
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 3))
    assert _min_distance_to_kink(model, x) > 1e-3

    model.forward(x, training=True)
    grad_x = model.backward(g, input_grad=True)
    assert grad_x is not None and grad_x.shape == x.shape
    weight_grads = model.flat.grads.copy()
    # Asking for the input gradient changes none of the parameter gradients.
    model.forward(x, training=True)
    assert model.backward(g) is None
    np.testing.assert_array_equal(model.flat.grads, weight_grads)

    numeric = numerical_gradient(lambda: float(np.sum(model.forward(x) * g)), x)
    assert_gradient_close(grad_x, numeric, name="input")


def test_model_gradient_through_dropout_at_rate_zero(rng):
    model = build_mlp(4, [5], 3, dropout=0.0, rng=rng, dtype=np.float64)
    assert isinstance(model.layers[2], Dropout)
    x = rng.standard_normal((6, 4))
    g = rng.standard_normal((6, 3))
    assert _min_distance_to_kink(model, x) > 1e-3
    model.forward(x, training=True)
    model.backward(g)
    analytic = model.flat.grads.copy()
    numeric = numerical_gradient(lambda: float(np.sum(model.forward(x) * g)), model.flat.values)
    assert_gradient_close(analytic, numeric)


def test_model_backward_before_forward_raises(rng):
    model = build_mlp(4, [5], 3, rng=rng)
    with pytest.raises(RuntimeError):
        model.backward(np.ones((2, 3), dtype=np.float32))


# --- prediction -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_proba_rows_sum_to_one(rng, dtype):
    model = build_mlp(6, [8], 4, rng=rng, dtype=dtype)
    probs = model.predict_proba(rng.standard_normal((50, 6)) * 5)
    assert probs.shape == (50, 4) and probs.dtype == dtype
    assert np.all(probs >= 0)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=tol)


@pytest.mark.parametrize("batch_size", [1, 7, 50, 64, 2048])
def test_predict_proba_is_independent_of_batch_size(rng, batch_size):
    model = build_mlp(6, [8, 5], 4, rng=rng, dtype=np.float64)
    x = rng.standard_normal((50, 6))
    expected = model.predict_proba(x, batch_size=len(x))
    np.testing.assert_allclose(model.predict_proba(x, batch_size=batch_size), expected, rtol=1e-12)
    np.testing.assert_array_equal(model.predict(x, batch_size=batch_size), expected.argmax(axis=1))


def test_predict_is_argmax(rng):
    model = build_mlp(6, [8], 4, rng=rng)
    x = rng.standard_normal((30, 6))
    predictions = model.predict(x)
    assert predictions.shape == (30,)
    assert np.issubdtype(predictions.dtype, np.integer)
    np.testing.assert_array_equal(predictions, model.predict_proba(x).argmax(axis=1))
    np.testing.assert_array_equal(predictions, model.forward(x.astype(np.float32)).argmax(axis=1))


def test_predict_casts_inputs_to_the_model_dtype(rng):
    model = build_mlp(3, [4], 2, rng=rng)
    x = rng.standard_normal((5, 3))
    probs = model.predict_proba(x)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs, model.predict_proba(x.astype(np.float32)), rtol=0)


def test_prediction_ignores_dropout(rng):
    model = build_mlp(6, [32], 3, dropout=0.5, rng=rng, dtype=np.float64)
    x = rng.standard_normal((10, 6))
    without_dropout = Sequential(
        [layer for layer in model.layers if not isinstance(layer, Dropout)]
    )
    np.testing.assert_array_equal(model.predict_proba(x), without_dropout.predict_proba(x))


# --- building and configs -------------------------------------------------------------------


def test_build_mlp_layout(rng):
    model = build_mlp(10, [8, 6], 3, activation="tanh", dropout=0.2, rng=rng)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense"]
    shapes = [layer.weight.value.shape for layer in model.layers if isinstance(layer, Dense)]
    assert shapes == [(10, 8), (8, 6), (6, 3)]
    assert model.n_features == 10 and model.n_classes == 3
    assert model.dtype == np.float32
    assert model.flat.size == 10 * 8 + 8 + 8 * 6 + 6 + 6 * 3 + 3


def test_build_mlp_without_hidden_layers_is_linear(rng):
    model = build_mlp(5, [], 3, rng=rng)
    assert len(model.layers) == 1 and isinstance(model.layers[0], Dense)
    assert build_mlp(5, 4, 3, rng=rng).layers[0].n_out == 4


@pytest.mark.parametrize("hidden", [[0], [4, -1], [2.5], [True]])
def test_build_mlp_validates_hidden(hidden):
    with pytest.raises(ValueError, match="hidden"):
        build_mlp(5, hidden, 3)


def test_build_mlp_unknown_activation_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown activation") as info:
        build_mlp(5, [4], 3, activation="gelu")
    for name in ACTIVATIONS:
        assert name in str(info.value)


def test_summary_lists_layers_shapes_and_parameter_counts(rng):
    model = build_mlp(784, [512, 256, 128], 10, dropout=0.2, rng=rng)
    lines = model.summary().splitlines()
    assert lines[0] == "Sequential: 784 inputs -> 10 outputs, float32"
    rows = lines[4:-2]  # title, rule, header, rule ... rule, total
    assert [row.split()[0] for row in rows] == [str(i) for i in range(10)]
    assert "Dense(n_in=784, n_out=512, init='he_normal')" in lines[4]
    assert lines[4].split()[-2:] == ["512)", "401,920"]
    assert lines[5].split()[-3:] == ["(n,", "512)", "0"]
    assert lines[-1] == "567,434 parameters: 566,528 weights (L2 applies), 906 biases"
    assert len(model.flat) == 567_434 and model.flat.n_decay == 566_528


def test_repr_lists_the_layers_with_their_settings(rng):
    model = build_mlp(4, [3], 2, activation="leaky_relu", dropout=0.5, rng=rng)
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Dense(n_in=4, n_out=3, init='he_normal')\n"
        "  (1): LeakyReLU(alpha=0.01)\n"
        "  (2): Dropout(rate=0.5)\n"
        "  (3): Dense(n_in=3, n_out=2, init='he_normal')\n"
        ")"
    )


def test_sequential_validates_layers():
    with pytest.raises(ValueError):
        Sequential([])
    with pytest.raises(TypeError, match="Layer"):
        Sequential([lambda x: x])


def test_sequential_without_parameters(rng):
    model = Sequential([ReLU()])
    assert model.flat is None and model.parameters() == []
    np.testing.assert_array_equal(model.forward(np.array([[-1.0, 2.0]])), [[0.0, 2.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_config_round_trip(rng, dtype):
    model = build_mlp(7, [6, 5], 4, activation="leaky_relu", dropout=0.3, rng=rng, dtype=dtype)
    model.layers[1].alpha = 0.2
    config = model.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = Sequential.from_config(config, rng=np.random.default_rng(1))
    assert rebuilt.get_config() == config
    assert [type(layer) for layer in rebuilt.layers] == [type(layer) for layer in model.layers]
    assert rebuilt.dtype == dtype
    assert [p.value.shape for p in rebuilt.flat.params] == [
        p.value.shape for p in model.flat.params
    ]
    assert rebuilt.layers[1].alpha == 0.2
    assert rebuilt.layers[2].rate == 0.3
    # Fresh weights, same architecture: the rebuilt model runs on the same inputs.
    assert rebuilt.predict_proba(rng.standard_normal((3, 7))).shape == (3, 4)


def test_from_config_rejects_unknown_layer_types():
    config = {"dtype": "float32", "layers": [{"type": "Conv2D", "config": {}}]}
    with pytest.raises(ValueError, match="Unknown layer type 'Conv2D'"):
        Sequential.from_config(config)


# --- learning -------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_tiny_batch_can_be_overfitted(rng, activation):
    n, n_features, n_classes = 16, 10, 5
    x = rng.standard_normal((n, n_features)).astype(np.float32)
    labels = rng.integers(0, n_classes, size=n)
    model = build_mlp(n_features, [32], n_classes, activation=activation, rng=rng)
    optimizer = Adam(model.parameters(), lr=0.01)
    assert optimizer.flat is model.flat
    criterion = SoftmaxCrossEntropy()
    losses = []
    for _ in range(300):
        logits = model.forward(x, training=True)
        losses.append(criterion.forward(logits, labels) + l2_penalty(model.flat, 1e-4))
        model.backward(criterion.backward())
        add_l2_grad(model.flat, 1e-4)
        optimizer.step()
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.1 * losses[0]
    np.testing.assert_array_equal(model.predict(x), labels)


@pytest.mark.parametrize("copy", ["pickle", "deepcopy"])
def test_a_copied_model_and_optimizer_keep_training_the_weights_forward_reads(copy, rng):
    """Pickling stores each parameter view as its own array; restoring re-binds them."""
    import copy as copy_module
    import pickle

    from neural_network.optim.optimizers import Adam

    model = build_mlp(6, [5], 3, rng=rng)
    optimizer = Adam(model.flat, lr=0.1)
    pair = (model, optimizer)
    model2, optimizer2 = (
        pickle.loads(pickle.dumps(pair)) if copy == "pickle" else copy_module.deepcopy(pair)
    )
    assert optimizer2.flat is model2.flat
    for layer in model2.layers:
        for p in layer.parameters():
            assert np.shares_memory(p.value, model2.flat.values)
            assert np.shares_memory(p.grad, model2.flat.grads)
    x = rng.normal(size=(4, 6))
    before = model2.forward(x)
    model2.flat.grads[...] = 1.0
    optimizer2.step()
    assert not np.allclose(model2.forward(x), before)
    assert np.array_equal(model.forward(x), before)


@pytest.mark.parametrize(
    "shape, advice",
    [
        ((784,), r"one sample.*pass x\.reshape\(1, 784\)"),
        ((28, 28), r"one sample.*pass x\.reshape\(1, 784\)"),
        ((5, 28, 28), r"a stack of images.*pass x\.reshape\(len\(x\), 784\)"),
        ((784, 5), r"one sample per column.*pass x\.T"),
        ((5, 100), r"must have shape \(n_samples, 784\); got \(5, 100\)"),
    ],
)
def test_predict_says_what_shape_it_needs(shape, advice):
    model = build_mlp(784, [8], 10, rng=np.random.default_rng(0))
    for method in (model.predict, model.predict_proba):
        with pytest.raises(ValueError, match=advice):
            method(np.zeros(shape))
    assert model.predict(np.zeros((1, 784))).shape == (1,)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_logits"])
def test_a_model_with_huge_finite_weights_raises_the_clis_error(rng, method):
    """Weights of 3e38 are finite and load, but every product overflows: the API gave all-NaN
    probabilities and class 0; it raises the sentence the CLI and the server print."""
    from neural_network.core.model import NON_FINITE_OUTPUTS

    model = build_mlp(6, [8], 3, rng=rng)
    model.flat.values[:] = 3e38
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no RuntimeWarning from NumPy on the way
        with pytest.raises(ValueError) as raised:
            getattr(model, method)(np.ones((2, 6), dtype=np.float32))
    assert str(raised.value) == NON_FINITE_OUTPUTS


@pytest.mark.parametrize("value", [1e40, -1e40, np.inf, np.nan])
def test_inputs_beyond_float32_are_refused_not_nan(rng, value):
    model = build_mlp(6, [8], 3, rng=rng)
    x = np.ones((3, 6))
    x[1, 2] = value
    expected = "beyond the model's float32" if np.isfinite(value) else "NaN or infinite"
    with pytest.raises(ValueError, match=expected):
        model.predict_proba(x)


def test_the_classic_api_raises_the_same_error_for_huge_weights():
    from neural_network import NeuralNetwork
    from neural_network.core.model import NON_FINITE_OUTPUTS

    rng = np.random.default_rng(0)
    X = rng.uniform(0, 255, size=(6, 20))
    y = np.eye(3)[rng.integers(0, 3, 20)].T
    network = NeuralNetwork(X=X, y=y, num_labels=3, architecture=[4], seed=0)
    network.model.flat.values[:] = 3e38
    with pytest.raises(ValueError, match="not finite numbers"):
        network.predict(X)
    with pytest.raises(ValueError) as raised:
        network.predict_proba(X)
    assert str(raised.value) == NON_FINITE_OUTPUTS
