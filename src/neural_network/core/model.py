"""``Sequential``: a stack of layers with one flat parameter buffer; ``build_mlp`` builds one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import numpy as np

from ..checks import check_positive_int
from . import devices
from .activations import ACTIVATIONS, get_activation
from .layers import Dense, Dropout, Layer
from .losses import softmax
from .parameters import FlatParameters, Parameter
from .sparse import is_sparse, sparse_rows
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


NON_FINITE_OUTPUTS = (
    "the model's outputs are not finite numbers (its weights, or its inputs, are so large that "
    "the arithmetic overflows); it gives no usable answer"
)


def check_finite_outputs(outputs: np.ndarray) -> None:
    """Raise ``ValueError(NON_FINITE_OUTPUTS)`` unless every output is finite: a model with
    huge (finite) weights gives NaN or infinite outputs, never a usable answer."""
    if not np.isfinite(outputs).all():
        raise ValueError(NON_FINITE_OUTPUTS)


class Sequential:
    """Layers applied in order; the last one outputs logits.

    On construction all parameters are packed into one :class:`FlatParameters` (``self.flat``),
    which optimisers, clipping and L2 use as whole vectors.

    Args:
        layers: The layers, first to last.
        device: ``"cpu"`` or ``"cuda"``, where the parameters live (see :meth:`to`).
    """

    device = "cpu"  # also what models pickled before devices existed read back as

    def __init__(self, layers: Sequence[Layer], *, device: str = "cpu"):
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
        self.to(device)

    def to(self, device: str) -> Sequential:
        """Move the parameters (and dropout's generators) to ``device``, in place; returns
        the model, as PyTorch's ``module.to`` does.

        The copy is exact either way. Build or load the optimiser's state on the same device
        (``fit`` moves an optimiser built before the move).

        Raises:
            ValueError: for an unknown device name.
            DeviceUnavailableError: for ``"cuda"`` without CuPy or without a GPU.
        """
        xp = devices.array_module(device)
        if device == self.device:
            return self
        if self.flat is not None:
            self.flat.values = devices.to_device(self.flat.values, xp)
            self.flat.grads = devices.to_device(self.flat.grads, xp)
            self.flat.rebind()
        for layer in self.layers:
            if isinstance(layer, Dropout):
                # Masks are drawn where the activations are; the host generator is kept for
                # the way back, so a model returned to the CPU draws as before.
                host_rng = getattr(layer, "_host_rng", layer.rng)
                layer._host_rng = host_rng  # type: ignore[attr-defined]
                layer.rng = devices.device_generator(host_rng, xp)
        self.device = device
        return self

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
        the BLAS threads training chose (see :mod:`neural_network.core.threads`).

        ``x`` is a NumPy array and so is the result, whatever the model's device; a
        scipy.sparse ``x`` is read in CSR batches on the CPU, never densified. The result
        is finite or an error is raised: the arithmetic is the model's dtype (float32 by
        default), so inputs beyond its range, or weights so large that the products
        overflow, give no answer rather than NaN.

        Raises:
            ValueError: for ``x`` that is not ``(n_samples, n_features)`` (the message says
                how to reshape one sample or a stack of images), that holds NaN or infinite
                values or values beyond the model's dtype, or if the outputs are not finite
                (:data:`NON_FINITE_OUTPUTS`).
        """
        return self._in_batches(x, batch_size, softmax)

    def predict_logits(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Logits (n_samples, n_classes) as a NumPy array, computed in batches on the model's
        device, without caches; finite, or ``ValueError`` as for :meth:`predict_proba`."""
        return self._in_batches(x, batch_size, None)

    def _in_batches(self, x, batch_size: int, then) -> np.ndarray:
        """The forward pass (then ``then``) over ``x`` in batches on the model's device,
        with a NumPy result."""
        sparse = is_sparse(x)
        x = self._check_sparse(x) if sparse else self._check_batch(np.asarray(x))
        if not sparse:
            if x.dtype.kind not in "biuf":
                raise ValueError(f"x must hold real numbers; got dtype {x.dtype}")
            if not np.isfinite(x).all():
                raise ValueError("x holds NaN or infinite values")
        xp = devices.array_module(self.device)
        n = x.shape[0]
        out = np.empty((n, self.n_classes), dtype=self.dtype)
        with inference_threads() as chooser, np.errstate(over="ignore", invalid="ignore"):
            for start in timed_batches(chooser, range(0, n, batch_size), batch_size, n):
                host_batch = x[start : start + batch_size].astype(self.dtype, copy=False)
                if not sparse and not np.isfinite(host_batch).all():
                    biggest = float(np.abs(x[start : start + batch_size]).max())
                    raise ValueError(
                        f"x holds values beyond the model's {self.dtype} (largest magnitude "
                        f"{biggest:.3g}; {self.dtype} holds up to {np.finfo(self.dtype).max:.3g})"
                    )
                batch = host_batch if sparse else xp.asarray(host_batch)
                outputs = self.forward(batch, training=False)
                if then is not None:
                    outputs = then(outputs)
                out[start : start + batch_size] = devices.to_host(outputs)
        check_finite_outputs(out)
        return out

    def predict(self, x: np.ndarray, *, batch_size: int = 2048) -> np.ndarray:
        """Predicted class ids (n_samples,); ``x`` and errors as for :meth:`predict_proba`."""
        return self.predict_proba(x, batch_size=batch_size).argmax(axis=1)

    def _check_sparse(self, x):
        """A scipy.sparse ``x`` as CSR rows in the model's dtype, for a CPU model."""
        if self.device != "cpu":
            raise ValueError(
                f"sparse x is read on the CPU only; the model is on {self.device!r}: call "
                "model.to('cpu'), or pass x.toarray()"
            )
        x = sparse_rows(x, self.dtype)
        if x.shape[1] != self.n_features:
            raise ValueError(f"x must have shape (n_samples, {self.n_features}); got {x.shape}")
        return x

    def _check_batch(self, x: np.ndarray) -> np.ndarray:
        """``x`` if it is a batch of rows of ``n_features`` values, else a sentence that says
        what to pass: one sample (a vector or an image) or images must be flattened to rows."""
        n_features = self.n_features
        if x.ndim == 2 and x.shape[1] == n_features:
            return x
        expected = f"(n_samples, {n_features})"
        if x.size == n_features:
            raise ValueError(
                f"x has shape {x.shape}, one sample; the model takes a batch {expected}: "
                f"pass x.reshape(1, {n_features})"
            )
        if x.ndim >= 3 and np.prod(x.shape[1:]) == n_features:
            raise ValueError(
                f"x has shape {x.shape}, a stack of images; the model takes rows {expected}: "
                f"pass x.reshape(len(x), {n_features})"
            )
        if x.ndim == 2 and x.shape[0] == n_features:
            raise ValueError(
                f"x has shape {x.shape}, one sample per column; the model takes one per row "
                f"{expected}: pass x.T"
            )
        raise ValueError(f"x must have shape {expected}; got {x.shape}")

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
    device: str = "cpu",
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
        device: ``"cpu"`` or ``"cuda"``; the weights are drawn on the host either way, so a
            seed gives the same initial weights on both.
    """
    activation_cls = get_activation(activation)
    devices.check_device(device)
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
    return Sequential(layers, device=device)
