"""MLPClassifier's ``device``: checked, passed to the network, and refused with a sentence
where the device loop cannot train (the GPU path itself is tested on the stand-in array)."""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from neural_network.apps.estimators import MLPClassifier


def _data():
    rng = np.random.default_rng(0)
    x = rng.random((40, 6))
    return x, (x[:, 0] > 0.5).astype(int)


def test_unknown_device_is_named():
    x, y = _data()
    with pytest.raises(ValueError, match=r"Unknown device 'tpu'"):
        MLPClassifier((4,), device="tpu", max_iter=1).fit(x, y)


def test_cpu_device_is_the_default_and_kept_in_params():
    assert MLPClassifier().get_params()["device"] == "cpu"


def test_device_reaches_the_network(standin_cuda):
    x, y = _data()
    on_device = MLPClassifier((4,), device="cuda", max_iter=2, random_state=0).fit(x, y)
    on_host = MLPClassifier((4,), device="cpu", max_iter=2, random_state=0).fit(x, y)
    assert on_device.model_.device == "cuda"
    np.testing.assert_allclose(on_device.predict_proba(x), on_host.predict_proba(x), atol=1e-6)


def test_weights_on_a_gpu_are_refused_with_a_sentence(standin_cuda):
    x, y = _data()
    with pytest.raises(ValueError, match="sample weights are not supported for a model on a GPU"):
        MLPClassifier((4,), device="cuda", max_iter=1).fit(
            x, y, sample_weight=np.arange(len(x)) % 3 + 1.0
        )


@pytest.mark.parametrize("early_stopping", [False, True])
def test_two_classes_train_one_logistic_output_on_the_device_as_on_the_host(
    standin_cuda, early_stopping
):
    x, y = _data()
    settings = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0, "dtype": "float64",
                "early_stopping": early_stopping, "batch_size": 16, "alpha": 0.5}  # fmt: skip
    on_device = MLPClassifier(**settings, device="cuda").fit(x, y)
    on_host = MLPClassifier(**settings, device="cpu").fit(x, y)
    assert on_device.model_.device == "cuda"
    assert (on_device.coefs_[-1].shape, on_device.out_activation_) == ((4, 1), "logistic")
    np.testing.assert_allclose(on_device.predict_proba(x), on_host.predict_proba(x), rtol=1e-12)
    np.testing.assert_allclose(on_device.loss_curve_, on_host.loss_curve_, rtol=1e-12)
    assert on_device.history_.train_accuracy == on_host.history_.train_accuracy == []
    if early_stopping:
        np.testing.assert_allclose(
            on_device.history_.val_loss, on_host.history_.val_loss, rtol=1e-12
        )
        assert on_device.validation_scores_ == on_host.validation_scores_
        assert len(on_device.validation_scores_) == 3
