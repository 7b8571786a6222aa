"""The shared range check: concrete values are checked as float32 (finite, in range), bools refused, tracers pass."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn
from jaxnn.validation import check_range


def test_check_range_checks_concrete_values_and_lets_tracers_through():
    ok = lambda v: v >= 0  # noqa: E731
    check_range("std", 0.5, ok, "a number >= 0")
    with pytest.raises(ValueError, match=r"std=-0.5 is not allowed: std must be a number >= 0"):
        check_range("std", -0.5, ok, "a number >= 0")
    with pytest.raises(TypeError, match="std must be"):
        check_range("std", "big", ok, "a number >= 0")
    with pytest.raises(ValueError, match="nan"):
        check_range("std", float("nan"), ok, "a number >= 0")
    # Inside vmap the value is unknown; the check must not force it to a Python float.
    jax.vmap(lambda s: check_range("std", s, ok, "a number >= 0") or s)(jnp.array([-1.0, 1.0]))


    with pytest.raises(ValueError, match="inf"):
        check_range("std", np.inf, ok, "a number >= 0")
    with pytest.raises(ValueError, match=r"std=\{'a': -1.0\}"):
        check_range("std", {"a": -1.0}, ok, "a number >= 0")  # pytrees are checked leaf by leaf


@pytest.mark.parametrize(
    "value, ok, allowed, stored",
    [
        (1e39, lambda v: v >= 0, "a number >= 0", "inf"),  # finite in float64, inf in float32
        (0.999999999, lambda v: (v >= 0) & (v < 1), "a number in [0, 1)", "1.0"),  # rounds up to 1
        (1e-46, lambda v: v > 0, "a number > 0", "0.0"),  # underflows to 0
    ],
)
def test_values_are_judged_after_the_cast_to_float32(value, ok, allowed, stored):
    expected = rf"x={re.escape(repr(value))} is not allowed \(as float32, .* it is {stored}\): x must be"
    with pytest.raises(ValueError, match=expected):
        check_range("x", value, ok, allowed)


@pytest.mark.parametrize("value", [True, np.array([False, True]), {"a": True}])
def test_bools_are_not_numbers(value):
    with pytest.raises(TypeError, match=r"x=.* is not allowed: x must be a number >= 0, got dtype bool"):
        check_range("x", value, lambda v: v >= 0, "a number >= 0")


def test_a_traced_value_gets_its_dtype_checked():
    with pytest.raises(TypeError, match="got dtype bool"):
        jax.vmap(lambda s: check_range("x", s, lambda v: v >= 0, "a number >= 0") or s)(jnp.array([True]))


def test_init_std_is_checked_as_float32():
    with pytest.raises(ValueError, match=r"std=1e\+39 is not allowed \(as float32"):
        nn.init.normal(1e39)
    assert np.all(np.isfinite(nn.init.normal(1e38)(jax.random.key(0), (3,))))  # the largest float32 is ~3.4e38
