"""Answers to the exercises of the chapter "The forward pass and shapes"."""

import numpy as np

from neural_network import build_mlp


def exercise_1():
    # A 784-128-64-10 network: each Dense layer has n_in * n_out weights and n_out biases.
    by_hand = (784 * 128 + 128) + (128 * 64 + 64) + (64 * 10 + 10)
    model = build_mlp(784, [128, 64], 10, rng=np.random.default_rng(0))
    assert sum(p.value.size for p in model.parameters()) == by_hand == 109_386
    out = model.forward(np.zeros((5, 784), dtype=np.float32))
    assert out.shape == (5, 10)
