"""fit with sample weights and with a regression loss."""

import numpy as np
import pytest

from neural_network import SGD, Adam, History, build_mlp, evaluate, fit
from neural_network.core.losses import HalfSquaredError, Huber


def _model(rng, n_outputs=3, dtype=np.float64):
    return build_mlp(4, [8], n_outputs, activation="tanh", rng=rng, dtype=dtype)


def _twin_models(seed, **kwargs):
    return (_model(np.random.default_rng(seed), **kwargs) for _ in range(2))


@pytest.mark.parametrize("optimizer", [SGD, Adam])
@pytest.mark.parametrize("loss", [None, HalfSquaredError(), Huber(0.5)], ids=["ce", "mse", "huber"])
def test_weights_train_as_duplicated_samples_on_one_full_batch(rng, optimizer, loss):
    x = rng.standard_normal((10, 4))
    targets = rng.integers(0, 3, 10) if loss is None else rng.standard_normal((10, 3))
    counts = np.array([2, 0, 1, 3, 1, 1, 0, 2, 1, 4])
    weighted, repeated = _twin_models(0)
    for model, data, weights in [
        (weighted, (x, targets), counts),
        (repeated, (np.repeat(x, counts, axis=0), np.repeat(targets, counts, axis=0)), None),
    ]:
        fit(
            model,
            *data,
            optimizer=optimizer(model.flat, lr=0.05, l2=1e-3),
            epochs=3,
            batch_size=100,
            rng=np.random.default_rng(1),
            loss=loss,
            sample_weight=weights,
        )
    np.testing.assert_allclose(weighted.flat.values, repeated.flat.values, rtol=0, atol=1e-10)


def test_weighted_history_is_the_weighted_mean(rng):
    x, labels = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    model = _model(rng)
    history = fit(
        model,
        x,
        labels,
        optimizer=SGD(model.flat, lr=1e-12),  # nothing moves: the epoch's loss is exact
        epochs=1,
        batch_size=6,
        validation_data=(x, labels, weights),
        sample_weight=weights,
    )
    val_loss, val_accuracy = evaluate(model, x, labels, sample_weight=weights)
    assert history.train_loss[0] == pytest.approx(val_loss, rel=1e-9)
    assert history.val_loss == [val_loss]
    assert history.train_accuracy[0] == pytest.approx(val_accuracy)


def test_equal_weights_are_bit_identical_to_none(rng):
    x, labels = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    a, b = _twin_models(3, dtype=np.float32)
    for model, weights in [(a, None), (b, np.full(20, 2.5))]:
        fit(
            model,
            x,
            labels,
            optimizer=Adam(model.flat, lr=0.01),
            epochs=2,
            batch_size=8,
            rng=np.random.default_rng(0),
            sample_weight=weights,
        )
    np.testing.assert_array_equal(a.flat.values, b.flat.values)


def test_zero_weights_leave_samples_out(rng):
    x, labels = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    weights = np.ones(12)
    weights[[2, 5, 7]] = 0
    a, b = _twin_models(4)
    kept = weights > 0
    fit(
        a,
        x,
        labels,
        optimizer=SGD(a.flat, lr=0.1),
        epochs=2,
        batch_size=4,
        rng=np.random.default_rng(0),
        sample_weight=weights,
    )
    fit(
        b,
        x[kept],
        labels[kept],
        optimizer=SGD(b.flat, lr=0.1),
        epochs=2,
        batch_size=4,
        rng=np.random.default_rng(0),
    )
    np.testing.assert_array_equal(a.flat.values, b.flat.values)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones(5), "one per sample"),
        (-np.ones(6), "non-negative"),
        (np.array([1, 1, np.nan, 1, 1, 1]), "finite"),
        (np.zeros(6), "zero for every sample"),
        (np.array(["a"] * 6), "real numbers"),
    ],
)
def test_bad_weights_are_refused(rng, weights, message):
    model = _model(rng)
    with pytest.raises(ValueError, match=message):
        fit(
            model,
            rng.standard_normal((6, 4)),
            rng.integers(0, 3, 6),
            optimizer=SGD(model.flat, lr=0.1),
            epochs=1,
            sample_weight=weights,
        )


def test_regression_fit_learns_and_records_no_accuracy(rng):
    x = rng.standard_normal((200, 4))
    targets = np.stack([x[:, 0] - 2 * x[:, 1], np.sin(x[:, 2])], axis=1)
    model = build_mlp(4, [32], 2, activation="tanh", rng=rng)
    history = fit(
        model,
        x,
        targets,
        optimizer=Adam(model.flat, lr=0.01),
        epochs=30,
        batch_size=32,
        validation_data=(x, targets),
        rng=rng,
        loss=HalfSquaredError(),
    )
    assert history.train_accuracy == history.val_accuracy == []
    assert history.val_loss[-1] < 0.1 * history.val_loss[0]
    assert History.from_dict(history.to_dict()).val_loss == history.val_loss
    loss, accuracy = evaluate(model, x, targets.astype(np.float32), loss=HalfSquaredError())
    assert accuracy is None
    assert loss == pytest.approx(history.val_loss[-1], rel=1e-6)


def test_regression_targets_must_match_the_outputs(rng):
    model = build_mlp(4, [8], 2, rng=rng)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        fit(
            model,
            rng.standard_normal((5, 4)),
            np.zeros((5, 3)),
            optimizer=SGD(model.flat, lr=0.1),
            epochs=1,
            loss=HalfSquaredError(),
        )
