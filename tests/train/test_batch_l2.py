"""``fit(..., batch_l2=alpha)``: each step's L2 coefficient is ``alpha`` over its batch's
sample-weight sum (scikit-learn's ``alpha``), on the CPU and on a device."""

import numpy as np
import pytest

from neural_network import build_mlp, fit
from neural_network.optim.optimizers import SGD

ALPHA = 3.0


def _data():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 11)
    return rng.standard_normal((11, 4)) + labels[:, None], labels, rng.uniform(0.5, 2.0, 11)


def _model(device="cpu"):
    model = build_mlp(4, [5], 3, rng=np.random.default_rng(1), dtype=np.float64)
    return model.to(device) if device != "cpu" else model


def _steps_by_hand(batch_size: int, weights=None):
    """The same epoch as batches trained one by one, each with l2 set by hand."""
    x, labels, _ = _data()
    model = _model()
    optimizer = SGD(model.flat, 0.1, 0.0)
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        w = None if weights is None else weights[part]
        optimizer.l2 = ALPHA / (len(x[part]) if w is None else w.sum())
        fit(model, x[part], labels[part], optimizer=optimizer, epochs=1,
            batch_size=batch_size, shuffle=False, sample_weight=w)  # fmt: skip
    return model.flat.values


@pytest.mark.parametrize("weighted", [False, True])
def test_each_batch_divides_alpha_by_its_weight_sum(weighted):
    x, labels, weights = _data()
    weights = weights if weighted else None
    model = _model()
    optimizer = SGD(model.flat, 0.1, 0.0, l2=123.0)  # replaced at every step
    fit(model, x, labels, optimizer=optimizer, epochs=1, batch_size=4, shuffle=False,
        sample_weight=weights, batch_l2=ALPHA)  # fmt: skip
    np.testing.assert_allclose(model.flat.values, _steps_by_hand(4, weights), rtol=1e-13)
    last = 3 if weights is None else weights[8:].sum()  # batches of 4, 4 and 3
    assert optimizer.l2 == pytest.approx(ALPHA / last)


def test_without_batch_l2_the_optimizers_l2_stays():
    x, labels, _ = _data()
    model = _model()
    optimizer = SGD(model.flat, 0.1, 0.0, l2=0.01)
    fit(model, x, labels, optimizer=optimizer, epochs=1, batch_size=4, shuffle=False)
    assert optimizer.l2 == 0.01


def test_batch_l2_is_checked():
    x, labels, _ = _data()
    model = _model()
    with pytest.raises(ValueError, match="batch_l2"):
        fit(model, x, labels, optimizer=SGD(model.flat, 0.1), epochs=1, batch_l2=-1.0)


def test_device_divides_alpha_by_each_batch_size(standin_cuda):
    x, labels, _ = _data()
    model = _model("cuda")
    fit(model, x, labels, optimizer=SGD(model.flat, 0.1, 0.0), epochs=1, batch_size=4,
        shuffle=False, batch_l2=ALPHA)  # fmt: skip
    np.testing.assert_allclose(model.flat.values.get(), _steps_by_hand(4), rtol=1e-12)
