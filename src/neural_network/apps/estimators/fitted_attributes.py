"""The fitted attributes with scikit-learn's names that are read from the network itself
(``coefs_``, ``intercepts_``, ``n_layers_``, ``loss_``) and its private ``_optimizer``."""

from __future__ import annotations

import numbers

import numpy as np

from ...core import devices
from ...core.layers import Dense
from .rules import LearningRateView


class FittedAttributes:
    """Mixed into the estimators: each attribute reads ``model_`` (or ``optimizer_``)."""

    @property
    def _optimizer(self) -> LearningRateView:
        """scikit-learn's private name for the optimiser, which code written for it reads
        (``_optimizer.learning_rate``, the rate the next epoch starts at)."""
        if "optimizer_" not in self.__dict__:
            raise AttributeError("the estimator has no optimiser yet: fit it first")
        return LearningRateView(self.optimizer_)

    def _dense_layers(self) -> list[Dense]:
        if "model_" not in self.__dict__:
            raise AttributeError("the estimator is not fitted yet")
        return [layer for layer in self.model_.layers if isinstance(layer, Dense)]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """The weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)`` of layer ``i``, as
        in scikit-learn (views of the network's weights: read them, do not resize them).

        Assigning a list of matrices sets the weights: on a fitted estimator at once (each
        of the shape it has), on an unfitted one at the start of the next :meth:`partial_fit`
        (or warm-started :meth:`fit`), which then trains from them, as scikit-learn does.
        """
        return self._layer_arrays("coefs_")

    @coefs_.setter
    def coefs_(self, coefs) -> None:
        self._assign("coefs_", coefs)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """The bias vectors, ``intercepts_[i]`` of shape ``(n_out,)`` of layer ``i``;
        assigned as ``coefs_`` is."""
        return self._layer_arrays("intercepts_")

    @intercepts_.setter
    def intercepts_(self, intercepts) -> None:
        self._assign("intercepts_", intercepts)

    @property
    def n_layers_(self) -> int:
        """Number of layers, input and output included, as scikit-learn counts them. It
        follows from the network: assigning another number to a fitted estimator is refused
        (to an unfitted one, it is kept until the network is built)."""
        if "model_" not in self.__dict__ and _ASSIGNED_N_LAYERS in self.__dict__:
            return self.__dict__[_ASSIGNED_N_LAYERS]
        return len(self._dense_layers()) + 1

    @n_layers_.setter
    def n_layers_(self, n_layers) -> None:
        if "model_" not in self.__dict__:
            self.__dict__[_ASSIGNED_N_LAYERS] = n_layers
            return
        if n_layers != self.n_layers_:
            raise ValueError(
                f"n_layers_={n_layers!r} but the fitted network has {self.n_layers_} layers "
                "(input and output included); it follows from hidden_layer_sizes"
            )

    @property
    def loss_(self) -> float:
        """The training loss of the last epoch (L2 penalty included)."""
        self._dense_layers()
        return self.loss_curve_[-1]

    def _layer_arrays(self, name: str) -> list[np.ndarray]:
        """``coefs_`` or ``intercepts_``: as assigned while the estimator is unfitted, else
        the network's own arrays."""
        key, parameter = _LAYER_ARRAYS[name]
        if "model_" not in self.__dict__ and key in self.__dict__:
            return self.__dict__[key]
        return [getattr(layer, parameter).value for layer in self._dense_layers()]

    def _assign(self, name: str, arrays) -> None:
        """``coefs_`` or ``intercepts_`` set by the user: kept for the next fit while the
        estimator is unfitted (the list itself, which may still be filled in), else copied
        into the network's weights."""
        key, parameter = _LAYER_ARRAYS[name]
        if "model_" not in self.__dict__:
            self.__dict__[key] = arrays
            return
        targets = [getattr(layer, parameter).value for layer in self._dense_layers()]
        set_parameter_values(name, arrays, targets)

    def _take_assigned_parameters(self, counters: dict) -> None:
        """Copy ``coefs_`` and ``intercepts_`` assigned before the network was built into
        it (just built), with the ``counters`` assigned with them, and forget them.

        Raises:
            ValueError: for a list or an array of a shape other than the network's; the
                estimator is then unfitted again, with what was assigned kept.
        """
        try:
            for name, (key, _) in _LAYER_ARRAYS.items():
                if key in self.__dict__:
                    self._assign(name, self.__dict__[key])
        except ValueError:
            del self.model_  # not a fitted estimator with weights it was not given
            self.__dict__.update(counters)
            raise
        self._forget_assigned_parameters()
        self.__dict__.update(counters)

    def _has_assigned_parameters(self) -> bool:
        """Whether ``coefs_`` or ``intercepts_`` were assigned to the unfitted estimator."""
        return _ASSIGNED_COEFS in self.__dict__ or _ASSIGNED_INTERCEPTS in self.__dict__

    def _forget_assigned_parameters(self) -> None:
        for key in (_ASSIGNED_COEFS, _ASSIGNED_INTERCEPTS, _ASSIGNED_N_LAYERS):
            self.__dict__.pop(key, None)


# Where coefs_, intercepts_ and n_layers_ assigned to an unfitted estimator wait.
_ASSIGNED_COEFS = "_assigned_coefs"
_ASSIGNED_INTERCEPTS = "_assigned_intercepts"
_ASSIGNED_N_LAYERS = "_assigned_n_layers"
# Each list attribute: where its assigned value waits, and the Dense parameter it reads.
_LAYER_ARRAYS = {
    "coefs_": (_ASSIGNED_COEFS, "weight"),
    "intercepts_": (_ASSIGNED_INTERCEPTS, "bias"),
}


def set_parameter_values(name: str, arrays, targets: list) -> None:
    """Copy ``arrays`` into the parameter arrays ``targets`` (host or device), each of its
    own shape, after checking all of them (nothing is copied if one is wrong).

    Raises:
        ValueError: for a count or a shape that differs, or values that are not finite reals.
    """
    shapes = [tuple(target.shape) for target in targets]
    if isinstance(arrays, (str, bytes)) or not hasattr(arrays, "__len__"):
        raise ValueError(f"{name} must be a list of {len(targets)} arrays of shapes {shapes}")
    if len(arrays) != len(targets):
        raise ValueError(
            f"{name} has {len(arrays)} arrays but the network has {len(targets)} layers "
            f"(shapes {shapes})"
        )
    values = []
    for i, (array, shape) in enumerate(zip(arrays, shapes, strict=True)):
        try:
            value = np.asarray(array, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}[{i}] is not an array of real numbers") from None
        if value.shape != shape:
            raise ValueError(f"{name}[{i}] has shape {value.shape}; the network's is {shape}")
        if not np.isfinite(value).all():
            raise ValueError(f"{name}[{i}] holds NaN or infinite values")
        values.append(value)
    for target, value in zip(targets, values, strict=True):
        devices.copy_into(target, value.astype(target.dtype))


def assigned_counters(estimator) -> dict:
    """``t_`` and ``_no_improvement_count`` assigned with the weights of an unfitted
    estimator, which training then continues (scikit-learn's meanings).

    Raises:
        ValueError: unless each is a non-negative integer.
    """
    counters = {}
    for name in ("t_", "_no_improvement_count"):
        if name in estimator.__dict__:
            value = estimator.__dict__[name]
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer; got {value!r}")
            counters[name] = int(value)
    return counters
