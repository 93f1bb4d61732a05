"""The device training loop, run on the NumPy stand-in for CuPy (tests/device_standin.py).

Its arrays refuse implicit host copies and count every read, so these tests hold the loop to
what it promises on a GPU: the same training as on the CPU, and one read per epoch.
"""

import numpy as np
import pytest
from device_standin import READS, DeviceArray
from gradcheck import assert_gradient_close, numerical_gradient

from neural_network import build_mlp, evaluate, fit
from neural_network.core import devices
from neural_network.core.link_losses import SigmoidBinaryCrossEntropy
from neural_network.optim.optimizers import SGD, Adam
from neural_network.train.callbacks import Augment, Callback, EarlyStopping, LRSchedule, MaxNorm
from neural_network.train.device_loop import binary_cross_entropy_sum
from neural_network.train.loop import TrainingDivergedError


def make_data(n_samples=240, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n_samples)
    x = rng.standard_normal((n_samples, 8)) + labels[:, None]
    return x, labels


def train(
    device, optimizer_cls=Adam, *, epochs=3, batch_size=32, callbacks=(), shuffle=True, **settings
):
    x, labels = make_data()
    model = build_mlp(8, [16, 8], 3, rng=np.random.default_rng(1), dtype=np.float64)
    model.to(device)
    optimizer = optimizer_cls(model.flat, **settings)
    history = fit(
        model, x, labels, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
        validation_data=make_data(60, seed=1), rng=np.random.default_rng(2),
        callbacks=callbacks, shuffle=shuffle,
    )  # fmt: skip
    return model, optimizer, history


@pytest.mark.parametrize(
    ("optimizer_cls", "settings"),
    [
        (Adam, {"lr": 1e-2, "l2": 1e-3, "clip_norm": 0.5}),
        (Adam, {"lr": 1e-3}),
        (SGD, {"lr": 0.05, "momentum": 0.9, "l2": 1e-3, "clip_norm": 0.5}),
        (SGD, {"lr": 0.05, "momentum": 0.0}),
    ],
)
def test_device_training_matches_the_cpu_in_float64(standin_cuda, optimizer_cls, settings):
    cpu_model, _, cpu_history = train("cpu", optimizer_cls, **settings)
    gpu_model, gpu_optimizer, gpu_history = train("cuda", optimizer_cls, **settings)
    assert isinstance(gpu_model.flat.values, DeviceArray)
    np.testing.assert_allclose(gpu_model.flat.values.get(), cpu_model.flat.values, atol=1e-12)
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "grad_norm", "lr"):
        np.testing.assert_allclose(
            getattr(gpu_history, key), getattr(cpu_history, key), rtol=1e-10, err_msg=key
        )
    assert gpu_optimizer.iterations == 3 * 8


def test_device_training_without_shuffling_matches_the_cpu(standin_cuda):
    cpu_model, _, cpu_history = train("cpu", lr=1e-2, shuffle=False)
    gpu_model, _, gpu_history = train("cuda", lr=1e-2, shuffle=False)
    shuffled_model, _, _ = train("cpu", lr=1e-2)
    np.testing.assert_allclose(gpu_model.flat.values.get(), cpu_model.flat.values, atol=1e-12)
    np.testing.assert_allclose(gpu_history.train_loss, cpu_history.train_loss, rtol=1e-10)
    assert not np.allclose(shuffled_model.flat.values, cpu_model.flat.values)


def test_reads_per_epoch_do_not_grow_with_the_steps(standin_cuda):
    reads = []
    for batch_size in (120, 10):  # 2 steps an epoch, then 24
        READS.clear()
        train("cuda", epochs=2, batch_size=batch_size, lr=1e-3, clip_norm=1.0, l2=1e-4)
        reads.append(sum(count for kind, count in READS.items() if kind != "upload"))
    assert reads[0] == reads[1] <= 2 * 2  # the step records and the validation sums


class _KeepEpochOne(Callback):
    """Keeps the weights and the optimiser's step count at the end of epoch 1."""

    def on_epoch_end(self, run):
        if run.epoch == 1:
            self.weights, self.iterations = run.model.flat.values.get(), run.optimizer.iterations


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_undoes_the_epoch_and_names_the_first_bad_step(standin_cuda):
    x, labels = make_data()
    model = build_mlp(8, [16], 3, rng=np.random.default_rng(1), device="cuda")
    optimizer = SGD(model.flat, lr=1e-3, momentum=0.0)
    keep = _KeepEpochOne()
    blow_up = LRSchedule(lambda epoch: 1e-3 if epoch == 0 else 1e30)  # from 0
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, step [12]:"):
        fit(model, x, labels, optimizer=optimizer, epochs=3, callbacks=[blow_up, keep],
            rng=np.random.default_rng(0))  # fmt: skip
    np.testing.assert_array_equal(model.flat.values.get(), keep.weights)
    assert optimizer.iterations == keep.iterations


