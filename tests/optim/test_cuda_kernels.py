"""The fused CUDA update kernels: their equations (run as Python on the CPU) and, where CuPy
and a GPU exist, the kernels themselves."""

import math

import numpy as np
import pytest

from neural_network import build_mlp
from neural_network.core import devices
from neural_network.optim import cuda_kernels
from neural_network.optim.optimizers import SGD, Adam


def _model_with_gradients(seed=0):
    rng = np.random.default_rng(seed)
    model = build_mlp(6, [5], 3, rng=rng, dtype=np.float64)
    model.flat.grads[...] = rng.standard_normal(len(model.flat))
    return model, rng


def _run_body(body: str, arrays: dict, scalars: dict) -> None:
    """Run a kernel body as Python: the same statements, on NumPy arrays, in place."""
    namespace = {"sqrt": np.sqrt, "fmin": np.fmin, **scalars}
    namespace.update({name: array.copy() for name, array in arrays.items()})
    exec(cuda_kernels.as_python(body), namespace)
    for name, array in arrays.items():
        array[...] = namespace[name]


def _kernel_inputs(model, l2, clip_norm):
    flat = model.flat
    decay = np.zeros(len(flat))
    decay[: flat.n_decay] = 1.0
    penalised = flat.grads + l2 * decay * flat.values
    scalars = {"l2": l2, "clip_norm": math.inf if clip_norm is None else clip_norm}
    scalars["sq_norm"] = float(np.dot(penalised, penalised))
    return decay, scalars


@pytest.mark.parametrize(("l2", "clip_norm"), [(1e-2, 0.5), (0.0, None), (1e-3, 1e9)])
def test_adam_kernel_equations_are_the_optimizers_step(l2, clip_norm):
    model, rng = _model_with_gradients()
    kernel_model, _ = _model_with_gradients()
    adam = Adam(model.flat, lr=1e-2, l2=l2, clip_norm=clip_norm)
    m_sum, v_sum = np.zeros(len(model.flat)), np.zeros(len(model.flat))
    for _ in range(3):
        grads = rng.standard_normal(len(model.flat))
        model.flat.grads[...] = grads
        kernel_model.flat.grads[...] = grads
        decay, scalars = _kernel_inputs(kernel_model, l2, clip_norm)
        adam.step()  # also folds step_size and eps_t for step t, which the kernel takes
        scalars.update(beta1=adam.beta1, beta2=adam.beta2, step_size=adam._step_size,
                       eps_t=adam._eps_t, grad=kernel_model.flat.grads, decay=decay)  # fmt: skip
        arrays = {"w": kernel_model.flat.values, "m_sum": m_sum, "v_sum": v_sum}
        _run_body(cuda_kernels.ADAM_UPDATE, arrays, scalars)
        np.testing.assert_allclose(kernel_model.flat.values, model.flat.values, atol=1e-14)
        np.testing.assert_allclose(m_sum, adam.m_sum, atol=1e-14)


@pytest.mark.parametrize(("momentum", "nesterov"), [(0.9, False), (0.0, False), (0.8, True)])
def test_sgd_kernel_equations_are_the_optimizers_step(momentum, nesterov):
    model, rng = _model_with_gradients()
    kernel_model, _ = _model_with_gradients()
    sgd = SGD(model.flat, lr=0.1, momentum=momentum, nesterov=nesterov, l2=1e-2, clip_norm=0.5)
    body = cuda_kernels.NESTEROV_UPDATE if nesterov else cuda_kernels.SGD_UPDATE
    velocity = np.zeros(len(model.flat))
    for _ in range(3):
        grads = rng.standard_normal(len(model.flat))
        model.flat.grads[...] = grads
        kernel_model.flat.grads[...] = grads
        decay, scalars = _kernel_inputs(kernel_model, 1e-2, 0.5)
        sgd.step()
        scalars.update(momentum=momentum, lr=0.1, grad=kernel_model.flat.grads, decay=decay)
        _run_body(body, {"w": kernel_model.flat.values, "velocity": velocity}, scalars)
        np.testing.assert_allclose(kernel_model.flat.values, model.flat.values, atol=1e-14)
        if momentum:  # without momentum the optimiser keeps no velocity; the kernel's is g
            np.testing.assert_allclose(velocity, sgd.velocity, atol=1e-14)


def test_only_cupy_has_kernels(standin_cuda):
    assert not cuda_kernels.has_kernels(np)
    assert not cuda_kernels.has_kernels(standin_cuda)


