"""The CUDA-graph option's host side: the per-step scalars it uploads, and when it applies.
(The graphs themselves are tested where CuPy and a GPU exist, in tests/optim.)"""

from types import SimpleNamespace

import numpy as np

from neural_network import build_mlp, fit
from neural_network.optim.optimizers import SGD, Adam
from neural_network.train import cuda_graphs


def test_per_step_scalars_are_the_optimizers_own(rng):
    model = build_mlp(4, [3], 2, rng=rng, dtype=np.float64)
    adam = Adam(model.flat, lr=3e-3, beta1=0.8, beta2=0.99, eps=1e-6)
    adam.iterations = 5
    scalars = cuda_graphs.per_step_scalars(adam, 4, np.float64)
    assert adam.iterations == 5
    for k in range(4):
        adam.iterations = 6 + k
        adam._prepare_step()
        assert scalars[:, k].tolist() == [adam._step_size, adam._eps_t]
    sgd = SGD(build_mlp(4, [3], 2, rng=rng).flat, lr=0.25)
    assert cuda_graphs.per_step_scalars(sgd, 3, np.float32)[0].tolist() == [0.25] * 3


def test_graphs_apply_only_where_a_graph_can_replay_the_step(monkeypatch, rng):
    cupy_like = SimpleNamespace(cuda=SimpleNamespace(Graph=object))
    run = SimpleNamespace(model=build_mlp(4, [3], 2, rng=rng), x=np.zeros((64, 4)), batch_size=32)
    assert not cuda_graphs.can_capture(run, cupy_like, True, [])  # off by default
    monkeypatch.setattr(cuda_graphs, "_enabled", True)
    assert cuda_graphs.can_capture(run, cupy_like, True, [])
    assert not cuda_graphs.can_capture(run, cupy_like, False, [])  # no fused kernels
    assert not cuda_graphs.can_capture(run, cupy_like, True, [object()])  # batch/step hooks
    assert not cuda_graphs.can_capture(run, SimpleNamespace(), True, [])  # no CUDA graphs
    dropout = SimpleNamespace(model=build_mlp(4, [3], 2, dropout=0.5, rng=rng), x=run.x,
                              batch_size=32)  # fmt: skip
    assert not cuda_graphs.can_capture(dropout, cupy_like, True, [])
    run.batch_size = 128  # not one full batch
    assert not cuda_graphs.can_capture(run, cupy_like, True, [])


def test_training_with_graphs_on_falls_back_without_them(standin_cuda, rng, monkeypatch):
    x, labels = rng.standard_normal((64, 4)), rng.integers(0, 2, 64)
    model = build_mlp(4, [3], 2, rng=np.random.default_rng(0), device="cuda", dtype=np.float64)
    monkeypatch.setattr(cuda_graphs, "_enabled", True)  # the stand-in has no CUDA graphs
    fit(model, x, labels, optimizer=Adam(model.flat), epochs=1, rng=np.random.default_rng(1))
    reference = build_mlp(4, [3], 2, rng=np.random.default_rng(0), dtype=np.float64)
    fit(reference, x, labels, optimizer=Adam(reference.flat), epochs=1,
        rng=np.random.default_rng(1))  # fmt: skip
    np.testing.assert_allclose(model.flat.values.get(), reference.flat.values, atol=1e-12)