def test_callbacks_run_on_a_device_model(standin_cuda):
    seen = []

    def augment(x_batch, rng):
        seen.append(type(x_batch))  # augmentation runs on the host
        return x_batch + rng.normal(0, 0.01, x_batch.shape)

    stopping = EarlyStopping(patience=1, monitor="val_loss")
    model, _, history = train(
        "cuda", epochs=6, lr=0.5, callbacks=[Augment(augment), MaxNorm(0.5), stopping]
    )
    assert set(seen) == {np.ndarray}
    columns = model.layers[0].weight.value.get()
    assert np.linalg.norm(columns, axis=0).max() <= 0.5 + 1e-9
    assert history.val_loss[stopping.best_epoch - 1] == min(history.val_loss)


def test_early_stopping_restores_the_best_device_weights(standin_cuda):
    stopping = EarlyStopping(patience=None, monitor="val_accuracy")
    model, _, _ = train("cuda", epochs=4, lr=1e-2, callbacks=[stopping])
    assert isinstance(model.flat.values, DeviceArray)
    np.testing.assert_array_equal(model.flat.values.get(), stopping.state_dict()["best_values"])


def test_an_optimizer_built_before_the_move_follows_the_model(standin_cuda):
    x, labels = make_data()
    model = build_mlp(8, [16], 3, rng=np.random.default_rng(1), dtype=np.float64)
    optimizer = Adam(model.flat, lr=1e-2)
    model.to("cuda")
    fit(model, x, labels, optimizer=optimizer, epochs=1, rng=np.random.default_rng(0))
    assert isinstance(optimizer.m_sum, DeviceArray)
    state = optimizer.state_dict()  # host copies, for checkpoints
    assert isinstance(state["m_sum"], np.ndarray) and np.abs(state["m_sum"]).sum() > 0


def test_evaluate_a_device_model(standin_cuda):
    x, labels = make_data()
    cpu = build_mlp(8, [16], 3, rng=np.random.default_rng(1), dtype=np.float64)
    gpu = build_mlp(8, [16], 3, rng=np.random.default_rng(1), dtype=np.float64, device="cuda")
    np.testing.assert_allclose(evaluate(gpu, x, labels), evaluate(cpu, x, labels), rtol=1e-12)
    assert devices.device_of(gpu.flat.values) == "cuda"


def test_an_optimizer_follows_its_model_back_to_the_cpu(standin_cuda):
    x, labels = make_data()
    model = build_mlp(8, [16], 3, rng=np.random.default_rng(1), device="cuda")
    optimizer = Adam(model.flat, lr=1e-2)
    fit(model, x, labels, optimizer=optimizer, epochs=1, rng=np.random.default_rng(0))
    model.to("cpu")
    fit(model, x, labels, optimizer=optimizer, epochs=1, rng=np.random.default_rng(0))
    assert isinstance(optimizer.m_sum, np.ndarray) and isinstance(model.flat.values, np.ndarray)
    assert optimizer.iterations == 2 * 2


def test_a_logistic_output_trains_on_binary_cross_entropy_as_on_the_cpu(standin_cuda):
    x, labels = make_data()
    targets = (labels == 1).astype(np.float64).reshape(-1, 1)
    val_x, val_labels = make_data(60, seed=1)
    val_targets = (val_labels == 1).astype(np.float64).reshape(-1, 1)
    results = []
    for device in ("cpu", "cuda"):
        model = build_mlp(8, [16], 1, rng=np.random.default_rng(1), dtype=np.float64)
        model.to(device)
        history = fit(
            model, x, targets, optimizer=SGD(model.flat, lr=0.1), epochs=2, batch_size=32,
            validation_data=(val_x, val_targets), rng=np.random.default_rng(2),
            loss=SigmoidBinaryCrossEntropy(), batch_l2=0.3,
        )  # fmt: skip
        loss = evaluate(model, val_x, val_targets, loss=SigmoidBinaryCrossEntropy())
        results.append((devices.to_host(model.flat.values), history, loss))
    (cpu_values, cpu_history, cpu_loss), (gpu_values, gpu_history, gpu_loss) = results
    np.testing.assert_allclose(gpu_values, cpu_values, atol=1e-12)
    np.testing.assert_allclose(gpu_history.train_loss, cpu_history.train_loss, rtol=1e-10)
    np.testing.assert_allclose(gpu_history.val_loss, cpu_history.val_loss, rtol=1e-10)
    assert gpu_history.train_accuracy == gpu_history.val_accuracy == []
    assert gpu_loss[1] is None and gpu_loss[0] == pytest.approx(cpu_loss[0], rel=1e-10)


def test_binary_cross_entropy_sum_gradient_is_the_mean_losses(rng):
    """Its gradient is that of the batch's mean loss (the sum over n), in float64, and its
    loss the host loss's sum."""
    logits = rng.normal(size=(7, 2)) * 3
    targets = rng.integers(0, 2, size=(7, 2)).astype(np.float64)
    loss_sum, grad = binary_cross_entropy_sum(logits, targets)
    numerical = numerical_gradient(
        lambda: float(binary_cross_entropy_sum(logits, targets)[0]) / 7, logits
    )
    assert_gradient_close(grad, numerical)
    host = SigmoidBinaryCrossEntropy().forward(logits, targets)
    assert float(loss_sum) / 7 == pytest.approx(host, rel=1e-13)
