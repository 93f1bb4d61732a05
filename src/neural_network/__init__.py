"""A multi-layer perceptron written from scratch in NumPy."""
