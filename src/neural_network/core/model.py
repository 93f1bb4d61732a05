"""``Sequential``: a stack of layers with one flat parameter buffer; ``build_mlp`` builds one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..checks import check_positive_int
from .activations import ACTIVATIONS, get_activation
from .layers import Dense, Dropout, Layer
from .losses import softmax
from .parameters import FlatParameters, Parameter
from .threads import inference_threads, timed_batches

LAYER_TYPES: dict[str, type[Layer]] = {
    "Dense": Dense,
    "Dropout": Dropout,
    **{cls.__name__: cls for cls in ACTIVATIONS.values()},
}

ModelWriter = Callable[["str | os.PathLike", "Sequential"], None]
# The file format lives in the io layer above this one. Importing it (``import
# neural_network`` does) installs its writer here, so that core never imports upward.
_model_writer: ModelWriter | None = None


def set_model_writer(writer: ModelWriter) -> None:
    """Install the function that :meth:`Sequential.save` calls (``io.model_files`` does)."""
    global _model_writer
    _model_writer = writer


class Sequential:
    """Layers applied in order; the last one outputs logits.

    On construction all parameters are packed into one :class:`FlatParameters` (``self.flat``),
    which optimisers, clipping and L2 use as whole vectors.

    Args:
        layers: The layers, first to last.
    """

    def __init__(self, layers: Sequence[Layer]):
        layers = list(layers)
        if not layers:
            raise ValueError("Sequential needs at least one layer")
        for layer in layers:
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential takes Layer instances; got {type(layer).__name__}")
        self.layers = layers
        params = self.parameters()
        self.flat = FlatParameters(params) if params else None
        if self.flat is not None:
            for p in self.flat.params:
                p._flat_owner = self.flat  # type: ignore[attr-defined]

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.flat is not None:
            self.flat.rebind()

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        """Logits for the batch ``x`` (n_samples, n_features)."""
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, grad_out: np.ndarray, *, input_grad: bool = False) -> np.ndarray | None:
        """Back-propagate ``dL/dlogits``, filling every ``Parameter.grad``.

        The gradient with respect to the input is returned only if ``input_grad`` is true:
        training never needs it, and for the first Dense layer it is the largest product.
        """
        last = len(self.layers) - 1
        for i, layer in enumerate(reversed(self.layers)):
            grad_out = layer.backward(grad_out, input_grad=input_grad or i != last)
        return grad_out

    def parameters(self) -> list[Parameter]:
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def dtype(self) -> np.dtype:
        return self.flat.dtype if self.flat is not None else np.dtype(np.float32)

    @property
    def n_features(self) -> int:
        return next(layer.n_in for layer in self.layers if isinstance(layer, Dense))

    @property
    def n_classes(self) -> int:
        return next(layer.n_out for layer in reversed(self.layers) if isinstance(layer, Dense))

    def predict_proba(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), computed in batches, without caches, on
        the BLAS threads training chose (see :mod:`neural_network.core.threads`)."""
        x = np.asarray(x)
        out = np.empty((len(x), self.n_classes), dtype=self.dtype)
        with inference_threads() as chooser:
            for start in timed_batches(chooser, range(0, len(x), batch_size), batch_size, len(x)):
                batch = x[start : start + batch_size].astype(self.dtype, copy=False)
                out[start : start + batch_size] = softmax(self.forward(batch, training=False))
        return out

    def predict(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Predicted class ids (n_samples,)."""
        return self.predict_proba(x, batch_size=batch_size).argmax(axis=1)

    def get_config(self) -> dict:
        """JSON-safe description from which :func:`from_config` rebuilds the architecture."""
        return {
            "dtype": str(self.dtype),
            "layers": [
                {"type": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    def save(self, path: str | os.PathLike) -> None:
        """Write the architecture and weights to one ``.npz`` at exactly ``path``, atomically.

        ``neural_network.load_model(path)`` reads it back with bit-identical predictions;
        :func:`neural_network.save_model` does the writing.

        Raises:
            ModelFileError: if a weight is not finite (nothing is written).
        """
        if _model_writer is None:
            raise RuntimeError("import neural_network.io.model_files to save models")
        _model_writer(path, self)

    def summary(self) -> str:
        """A table of the layers with their output shapes and parameter counts, like Keras'
        ``model.summary()``; ``print(model.summary())`` shows it.

        ``n`` in a shape stands for the number of samples in a batch.
        """
        rows = [("#", "layer", "output shape", "parameters")]
        width = self.n_features
        for index, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                width = layer.n_out
            count = sum(p.value.size for p in layer.parameters())
            rows.append((str(index), repr(layer), f"(n, {width})", f"{count:,}"))
        sizes = [max(len(row[k]) for row in rows) for k in range(4)]
        aligns = (">", "<", "<", ">")
        lines = [
            "  ".join(
                f"{cell:{align}{size}}"
                for cell, align, size in zip(row, aligns, sizes, strict=True)
            )
            for row in rows
        ]
        rule = "-" * len(lines[0])
        n_weights = self.flat.n_decay if self.flat is not None else 0
        n_total = len(self.flat) if self.flat is not None else 0
        return "\n".join(
            [
                f"Sequential: {self.n_features} inputs -> {self.n_classes} outputs, {self.dtype}",
                rule,
                lines[0],
                rule,
                *lines[1:],
                rule,
                f"{n_total:,} parameters: {n_weights:,} weights (L2 applies), "
                f"{n_total - n_weights:,} biases",
            ]
        )

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"

    @classmethod
    def from_config(cls, config: dict, *, rng: np.random.Generator | None = None) -> Sequential:
        """Rebuild a model (with fresh weights) from :meth:`get_config`'s output."""
        rng = rng if rng is not None else np.random.default_rng()
        dtype = np.dtype(config.get("dtype", "float32"))
        layers: list[Layer] = []
        for spec in config["layers"]:
            kind = spec["type"]
            if kind not in LAYER_TYPES:
                raise ValueError(
                    f"Unknown layer type {kind!r}; expected one of {sorted(LAYER_TYPES)}"
                )
            kwargs = dict(spec.get("config", {}))
            if kind == "Dense":
                layers.append(Dense(**kwargs, rng=rng, dtype=dtype))
            elif kind == "Dropout":
                layers.append(Dropout(**kwargs, rng=rng))
            else:
                layers.append(LAYER_TYPES[kind](**kwargs))
        return cls(layers)


def build_mlp(
    n_features: int,
    hidden: Sequence[int],
    n_classes: int,
    *,
    activation: str = "relu",
    dropout: float | None = None,
    init: str | None = None,
    rng: np.random.Generator | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """A multi-layer perceptron ``Dense -> activation [-> Dropout]`` per hidden layer, then a
    ``Dense`` to ``n_classes`` logits.

    Args:
        n_features: Input size, e.g. 784 for MNIST.
        hidden: Units of each hidden layer, e.g. ``[512, 256, 128]``; may be empty.
        n_classes: Number of output classes.
        activation: A key of ``ACTIVATIONS``.
        dropout: Drop probability of a ``Dropout`` layer after each hidden activation, or
            ``None`` for no dropout layers. ``0.0`` adds them as identities whose ``rate``
            can be raised later without rebuilding the model.
        init: A key of ``INITIALIZERS`` for every Dense layer, the output one included; by
            default the activation's: He for the ReLU family, Xavier for sigmoid and tanh.
        rng: Generator for weights and dropout masks.
        dtype: Parameter dtype.
    """
    activation_cls = get_activation(activation)
    if isinstance(hidden, (int, np.integer)):
        hidden = [hidden]
    hidden = list(hidden)
    for units in hidden:
        try:
            check_positive_int("hidden layer sizes", units)
        except ValueError:
            raise ValueError(
                f"hidden layer sizes must be positive integers; got {hidden!r}"
            ) from None
    rng = rng if rng is not None else np.random.default_rng()
    init = init or activation_cls.default_init  # type: ignore[attr-defined]
    layers: list[Layer] = []
    n_in = n_features
    for units in hidden:
        layers += [Dense(n_in, units, init=init, rng=rng, dtype=dtype), activation_cls()]
        if dropout is not None:
            layers.append(Dropout(dropout, rng=rng))
        n_in = units
    layers.append(Dense(n_in, n_classes, init=init, rng=rng, dtype=dtype))
    return Sequential(layers)
