"""Answers to the exercises of "Backprop by hand" (docs/book/backprop-by-hand.md)."""

import numpy as np

X = np.array([1.0, 2.0])
W1 = np.array([[0.5, -0.5, 0.25], [0.25, 0.5, -0.5]])
B1 = np.array([0.0, 0.0, 0.25])
W2 = np.array([[1.0, -1.0], [0.5, 0.5], [-1.0, 1.0]])
B2 = np.array([0.0, 0.0])


def forward_backward(w1, b1, w2, b2, label):
    """The loss and the gradients of the chapter's 2-3-2 network for one sample."""
    z1 = X @ w1 + b1
    h = np.maximum(z1, 0)
    z2 = h @ w2 + b2
    p = np.exp(z2 - z2.max()) / np.exp(z2 - z2.max()).sum()
    loss = -np.log(p[label])
    g2 = p - np.eye(2)[label]
    g1 = (w2 @ g2) * (z1 > 0)
    return loss, {"W1": np.outer(X, g1), "b1": g1, "W2": np.outer(h, g2), "b2": g2}


def exercise_1():
    """Label 1: the network's favourite (class 0) must be pushed down, class 1 up."""
    _, grads = forward_backward(W1, B1, W2, B2, label=1)
    g2 = grads["b2"]
    # p - y with y = (0, 1): (0.8808, 0.8808 - 1): positive for class 0, negative for class 1.
    assert g2[0] > 0 and g2[1] < 0
    np.testing.assert_allclose(g2, [0.8808, -0.8808], atol=1e-4)
    # Only hidden unit 0 passes a gradient (unit 1 cancels, unit 2 is off), and dL/dz1[0] =
    # g2 . W2[0] = 2 * 0.8808 > 0, so column 0 of dL/dW1 is x times a positive number.
    assert np.all(grads["W1"][:, 0] > 0)
    np.testing.assert_allclose(grads["W1"][:, 0], X * 2 * 0.8808, atol=1e-3)
    assert np.all(np.abs(grads["W1"][:, 1:]) < 1e-12)
    return grads


def exercise_2():
    """A gradient-descent step lowers the loss; the first-order estimate lr * |grad|^2 of the
    fall holds for small steps and overestimates large ones (the loss curves upwards)."""
    loss, grads = forward_backward(W1, B1, W2, B2, label=0)
    falls = {}
    for lr in (0.5, 0.01):
        new_loss, _ = forward_backward(
            W1 - lr * grads["W1"],
            B1 - lr * grads["b1"],
            W2 - lr * grads["W2"],
            B2 - lr * grads["b2"],
            label=0,
        )
        predicted = lr * sum(float(np.sum(g**2)) for g in grads.values())
        falls[lr] = (float(loss - new_loss), predicted)
    actual, predicted = falls[0.5]
    assert 0 < actual < predicted  # lower, but by about half the estimate (0.104 vs 0.202)
    actual, predicted = falls[0.01]
    assert abs(actual - predicted) < 0.05 * predicted  # within 5% for a small step
    return falls


def exercise_3(eps=1e-6):
    """Central difference for W1[1, 0]: -0.4768."""
    plus, minus = W1.copy(), W1.copy()
    plus[1, 0] += eps
    minus[1, 0] -= eps
    numeric = (
        forward_backward(plus, B1, W2, B2, 0)[0] - forward_backward(minus, B1, W2, B2, 0)[0]
    ) / (2 * eps)
    _, grads = forward_backward(W1, B1, W2, B2, 0)
    assert abs(numeric - grads["W1"][1, 0]) < 1e-8
    assert round(numeric, 4) == -0.4768
    return numeric


if __name__ == "__main__":
    for exercise in (exercise_1, exercise_2, exercise_3):
        print(exercise.__name__, exercise())