def test_kernels_build_where_cupy_is_installed():
    cupy = pytest.importorskip("cupy")  # parsing the signatures needs no GPU; compiling does
    assert cuda_kernels.has_kernels(cupy)
    for name, n_in, n_out in [("squared_weight_norm", 3, 1), ("squared_grad_norm", 4, 1),
                              ("adam_update", 9, 3), ("sgd_update", 7, 2),
                              ("nesterov_update", 7, 2)]:  # fmt: skip
        kernel = cuda_kernels.kernel(cupy, name)
        assert (kernel.name, kernel.nin, kernel.nout) == (name, n_in, n_out)
    with pytest.raises(ValueError, match="Unknown kernel"):
        cuda_kernels.kernel(cupy, "lamb_update")


# --- on a GPU ------------------------------------------------------------------------------


@pytest.fixture
def cupy():
    cupy = pytest.importorskip("cupy")
    try:
        devices.array_module("cuda")
    except devices.DeviceUnavailableError:
        pytest.skip("no NVIDIA GPU")
    return cupy


OPTIMIZERS = {
    "adam": lambda flat: Adam(flat, lr=1e-2, l2=1e-2, clip_norm=0.5),
    "sgd": lambda flat: SGD(flat, lr=1e-2, l2=1e-2, clip_norm=0.5),
    "sgd-nesterov-lr-in-velocity": lambda flat: SGD(
        flat, lr=1e-2, momentum=0.8, nesterov=True, lr_in_velocity=True, l2=1e-2, clip_norm=0.5
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fused_kernels_match_the_cpu_step_in_float64(cupy, name):
    from neural_network.optim.device_step import DeviceStep

    cpu, rng = _model_with_gradients()
    gpu, _ = _model_with_gradients()
    gpu.to("cuda")
    cpu_optimizer = OPTIMIZERS[name](cpu.flat)
    step = DeviceStep(OPTIMIZERS[name](gpu.flat), cupy)
    assert step.fused
    for k in range(6):
        lr = 1e-2 if k < 3 else 4e-3  # a change: the velocity is rescaled with lr_in_velocity
        cpu_optimizer.lr = step.optimizer.lr = lr
        grads = rng.standard_normal(len(cpu.flat))
        cpu.flat.grads[...] = grads
        gpu.flat.grads[...] = cupy.asarray(grads)
        penalty, norm = cpu_optimizer.step()
        gpu_penalty, gpu_norm = step()
        assert float(gpu_penalty) == pytest.approx(penalty, rel=1e-12)
        assert float(gpu_norm) == pytest.approx(norm, rel=1e-12)
        np.testing.assert_allclose(gpu.flat.values.get(), cpu.flat.values, atol=1e-12)


def test_training_on_the_gpu_matches_the_cpu_in_float64(cupy):
    from neural_network import fit

    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((256, 6)), rng.integers(0, 3, 256)
    models = []
    for device in ("cpu", "cuda"):
        model = build_mlp(6, [16], 3, rng=np.random.default_rng(1), dtype=np.float64)
        model.to(device)
        fit(model, x, labels, optimizer=Adam(model.flat, lr=1e-2, l2=1e-3, clip_norm=1.0),
            epochs=2, batch_size=32, rng=np.random.default_rng(2))  # fmt: skip
        models.append(devices.to_host(model.flat.values))
    np.testing.assert_allclose(models[1], models[0], atol=1e-10)


def test_cuda_graph_training_matches_plain_training(cupy, monkeypatch):
    from neural_network import fit
    from neural_network.train import cuda_graphs

    replayed = []
    run_epoch = cuda_graphs.GraphedEpochs.run_epoch
    monkeypatch.setattr(
        cuda_graphs.GraphedEpochs,
        "run_epoch",
        lambda self, permutation: (replayed.append(1), run_epoch(self, permutation)),
    )
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((300, 6)), rng.integers(0, 3, 300)  # a smaller last batch
    weights = []
    for graphs in (False, True):
        cuda_graphs.use_cuda_graphs(graphs)
        try:
            model = build_mlp(6, [16], 3, rng=np.random.default_rng(1), dtype=np.float64)
            model.to("cuda")
            history = fit(model, x, labels, epochs=3, batch_size=32, rng=np.random.default_rng(2),
                          optimizer=Adam(model.flat, lr=1e-2, l2=1e-3, clip_norm=1.0))  # fmt: skip
        finally:
            cuda_graphs.use_cuda_graphs(False)
        weights.append((devices.to_host(model.flat.values), history.train_loss))
    assert len(replayed) == 3
    np.testing.assert_allclose(weights[1][0], weights[0][0], atol=1e-12)
    np.testing.assert_allclose(weights[1][1], weights[0][1], rtol=1e-12)
