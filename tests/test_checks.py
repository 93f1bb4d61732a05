"""The argument checks every layer uses: what they accept, what they refuse, what they say."""

import math

import numpy as np
import pytest

from neural_network.checks import (
    as_class_ids,
    check_bool,
    check_non_negative_int,
    check_optional_real,
    check_positive_int,
    check_real,
    is_finite_number,
)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(200)])
def test_check_positive_int_returns_a_plain_int(value):
    result = check_positive_int("n", value)
    assert result == value
    assert type(result) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 2.5, "3", None, True, np.bool_(True), np.float64(2)])
def test_check_positive_int_refuses(value):
    with pytest.raises(ValueError, match=r"^n must be a positive integer; got "):
        check_positive_int("n", value)


def test_check_non_negative_int_takes_zero_and_refuses_negatives():
    assert check_non_negative_int("seed", 0) == 0
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer; got -1"):
        check_non_negative_int("seed", -1)


@pytest.mark.parametrize(
    ("value", "interval", "expected"),
    [
        (1e-3, "(0, inf)", 1e-3),
        (np.float32(0.5), "(0, 1]", 0.5),
        (1, "(0, 1]", 1.0),
        (0, "[0, 1)", 0.0),
        (np.int32(4), "[0, inf)", 4.0),
        (-2.5, "(-inf, inf)", -2.5),
        (math.inf, "[0, inf]", math.inf),
    ],
)
def test_check_real_accepts_numbers_in_the_interval(value, interval, expected):
    result = check_real("x", value, interval)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize(
    ("value", "interval", "message"),
    [
        (0, "(0, inf)", r"^lr must be a positive number; got 0$"),
        (-1e-3, "(0, inf)", r"^lr must be a positive number; got -0\.001$"),
        (-1, "[0, inf)", r"^lr must be a non-negative number; got -1$"),
        (math.nan, "(0, inf)", r"^lr must be a positive number; got nan$"),
        (math.inf, "(0, inf)", r"^lr must be finite; got inf$"),
        (-math.inf, "(-inf, inf)", r"^lr must be finite; got -inf$"),
        (1.0, "[0, 1)", r"^lr must lie in \[0, 1\); got 1\.0$"),
        (0.0, "(0, 1]", r"^lr must lie in \(0, 1\]; got 0\.0$"),
        ("0.1", "(0, inf)", r"^lr must be a positive number; got '0\.1'$"),
        (None, "(0, inf)", r"^lr must be a positive number; got None$"),
        (True, "(0, inf)", r"^lr must be a positive number; got True$"),
        (1j, "(-inf, inf)", r"^lr must be a real number; got 1j$"),
        ([1.0], "(0, 1]", r"^lr must be a number in \(0, 1\]; got \[1\.0\]$"),
    ],
)
def test_check_real_messages(value, interval, message):
    with pytest.raises(ValueError, match=message):
        check_real("lr", value, interval)


def test_an_empty_name_starts_the_message_at_must():
    with pytest.raises(ValueError, match=r"^must be a positive integer; got 0$"):
        check_positive_int("", 0)
    with pytest.raises(ValueError, match=r"^must lie in \(0, 1\]; got 2\.0$"):
        check_real("", 2.0, "(0, 1]")


def test_check_optional_real_passes_none_through():
    assert check_optional_real("clip_norm", None, "(0, inf)") is None
    assert check_optional_real("clip_norm", 5, "(0, inf)") == 5.0
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        check_optional_real("clip_norm", 0.0, "(0, inf)")


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_check_bool_accepts_booleans(value):
    assert check_bool("flag", value) is bool(value)


@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_check_bool_refuses_others(value):
    with pytest.raises(ValueError, match=r"^flag must be True or False; got "):
        check_bool("flag", value)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [([0, 2, 1], [0, 2, 1]), (np.array([1.0, 0.0]), [1, 0]), (np.array([], dtype=int), [])],
)
def test_as_class_ids_accepts_integers_and_whole_floats(labels, expected):
    ids = as_class_ids(labels, 3)
    assert ids.dtype == np.intp
    np.testing.assert_array_equal(ids, expected)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((2, 2), dtype=int), r"y must be 1-D; got shape \(2, 2\)"),
        (np.array([0.5, 1.0]), "y must be integer class ids; got dtype float64"),
        (np.array([0.0, np.nan]), "y must be integer class ids"),
        (np.array(["a", "b"]), "y must be integer class ids"),
        (np.array([True, False]), "y must be integer class ids"),
        (np.array([0, 3]), r"y must lie in \[0, 3\); got values from 0 to 3"),
        (np.array([-1, 2]), r"y must lie in \[0, 3\); got values from -1 to 2"),
        (np.array([0.0, np.inf]), r"y must lie in \[0, 3\); got values from 0.0 to inf"),
        (np.array([1.0, 1e30]), r"y must lie in \[0, 3\); got values from 1.0 to 1e\+30"),
        (np.array([2**40], dtype=np.uint64), r"y must lie in \[0, 3\)"),
    ],
)
def test_as_class_ids_messages(labels, message):
    with pytest.raises(ValueError, match=message):
        as_class_ids(labels, 3, name="y")


def test_as_class_ids_default_name():
    with pytest.raises(ValueError, match=r"^labels must"):
        as_class_ids([5], 3)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, True), (-2.5, True), (0.0, True), (10**400, False), (math.inf, False),
     (math.nan, False), (True, False), ("1", False), (None, False), (np.float64(1.0), False)],
)  # fmt: skip
def test_is_finite_number_takes_json_numbers_only(value, expected):
    assert is_finite_number(value) is expected
