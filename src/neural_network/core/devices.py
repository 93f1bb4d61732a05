"""Where arrays live: ``"cpu"`` (NumPy) or ``"cuda"`` (CuPy, an NVIDIA GPU).

CuPy implements NumPy's API and NumPy's dispatch protocols (``__array_ufunc__``,
``__array_function__``), so ``np.exp(x)``, ``x @ w`` or ``np.sum(x, out=...)`` on CuPy arrays
run on the GPU: the layers, the losses and the optimisers' update rules are the same code on
both devices. What differs is where arrays are *created* and when values come back to the
host; that is this module's job, and the array module (``numpy`` or ``cupy``, called ``xp``)
is looked up once per model move or ``fit``, never per element.

CuPy is imported only when ``"cuda"`` is asked for (``pip install "neural-network[cuda]"``
with the CuPy wheel for your CUDA version, see the GPU guide).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

DEVICES = ("cpu", "cuda")


class DeviceUnavailableError(RuntimeError):
    """``device="cuda"`` was asked for where CuPy or an NVIDIA GPU is missing."""


def _load_cupy() -> ModuleType:
    try:
        import cupy
    except ImportError:
        raise DeviceUnavailableError(
            'device="cuda" needs CuPy, which is not installed: pip install '
            '"neural-network[cuda12]" or "neural-network[cuda13]" (the CuPy wheel for your '
            'CUDA version, cupy-cuda12x or cupy-cuda13x), or use device="cpu"'
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy raises its own CUDARuntimeError when there is no driver
        count = 0
    if count == 0:
        raise DeviceUnavailableError(
            'device="cuda" needs an NVIDIA GPU and CuPy finds none on this machine; '
            'use device="cpu"'
        )
    return cupy


# The loader of each non-CPU device's array module. Tests replace it with a NumPy-backed
# stand-in, so that the device code path runs, and is checked, on machines without a GPU.
_MODULE_LOADERS: dict[str, Callable[[], ModuleType]] = {"cuda": _load_cupy}
_loaded: dict[str, ModuleType] = {}


def check_device(device: Any) -> str:
    """Return ``device`` if it names a device, else raise ``ValueError`` naming the choices."""
    if device not in DEVICES:
        raise ValueError(f"Unknown device {device!r}; expected one of {list(DEVICES)}")
    return device


def array_module(device: str) -> ModuleType:
    """The array module of ``device``: ``numpy`` for ``"cpu"``, ``cupy`` for ``"cuda"``.

    Raises:
        ValueError: for an unknown device name.
        DeviceUnavailableError: for ``"cuda"`` without CuPy or without a GPU.
    """
    if check_device(device) == "cpu":
        return np
    if device not in _loaded:
        _loaded[device] = _MODULE_LOADERS[device]()
    return _loaded[device]


def is_host_array(array: Any) -> bool:
    """True for arrays in host memory (NumPy arrays and scalars)."""
    return isinstance(array, (np.ndarray, np.generic))


def to_host(array: Any) -> np.ndarray:
    """``array`` as a NumPy array: itself if it is one, else a copy from the device.

    A copy from the device is exact (the same bits), so a model trained on a GPU saves and
    loads on a machine without one with identical weights.
    """
    if is_host_array(array):
        return np.asarray(array)
    return array.get()  # CuPy's explicit device-to-host copy


def host_copy(array: Any) -> np.ndarray:
    """A NumPy copy of ``array``, wherever it lives (for state dicts and files)."""
    return array.copy() if is_host_array(array) else array.get()


def to_device(array: Any, xp: ModuleType) -> Any:
    """``array`` in ``xp``'s memory: itself when it is there already, else an exact copy."""
    if xp is np:
        return to_host(array)
    if isinstance(array, xp.ndarray):
        return array
    return xp.asarray(np.asarray(array))


def copy_into(destination: Any, source: Any) -> None:
    """``destination[...] = source``, copying ``source`` to ``destination``'s device first
    (CuPy refuses to fill a device array from a host one implicitly)."""
    if is_host_array(destination):
        destination[...] = to_host(source)
    else:
        destination[...] = to_device(source, module_of(destination))


def module_of(array: Any) -> ModuleType:
    """The array module that created ``array`` (``numpy``, ``cupy`` or a loaded stand-in)."""
    if is_host_array(array):
        return np
    for xp in _loaded.values():
        if isinstance(array, xp.ndarray):
            return xp
    raise TypeError(f"{type(array).__name__} is neither a NumPy nor a device array")


def device_of(array: Any) -> str:
    """The name of the device ``array`` lives on."""
    if is_host_array(array):
        return "cpu"
    for device, xp in _loaded.items():
        if isinstance(array, xp.ndarray):
            return device
    raise TypeError(f"{type(array).__name__} is neither a NumPy nor a device array")


def device_generator(rng: np.random.Generator, xp: ModuleType) -> Any:
    """A generator that draws directly in ``xp``'s memory, or ``rng`` itself on the CPU.

    Its seed is spawned from ``rng``'s seed sequence, which leaves ``rng``'s own stream
    untouched: a seeded run shuffles the same batches on both devices, and the same seed
    gives the same device masks.
    """
    if xp is np:
        return rng
    seed_seq = getattr(rng.bit_generator, "seed_seq", None)
    if seed_seq is None or not hasattr(seed_seq, "spawn"):
        return xp.random.default_rng(int(rng.integers(2**63)))
    return xp.random.default_rng(int(seed_seq.spawn(1)[0].generate_state(1, np.uint64)[0]))
