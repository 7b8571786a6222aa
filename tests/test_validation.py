"""The shared range check: concrete values are checked (finite, in range), tracers pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

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
