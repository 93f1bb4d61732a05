"""The compiled optimiser loops give NumPy's numbers bit for bit, and step aside when they
cannot run (no Numba, other arrays, switched off)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from neural_network.core.model import build_mlp
from neural_network.optim import cpu_kernels, denormals
from neural_network.optim.optimizers import SGD, Adam
from neural_network.train.loop import fit

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _kernels_for_small_arrays(monkeypatch):
    monkeypatch.setattr(cpu_kernels, "MIN_SIZE", 1)


OPTIMIZERS = {
    "adam": lambda flat: Adam(flat, lr=0.01, l2=1e-3, clip_norm=2.0),
    "adam-no-l2": lambda flat: Adam(flat, lr=1e-3, beta1=0.5, eps=1e-6),
    "sgd": lambda flat: SGD(flat, lr=0.05, momentum=0.0, l2=1e-3),
    "momentum": lambda flat: SGD(flat, lr=0.05, momentum=0.9, clip_norm=1.0),
    "nesterov": lambda flat: SGD(flat, lr=0.05, momentum=0.9, nesterov=True, l2=1e-3),
}


def _gradients(rng, size, steps, dtype):
    """Per step: mixed scales, exact zeros, values that end in float32's denormal range
    (so flushing matters) and an occasional gradient large enough to be clipped."""
    sequence = []
    for step in range(steps):
        g = rng.standard_normal(size) * 10.0 ** rng.integers(-3, 1, size)
        g[::7] = 0.0
        g[3::11] = 1e-39 * rng.choice([-1, 1], len(g[3::11]))
        if step % 5 == 0:
            g *= 50.0
        sequence.append(g.astype(dtype))
    return sequence


def _run(monkeypatch, enabled, make_optimizer, dtype, gradients):
    monkeypatch.setattr(cpu_kernels, "ENABLED", enabled)
    model = build_mlp(6, [5, 4], 3, rng=np.random.default_rng(7), dtype=dtype)
    # Tiny weights, so that L2 and flushing see values near the denormal range.
    model.flat.values[::13] = dtype(1e-20)
    optimizer = make_optimizer(model.flat)
    reports = []
    for g in gradients:
        model.flat.grads[:] = g
        reports.append(optimizer.step())
    return model.flat.values.copy(), optimizer.state_dict(), reports


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_compiled_steps_equal_numpy_steps_bit_for_bit(rng, monkeypatch, name, dtype):
    size = build_mlp(6, [5, 4], 3, rng=rng).flat.size
    steps = 2 * denormals.FLUSH_EVERY + 3  # two flushes
    gradients = _gradients(rng, size, steps, dtype)
    assert cpu_kernels.kernels_for(np.zeros(3, dtype)) is not None
    compiled = _run(monkeypatch, True, OPTIMIZERS[name], dtype, gradients)
    plain = _run(monkeypatch, False, OPTIMIZERS[name], dtype, gradients)
    np.testing.assert_array_equal(compiled[0], plain[0])
    assert compiled[1].keys() == plain[1].keys()
    for key in plain[1]:
        np.testing.assert_array_equal(compiled[1][key], plain[1][key], err_msg=key)
    assert compiled[2] == plain[2]  # penalties and norms


def test_compiled_adam_divides_by_eps_alone_where_v_is_zero(monkeypatch):
    # error_model="numpy": no ZeroDivisionError check (which would also stop vectorising).
    kernels = cpu_kernels.kernels_for(np.zeros(1, np.float32))
    w, g = np.ones(4, np.float32), np.zeros(4, np.float32)
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    f = np.float32
    kernels.adam_update(w, g, m, v, f(0.9), f(0.999), f(0.0), f(1.0))
    assert np.isnan(w).all()  # 0 / 0, as NumPy gives it
    w[:] = 1
    g[:] = 1
    kernels.adam_update(w, g, m, v, f(0.9), f(0.999), f(0.0), f(1.0))
    np.testing.assert_array_equal(w, np.zeros(4, np.float32))


def test_a_training_run_is_the_same_with_and_without_the_compiled_loops(rng, monkeypatch):
    x = rng.random((300, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 300)

    def train(enabled):
        monkeypatch.setattr(cpu_kernels, "ENABLED", enabled)
        model = build_mlp(8, [16, 8], 3, rng=np.random.default_rng(1), dtype=np.float32)
        optimizer = Adam(model.flat, lr=0.01, l2=1e-4, clip_norm=1.0)
        history = fit(
            model, x, labels, optimizer=optimizer, epochs=3, batch_size=32,
            rng=np.random.default_rng(2), threads=1,
        )  # fmt: skip
        return model.flat.values.copy(), history.train_loss

    compiled, plain = train(True), train(False)
    np.testing.assert_array_equal(compiled[0], plain[0])
    assert compiled[1] == plain[1]


def test_the_numpy_code_runs_where_the_loops_cannot(monkeypatch):
    contiguous = np.zeros(8, np.float32)
    assert cpu_kernels.kernels_for(contiguous) is not None
    assert cpu_kernels.kernels_for(contiguous[::2]) is None  # not contiguous
    assert cpu_kernels.kernels_for(np.zeros(8, np.int32)) is None
    assert cpu_kernels.kernels_for(np.zeros(8, np.float16)) is None
    assert cpu_kernels.kernels_for(contiguous.view(np.matrix)) is None  # not a plain ndarray
    assert cpu_kernels.kernels_for(contiguous, [0.0]) is None
    monkeypatch.setattr(cpu_kernels, "MIN_SIZE", 9)
    assert cpu_kernels.kernels_for(contiguous) is None  # too small to pay for compiling
    monkeypatch.setattr(cpu_kernels, "MIN_SIZE", 8)
    monkeypatch.setattr(cpu_kernels, "ENABLED", False)
    assert cpu_kernels.kernels_for(contiguous) is None


@pytest.mark.parametrize(
    ("variable", "value"),
    [("NEURAL_NETWORK_KERNELS", "numpy"), ("NUMBA_DISABLE_JIT", "1"), (None, None)],
)
def test_the_environment_can_turn_the_loops_off(variable, value):
    code = (
        "import numpy as np; from neural_network.optim import cpu_kernels; "
        "cpu_kernels.MIN_SIZE = 1; "
        "print(cpu_kernels.kernels_for(np.zeros(2, np.float32)) is None)"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NEURAL_NETWORK_KERNELS", "NUMBA_DISABLE_JIT")
    }
    if variable is not None:
        env[variable] = value
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(variable is not None)
