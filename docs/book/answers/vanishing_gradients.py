"""Answers to the exercises of "Vanishing gradients and initial scales"
(docs/book/vanishing-gradients.md)."""

import numpy as np

from neural_network import SGD, Adam, Dense, SoftmaxCrossEntropy, build_mlp, load_mnist


def _data(n=2000):
    (images, labels), _ = load_mnist()
    return (images[:n].reshape(n, -1) / 255).astype(np.float32), labels[:n].astype(np.int64)


def _small_init(model, rng, std=0.01):
    for layer in model.layers:
        if isinstance(layer, Dense):
            layer.weight.value[...] = rng.standard_normal(layer.weight.value.shape) * std
    return model


def exercise_1():
    """784-512-256-128-10, ReLU, std 0.01: the mean square of the logits is the input's times
    784e-4/2 * 512e-4/2 * 256e-4/2 * 128e-4 (no ReLU after the last layer) = 1.7e-7; with
    MNIST's mean square of about 0.1, some 2e-8: a typical logit of 1.4e-4."""
    x, _ = _data(500)
    x = x.astype(np.float64)
    rng = np.random.default_rng(0)
    model = _small_init(build_mlp(784, [512, 256, 128], 10, rng=rng, dtype=np.float64), rng)
    factor = (784e-4 / 2) * (512e-4 / 2) * (256e-4 / 2) * 128e-4
    predicted = float(np.mean(x**2)) * factor
    measured = float(np.mean(model.forward(x) ** 2))
    assert 1e-7 < factor < 2e-7
    assert 0.5 * predicted < measured < 2 * predicted  # the variance argument, within 2x
    return predicted, measured


def exercise_2():
    """tanh instead of sigmoid (six hidden layers, Xavier): the first layer's gradient is no
    longer thousands of times smaller than the last's (here it is even larger), since
    tanh'(0) = 1 against sigmoid'(0) = 1/4 and tanh is centred on 0."""
    x, labels = _data(500)
    criterion = SoftmaxCrossEntropy()
    ratios = {}
    for activation in ("tanh", "sigmoid"):
        model = build_mlp(
            784,
            [128] * 6,
            10,
            activation=activation,
            init="xavier_normal",
            rng=np.random.default_rng(0),
        )
        criterion.forward(model.forward(x, training=True), labels)
        model.backward(criterion.backward())
        norms = [
            np.linalg.norm(layer.weight.grad) for layer in model.layers if isinstance(layer, Dense)
        ]
        ratios[activation] = float(norms[0] / norms[-1])  # first layer against last
    assert ratios["sigmoid"] < 1e-2
    assert ratios["tanh"] > 100 * ratios["sigmoid"]
    return ratios


def exercise_3(steps=400):
    """Four hidden ReLU layers from std 0.01: plain SGD stays on the plateau, Adam leaves it
    within a few hundred steps, because its step lr * m / sqrt(v) does not shrink with the
    gradient's scale."""
    x, labels = _data()
    criterion = SoftmaxCrossEntropy()
    final = {}
    for name in ("sgd", "adam"):
        rng = np.random.default_rng(0)
        model = _small_init(build_mlp(784, [128] * 4, 10, rng=rng), rng)
        optimizer = (
            SGD(model.flat, lr=0.1, momentum=0.0) if name == "sgd" else Adam(model.flat, lr=1e-3)
        )
        batches = np.random.default_rng(1)
        losses = []
        for _ in range(steps):
            batch = batches.integers(0, len(x), 32)
            losses.append(criterion.forward(model.forward(x[batch], training=True), labels[batch]))
            model.backward(criterion.backward())
            optimizer.step()
        final[name] = float(np.mean(losses[-50:]))
    assert final["sgd"] > 2.2  # still at ln 10
    assert final["adam"] < 1.0  # learning
    return final


if __name__ == "__main__":
    for exercise in (exercise_1, exercise_2, exercise_3):
        print(exercise.__name__, exercise())
