"""Argument checks shared by every layer of the library: one way to say what a value must be.

Each check returns the value as a plain Python ``int``, ``float`` or ``bool`` (so NumPy
scalars are accepted), or raises a ``ValueError`` that names the argument, says what it must
be and shows what it got (with an empty name, the message starts at "must", for callers
such as the command line that name the argument themselves). Booleans are never taken for
numbers.

Intervals are written as in maths: ``"(0, inf)"`` is a positive number, ``"[0, 1)"`` a
number from 0 up to but excluding 1.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is an integer >= 1."""
    return _check_int(name, value, 1, "a positive integer")


def check_non_negative_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` if it is an integer >= 0."""
    return _check_int(name, value, 0, "a non-negative integer")


def _check_int(name: str, value: Any, minimum: int, description: str) -> int:
    is_integer = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
    if not is_integer or value < minimum:
        raise ValueError(f"{_must(name)} be {description}; got {value!r}")
    return int(value)


def _must(name: str) -> str:
    return f"{name} must" if name else "must"


def check_real(name: str, value: Any, interval: str = "(-inf, inf)") -> float:
    """``value`` as a ``float`` if it is a real number in ``interval``.

    Args:
        name: The argument's name, for the message.
        value: What was passed.
        interval: ``"(low, high)"`` with ``(``/``)`` for open ends and ``[``/``]`` for closed
            ones; ``inf`` as an end admits no infinity unless the bracket is closed.

    Raises:
        ValueError: for a non-number, a boolean, NaN, or a number outside ``interval``.
    """
    low_text, high_text = interval[1:-1].split(",")
    low, high = float(low_text), float(high_text)
    low_closed, high_closed = interval[0] == "[", interval[-1] == "]"
    description = _describe(low, high, interval)
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Real)
        or math.isnan(value)
    ):
        raise ValueError(f"{_must(name)} be {description}; got {value!r}")
    number = float(value)
    above = number >= low if low_closed else number > low
    below = number <= high if high_closed else number < high
    if not (above and below):
        if math.isinf(number):
            raise ValueError(f"{_must(name)} be finite; got {value!r}")
        if math.isinf(low) or math.isinf(high):
            raise ValueError(f"{_must(name)} be {description}; got {value!r}")
        raise ValueError(f"{_must(name)} lie in {interval}; got {value!r}")
    return number


def check_optional_real(name: str, value: Any, interval: str) -> float | None:
    """``None``, or ``value`` checked by :func:`check_real`."""
    return None if value is None else check_real(name, value, interval)


def _describe(low: float, high: float, interval: str) -> str:
    if math.isinf(high) and high > 0:
        if low == 0:
            return "a positive number" if interval[0] == "(" else "a non-negative number"
        if math.isinf(low):
            return "a real number"
    return f"a number in {interval}"


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool`` if it is ``True`` or ``False`` (NumPy's too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{_must(name)} be True or False; got {value!r}")
    return bool(value)


def is_finite_number(value: Any) -> bool:
    """Whether ``value``, read from JSON, is a finite number: an ``int`` or a ``float`` within
    the range of a float, not a ``bool``, NaN or an infinity."""
    if type(value) not in (int, float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def as_class_ids(labels: Any, n_classes: int, *, name: str = "labels") -> np.ndarray:
    """Validate integer class ids in ``[0, n_classes)`` and return them as an ``intp`` array.

    Floats holding whole numbers (``3.0``) are accepted; anything else is a ``ValueError``
    that names ``name``.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {labels.shape}")
    is_int = np.issubdtype(labels.dtype, np.integer)
    is_whole_float = np.issubdtype(labels.dtype, np.floating) and bool(
        np.all(labels == np.round(labels))
    )
    if labels.size and not (is_int or is_whole_float):
        raise ValueError(f"{name} must be integer class ids; got dtype {labels.dtype}")
    # Range check before the cast: inf or 1e30 would not survive the cast to intp.
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{name} must lie in [0, {n_classes}); got values from {labels.min()} to {labels.max()}"
        )
    return labels.astype(np.intp, copy=False)
