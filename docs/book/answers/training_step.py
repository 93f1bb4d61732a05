"""Answers to the exercises of "The training step in plain arithmetic"
(docs/book/training-step.md)."""

import numpy as np

from neural_network import SGD, Parameter
from neural_network.optim.reference import ReferenceAdam


class ReferenceRMSProp:
    """RMSProp, one parameter array at a time::

    s = rho * s + (1 - rho) * g**2
    W = W - lr * g / (sqrt(s) + eps)
    """

    def __init__(self, params, lr=1e-3, rho=0.999, eps=1e-8):
        self.params, self.lr, self.rho, self.eps = list(params), lr, rho, eps
        self.s = [np.zeros_like(p.value) for p in self.params]

    def apply(self):
        for p, s in zip(self.params, self.s, strict=True):
            s[...] = self.rho * s + (1 - self.rho) * p.grad**2
            p.value[...] = p.value - self.lr * p.grad / (np.sqrt(s) + self.eps)


def exercise_1(steps=20, lr=1e-3, rho=0.999):
    """Adam with beta1 = 0 and eps = 0 takes RMSProp's step times sqrt(1 - beta2**t); the first
    RMSProp step is lr / sqrt(1 - rho), 31.6 lr, for every weight."""
    rng = np.random.default_rng(0)
    start = rng.normal(size=6)
    gradients = rng.normal(size=(steps, 6))
    rms, adam = Parameter.of(start.copy()), Parameter.of(start.copy())
    rmsprop = ReferenceRMSProp([rms], lr=lr, rho=rho, eps=0.0)
    reference_adam = ReferenceAdam([adam], lr=lr, beta1=0.0, beta2=rho, eps=0.0)
    for t, g in enumerate(gradients, start=1):
        before_rms, before_adam = rms.value.copy(), adam.value.copy()
        rms.grad[...] = g
        adam.grad[...] = g
        rmsprop.apply()
        reference_adam.apply()
        np.testing.assert_allclose(
            adam.value - before_adam, (rms.value - before_rms) * np.sqrt(1 - rho**t), rtol=1e-9
        )
        if t == 1:
            np.testing.assert_allclose(np.abs(rms.value - before_rms), lr / np.sqrt(1 - rho))
            np.testing.assert_allclose(np.abs(adam.value - before_adam), lr)
    # RMSProp's gradient check: with a quadratic loss 0.5 |W|^2 (g = W) it moves towards 0.
    w = Parameter.of(np.full(3, 5.0))
    descent = ReferenceRMSProp([w], lr=0.1, rho=0.9)
    for _ in range(100):
        w.grad[...] = w.value
        descent.apply()
    assert np.all(np.abs(w.value) < 0.2)
    return lr / np.sqrt(1 - rho)


def _valley():
    angle = np.deg2rad(15)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ np.diag([0.01, 1.0]) @ rotation.T


def _converges(lr, A, steps=300):
    param = Parameter.of(np.array([-4.0, 2.0]))
    optimizer = SGD([param], lr=lr, momentum=0.0)
    for _ in range(steps):
        param.grad[...] = A @ param.value
        optimizer.step()
    return bool(np.linalg.norm(param.value) < np.linalg.norm([-4.0, 2.0]))


def exercise_2():
    """The largest learning rate at which plain SGD converges on the valley: 2 / lambda_max
    = 2.0, found by bisection to two digits."""
    A = _valley()
    low, high = 0.5, 4.0
    while high - low > 0.005:
        middle = (low + high) / 2
        low, high = (middle, high) if _converges(middle, A) else (low, middle)
    assert abs(low - 2 / np.linalg.eigvalsh(A).max()) < 0.01
    return round(low, 2)


def exercise_3():
    """The moving average (1 - mu) v of a steady gradient reaches 90% of it after
    ln 0.1 / ln mu steps: 22 for mu = 0.9, 230 for mu = 0.99. With mu = 0.99 the velocity
    remembers a learning-rate change (or a change of slope) for hundreds of steps."""
    steps = {}
    for mu in (0.9, 0.99):
        velocity, t = 0.0, 0
        while (1 - mu) * velocity < 0.9 * 0.2:
            velocity = mu * velocity + 0.2
            t += 1
        steps[mu] = t
        assert t == int(np.ceil(np.log(0.1) / np.log(mu)))
    assert steps == {0.9: 22, 0.99: 230}
    return steps


if __name__ == "__main__":
    for exercise in (exercise_1, exercise_2, exercise_3):
        print(exercise.__name__, exercise())
