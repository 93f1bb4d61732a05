"""A NumPy-backed stand-in for CuPy, so that the device code path runs on machines without a GPU.

``DeviceArray`` wraps a NumPy array and behaves as CuPy's arrays do where it matters here:

- NumPy functions and ufuncs dispatch to it (``__array_ufunc__``, ``__array_function__``),
  and reductions return 0-d device arrays, not host scalars;
- mixing it with a NumPy array, or converting it to one implicitly (``np.asarray``,
  ``__array__``), raises :class:`HostCopyError`: a hidden host copy fails the test;
- reading a value back (``float(x)``, ``int(x)``, ``bool(x)``, ``.get()``) is allowed but
  counted in :data:`READS`, so a test can hold a loop to a number of reads per epoch.

``standin_module()`` is the matching "xp" module (``asarray``, ``empty``, ``zeros``,
``arange``, ``random.default_rng``, ``ndarray``); it has no ``ElementwiseKernel``, so the
library takes its generic path, made of NumPy calls, on it.
"""

from __future__ import annotations

import collections
import types

import numpy as np

READS: collections.Counter = collections.Counter()


class HostCopyError(TypeError):
    """A device array met host memory without an explicit copy."""


def _unwrap(value):
    if isinstance(value, DeviceArray):
        return value._data
    if isinstance(value, np.ndarray):
        raise HostCopyError(
            f"a NumPy array of shape {value.shape} was mixed with a device array; "
            "copy it explicitly (xp.asarray) first"
        )
    if isinstance(value, tuple):
        return tuple(_unwrap(item) for item in value)
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def _unwrap_kwargs(kwargs: dict) -> dict:
    return {key: _unwrap(value) for key, value in kwargs.items()}


def _wrap(value, *, top: bool = True):
    if isinstance(value, np.ndarray):
        return DeviceArray(value)
    if isinstance(value, np.generic) or (top and isinstance(value, (int, float))):
        # CuPy's reductions give 0-d device arrays; a host scalar here would hide a read.
        return DeviceArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(item, top=False) for item in value)
    if isinstance(value, list):
        return [_wrap(item, top=False) for item in value]
    return value


class DeviceArray(np.lib.mixins.NDArrayOperatorsMixin):
    """An array in pretend device memory; see the module docstring."""

    __slots__ = ("_data",)

    def __init__(self, data: np.ndarray):
        self._data = data

    # Dispatch: every NumPy operation on device arrays gives device arrays.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _wrap(getattr(ufunc, method)(*_unwrap(inputs), **_unwrap_kwargs(kwargs)))

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def __array__(self, dtype=None, copy=None):
        raise HostCopyError(
            "implicit conversion of a device array to a NumPy array; use .get() explicitly"
        )

    # Reads back to the host, explicit and counted.
    def get(self) -> np.ndarray:
        READS["get"] += 1
        return self._data.copy()

    def _scalar(self, kind: str):
        READS[kind] += 1
        return self._data.item()

    def __float__(self) -> float:
        return float(self._scalar("float"))

    def __int__(self) -> int:
        return int(self._scalar("int"))

    def __index__(self) -> int:
        return int(self._scalar("index"))

    def __bool__(self) -> bool:
        return bool(self._scalar("bool"))

    def item(self):
        return self._scalar("item")

    def tolist(self):
        raise HostCopyError("tolist() of a device array; use .get() explicitly")

    # The array's own interface.
    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value) -> None:
        self._data[_unwrap(key)] = _unwrap(value)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self._data.shape}, dtype={self._data.dtype})"

    @property
    def shape(self):
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def T(self):
        return DeviceArray(self._data.T)

    def __getattr__(self, name):
        # Methods (sum, max, argmax, astype, reshape, copy, ...) run on the data and give
        # device arrays; special names are not forwarded, so NumPy cannot find a way in.
        if name.startswith("__") or name == "_data":
            raise AttributeError(name)
        attribute = getattr(self._data, name)
        if not callable(attribute):
            return DeviceArray(attribute) if isinstance(attribute, np.ndarray) else attribute

        def method(*args, **kwargs):
            return _wrap(attribute(*_unwrap(args), **_unwrap_kwargs(kwargs)))

        return method

    def __getstate__(self):
        return self._data

    def __setstate__(self, state) -> None:
        self._data = state


class _Generator:
    """Stands in for ``cupy.random.Generator``: draws on the "device"."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def random(self, size=None, dtype=np.float64):
        return DeviceArray(np.asarray(self._rng.random(size, dtype=dtype)))


def _asarray(value, dtype=None):
    if isinstance(value, DeviceArray):
        return value if dtype is None else value.astype(dtype, copy=False)
    READS["upload"] += 1
    return DeviceArray(np.array(value, dtype=dtype, copy=True))


def _creator(function):
    def create(*args, **kwargs):
        return DeviceArray(function(*args, **kwargs))

    return create


def standin_module() -> types.ModuleType:
    """A fresh "xp" module backed by :class:`DeviceArray`."""
    xp = types.ModuleType("standin_xp")
    xp.ndarray = DeviceArray
    xp.asarray = _asarray
    xp.asnumpy = lambda array: array.get()
    xp.empty = _creator(np.empty)
    xp.zeros = _creator(np.zeros)
    xp.ones = _creator(np.ones)
    xp.arange = _creator(np.arange)
    xp.random = types.SimpleNamespace(default_rng=_Generator)
    return xp
