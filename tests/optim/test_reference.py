"""The fast training step (flat buffers, folded constants, flushing) against the plain
textbook step of ``neural_network.optim.reference``, step by step, in float64."""

import numpy as np
import pytest

from neural_network import SGD, Adam, Callback, LRSchedule, build_mlp, fit
from neural_network.optim.reference import ReferenceAdam, ReferenceSGD, reference_step
from neural_network.train.loop import minibatches

N_SAMPLES, BATCH, EPOCHS = 100, 10, 5  # 50 steps


class RecordSteps(Callback):
    """The flat weights after every optimiser step."""

    def __init__(self):
        self.weights = []

    def on_step_end(self, run):
        self.weights.append(run.model.flat.values.copy())


def problem():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_SAMPLES, 6))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    return x, labels


def model(dropout=None):
    rng = np.random.default_rng(1)
    return build_mlp(6, [16, 12], 3, dropout=dropout, rng=rng, dtype=np.float64)


CASES = {
    "adam": (
        lambda flat, l2, clip: Adam(flat, lr=0.01, l2=l2, clip_norm=clip),
        lambda params: ReferenceAdam(params, lr=0.01),
    ),
    "sgd-momentum": (
        lambda flat, l2, clip: SGD(flat, lr=0.05, momentum=0.9, l2=l2, clip_norm=clip),
        lambda params: ReferenceSGD(params, lr=0.05, momentum=0.9),
    ),
    "sgd-nesterov": (
        lambda flat, l2, clip: SGD(
            flat, lr=0.05, momentum=0.8, nesterov=True, l2=l2, clip_norm=clip
        ),
        lambda params: ReferenceSGD(params, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "sgd-lr-in-velocity": (
        lambda flat, l2, clip: SGD(
            flat, lr=0.05, momentum=0.9, lr_in_velocity=True, l2=l2, clip_norm=clip
        ),
        lambda params: ReferenceSGD(params, lr=0.05, momentum=0.9, lr_in_velocity=True),
    ),
    "sgd-nesterov-lr-in-velocity": (
        lambda flat, l2, clip: SGD(
            flat, lr=0.05, momentum=0.7, nesterov=True, lr_in_velocity=True, l2=l2, clip_norm=clip
        ),
        lambda params: ReferenceSGD(
            params, lr=0.05, momentum=0.7, nesterov=True, lr_in_velocity=True
        ),
    ),
}


def falling_lr(epoch: int) -> float:
    """A learning rate that changes every epoch, so that the two SGD forms part if mixed up."""
    return 0.05 / (1 + epoch) ** 0.5


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(
    ("l2", "clip_norm", "dropout", "schedule"),
    [(1e-2, 0.5, None, None), (0.0, None, 0.3, None), (1e-3, None, None, falling_lr)],
)
def test_fast_step_equals_the_reference_step_by_step(case, l2, clip_norm, dropout, schedule):
    make_fast, make_reference = CASES[case]
    x, labels = problem()

    fast_model, record = model(dropout), RecordSteps()
    history = fit(
        fast_model,
        x,
        labels,
        optimizer=make_fast(fast_model.flat, l2, clip_norm),
        epochs=EPOCHS,
        batch_size=BATCH,
        rng=np.random.default_rng(2),
        callbacks=[record] if schedule is None else [record, LRSchedule(schedule)],
    )

    reference_model = model(dropout)
    optimizer = make_reference(reference_model.parameters())
    shuffle = np.random.default_rng(2)
    step, clipped = 0, 0
    for epoch in range(EPOCHS):
        if schedule is not None:
            optimizer.lr = schedule(epoch)
        losses = []
        for batch in minibatches(N_SAMPLES, BATCH, shuffle):
            losses.append(
                reference_step(
                    reference_model, x[batch], labels[batch], optimizer, l2=l2, clip_norm=clip_norm
                )
            )
            # The reference updates each parameter array on its own; those arrays are views of
            # the model's flat buffer, which orders them as the fast model's does.
            np.testing.assert_allclose(
                record.weights[step], reference_model.flat.values, rtol=1e-10, atol=1e-10
            )
            step += 1
        assert history.train_loss[epoch] == pytest.approx(np.mean(losses), rel=1e-10)
        clipped += history.grad_norm[epoch] > (clip_norm or np.inf)
    assert step == 50
    if clip_norm is not None:
        assert clipped, "clipping should be active on some steps"


def test_the_two_sgd_forms_differ_only_when_lr_changes():
    """With a constant lr PyTorch's and scikit-learn's momentum make the same steps; with a
    changing one they part, which the step-by-step test above tells apart."""
    x, labels = problem()
    finals = {}
    for lr_in_velocity in (False, True):
        for schedule in (None, falling_lr):
            fast_model = model()
            sgd = SGD(fast_model.flat, lr=0.05, momentum=0.9, lr_in_velocity=lr_in_velocity)
            callbacks = [] if schedule is None else [LRSchedule(schedule)]
            fit(
                fast_model, x, labels, optimizer=sgd, epochs=3, batch_size=BATCH,
                rng=np.random.default_rng(2), callbacks=callbacks,
            )  # fmt: skip
            finals[lr_in_velocity, schedule is None] = fast_model.flat.values
    np.testing.assert_allclose(finals[False, True], finals[True, True], rtol=1e-12, atol=1e-14)
    assert np.abs(finals[False, False] - finals[True, False]).max() > 1e-4
