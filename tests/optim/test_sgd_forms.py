"""SGD's momentum options against the libraries that define them, in float64: PyTorch's
``torch.optim.SGD`` (heavy ball and Nesterov, the velocity a sum of gradients) and
scikit-learn's MLP ``SGDOptimizer`` (the velocity a sum of steps: ``lr_in_velocity=True``),
both with a learning rate that changes on the way."""

import numpy as np
import pytest

from neural_network.core.parameters import FlatParameters, Parameter
from neural_network.optim.optimizers import SGD

SHAPES = [(4, 3), (3,), (3, 2)]
STEPS = 12

try:  # at collection, as the estimator tests do: scipy's BLAS library, loaded in the middle of
    # a run, would escape the thread limits core.threads set up before (tests/core/test_threads)
    from sklearn.neural_network import _stochastic_optimizers
except ModuleNotFoundError:
    _stochastic_optimizers = None
needs_sklearn = pytest.mark.skipif(
    _stochastic_optimizers is None, reason="scikit-learn is not installed"
)


def _lr(step: int) -> float:
    return 0.1 if step < 4 else (0.02 if step < 8 else 0.05)


def _gradients(rng):
    return [[rng.standard_normal(shape) for shape in SHAPES] for _ in range(STEPS)]


def _ours(rng, gradients, **options):
    params = [Parameter.of(rng.standard_normal(shape)) for shape in SHAPES]
    start = [p.value.copy() for p in params]
    flat = FlatParameters(params)
    sgd = SGD(flat, lr=_lr(0), **options)
    for step, grads in enumerate(gradients):
        sgd.lr = _lr(step)
        for p, g in zip(params, grads, strict=True):
            p.grad[...] = g
        sgd.step()
    return start, [p.value for p in params]


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_matches_pytorch(rng, nesterov, momentum):
    torch = pytest.importorskip("torch")
    if nesterov and momentum == 0:
        pytest.skip("PyTorch refuses Nesterov without momentum")
    gradients = _gradients(rng)
    start, ours = _ours(np.random.default_rng(0), gradients, momentum=momentum, nesterov=nesterov)
    tensors = [torch.tensor(value, requires_grad=True) for value in start]
    optimizer = torch.optim.SGD(tensors, lr=_lr(0), momentum=momentum, nesterov=nesterov)
    for step, grads in enumerate(gradients):
        for group in optimizer.param_groups:
            group["lr"] = _lr(step)
        for tensor, g in zip(tensors, grads, strict=True):
            tensor.grad = torch.tensor(g)
        optimizer.step()
    for value, tensor in zip(ours, tensors, strict=True):
        np.testing.assert_allclose(value, tensor.detach().numpy(), rtol=1e-12, atol=1e-14)


@needs_sklearn
@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
def test_lr_in_velocity_matches_scikit_learn(rng, nesterov, momentum):
    optimizers = _stochastic_optimizers
    gradients = _gradients(rng)
    start, ours = _ours(
        np.random.default_rng(0),
        gradients,
        momentum=momentum,
        nesterov=nesterov,
        lr_in_velocity=True,
    )
    params = [value.copy() for value in start]
    reference = optimizers.SGDOptimizer(
        params, learning_rate_init=_lr(0), momentum=momentum, nesterov=nesterov
    )
    for step, grads in enumerate(gradients):
        reference.learning_rate = _lr(step)
        reference.update_params(params, grads)
    for value, expected in zip(ours, params, strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14)


def test_lr_in_velocity_survives_a_state_dict_round_trip(rng):
    """A resumed optimiser knows which rate its velocity was kept at, so a lr set after
    loading rescales it as the uninterrupted run does."""
    gradients = _gradients(rng)
    runs = []
    for interrupted in (False, True):
        params = [Parameter.of(np.ones(shape)) for shape in SHAPES]
        sgd = SGD(FlatParameters(params), lr=_lr(0), lr_in_velocity=True)
        for step, grads in enumerate(gradients):
            if interrupted and step == 6:
                state = sgd.state_dict()
                sgd = SGD(sgd.flat, lr=0.3, lr_in_velocity=True)  # built with another lr
                sgd.load_state_dict(state)
            sgd.lr = _lr(step)
            for p, g in zip(params, grads, strict=True):
                p.grad[...] = g
            sgd.step()
        runs.append(sgd.flat.values.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert set(sgd.state_dict()) == {"iterations", "velocity", "velocity_lr"}
    bad = {**sgd.state_dict(), "velocity_lr": np.array(0.0)}
    with pytest.raises(ValueError, match="velocity_lr"):
        sgd.load_state_dict(bad)


def test_options_are_validated_and_in_the_config_only_when_set(rng):
    params = [Parameter.of(np.ones(3))]
    flat = FlatParameters(params)
    for name in ("nesterov", "lr_in_velocity"):
        with pytest.raises(ValueError, match=name):
            SGD(flat, **{name: "yes"})
    plain = SGD(flat, lr=0.1, momentum=0.5).get_config()
    assert "nesterov" not in plain and "lr_in_velocity" not in plain
    assert "velocity_lr" not in SGD(flat).state_dict()
    config = SGD(flat, lr=0.1, nesterov=True, lr_in_velocity=True).get_config()
    assert config["nesterov"] is True and config["lr_in_velocity"] is True


def test_an_sgd_pickled_before_the_options_reads_back_as_before(rng):
    import pickle

    flat = FlatParameters([Parameter.of(np.ones(3))])
    sgd = SGD(flat, lr=0.1, momentum=0.5)
    state = sgd.__dict__.copy()
    for name in ("nesterov", "lr_in_velocity"):
        del state[name]
    old = SGD.__new__(SGD)
    old.__setstate__(state)
    restored = pickle.loads(pickle.dumps(old))
    assert restored.nesterov is False and restored.lr_in_velocity is False
    restored.flat.grads[...] = 1.0
    restored.step()
    np.testing.assert_allclose(restored.flat.values, 0.9)
