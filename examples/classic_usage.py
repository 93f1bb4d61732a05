"""The usage of "Neural Network from Scratch – Optimized Version", as its README writes it,
with the bundled MNIST in place of fetch_openml. Writes cost.png and accuracy.png here."""

from neural_network import NeuralNetwork, load_mnist, one_hot_encode

(x_train, y_train), (x_test, y_test) = load_mnist()
X_train, X_test = x_train.T, x_test.T  # the classic API keeps samples in columns: (784, N)
y_train, y_test = one_hot_encode(y_train, 10), one_hot_encode(y_test, 10)

nn = NeuralNetwork(
    X=X_train,
    y=y_train,
    X_test=X_test,
    y_test=y_test,
    activation="relu",
    num_labels=10,
    architecture=[512, 256, 128],
    seed=42,
)
nn.fit(
    lr=1e-3,
    epochs=30,
    batch_size=128,
    lam=1e-4,
    dropout_keep=1.0,
    grad_clip=5.0,
    early_stopping_patience=8,
)
nn.plot_cost(lr_used=1e-3, path="cost.png")
nn.plot_accuracies(lr_used=1e-3, path="accuracy.png")
print(f"Test accuracy: {100 * nn.accuracy(X_test, y_test):.2f}%")
