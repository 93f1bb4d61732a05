"""Answers to the exercises of "Sanity checks" (docs/book/sanity-checks.md)."""

import numpy as np

from neural_network import (
    SGD,
    Adam,
    Dense,
    ReLU,
    Sequential,
    SoftmaxCrossEntropy,
    build_mlp,
    load_mnist,
)


def _data(n=2000):
    (images, labels), _ = load_mnist()
    return (images[:n].reshape(n, -1) / 255).astype(np.float32), labels[:n].astype(np.int64)


class MeanBiasDense(Dense):
    """A Dense with a common slip: the bias gradient is the mean of g's rows, not their sum."""

    def backward(self, grad_out, *, input_grad=True):
        result = super().backward(grad_out, input_grad=input_grad)
        self.bias.grad[...] = grad_out.mean(axis=0)
        return result


def _overfit(model, x, labels, steps=150):
    criterion, optimizer = SoftmaxCrossEntropy(), Adam(model.flat, lr=1e-3)
    for _ in range(steps):
        criterion.forward(model.forward(x, training=True), labels)
        model.backward(criterion.backward())
        optimizer.step()
    return float(np.mean(model.predict(x) == labels))


def exercise_1():
    """Only the gradient check catches the mean-for-sum slip: the initial loss does not involve
    the backward pass, and a bias gradient n times too small still lets 20 images be
    memorised (the weights do the work)."""
    x, labels = _data(20)
    rng = np.random.default_rng(0)
    broken = Sequential(
        [
            MeanBiasDense(784, 64, rng=rng, dtype=np.float64),
            ReLU(),
            MeanBiasDense(64, 10, rng=rng, dtype=np.float64),
        ]
    )
    xb = x.astype(np.float64)
    criterion = SoftmaxCrossEntropy()
    # Check 1 passes: the forward pass is untouched.
    assert abs(criterion.forward(broken.forward(xb), labels) - np.log(10)) < 0.5
    # Check 3 fails: the central difference of one output bias disagrees by a factor n = 20.
    criterion.forward(broken.forward(xb, training=True), labels)
    broken.backward(criterion.backward())
    bias = broken.layers[-1].bias
    analytic = float(bias.grad[0])
    keep, eps = bias.value[0], 1e-5
    bias.value[0] = keep + eps
    up = criterion.forward(broken.forward(xb), labels)
    bias.value[0] = keep - eps
    down = criterion.forward(broken.forward(xb), labels)
    bias.value[0] = keep
    numeric = (up - down) / (2 * eps)
    np.testing.assert_allclose(numeric, 20 * analytic, rtol=1e-6)
    # Check 2 passes all the same.
    assert _overfit(broken, xb, labels) == 1.0
    return numeric, analytic


def exercise_2():
    """With the labels shuffled apart from their images the network still memorises all 20,
    so overfitting one batch tests the machinery, not whether the labels fit the images."""
    x, labels = _data(20)
    shuffled = np.random.default_rng(5).permutation(labels)
    assert np.mean(shuffled == labels) < 0.5
    model = build_mlp(784, [128], 10, rng=np.random.default_rng(0))  # smaller: faster
    accuracy = _overfit(model, x, shuffled)
    assert accuracy == 1.0
    return accuracy


def exercise_3(steps=60):
    """Plain SGD's update-to-weight ratio of the first layer grows in proportion to the
    learning rate (its step is lr * g): 0.01 is the rate nearest 1e-3 (about 8e-4), while 0.1,
    the rate most tutorials use with plain SGD, moves about 1% of the weights per step at the
    start. The rule of thumb is a rough guide, not a target."""
    x, labels = _data()
    criterion = SoftmaxCrossEntropy()
    medians = {}
    for lr in (0.01, 0.1, 1.0):
        model = build_mlp(784, [128, 64], 10, rng=np.random.default_rng(0))
        optimizer = SGD(model.flat, lr=lr, momentum=0.0)
        first = model.layers[0].weight
        batches = np.random.default_rng(1)
        ratios = []
        for _ in range(steps):
            batch = batches.integers(0, len(x), 64)
            before = first.value.copy()
            criterion.forward(model.forward(x[batch], training=True), labels[batch])
            model.backward(criterion.backward())
            optimizer.step()
            ratios.append(np.linalg.norm(first.value - before) / np.linalg.norm(before))
        medians[lr] = float(np.median(ratios))
    nearest = min(medians, key=lambda lr: abs(np.log10(medians[lr]) + 3))
    assert medians[0.01] < medians[0.1] < medians[1.0]
    assert nearest == 0.01
    assert 5 < medians[0.1] / medians[0.01] < 20  # about proportional
    return medians


if __name__ == "__main__":
    for exercise in (exercise_1, exercise_2, exercise_3):
        print(exercise.__name__, exercise())
