"""Flatten."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn


def test_flatten_keeps_the_batch_axis():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    y, state = nn.Flatten().apply({}, {}, jnp.asarray(x))
    np.testing.assert_array_equal(y, x.reshape(2, 60))
    assert state == {}
    assert nn.Flatten().output_shape((3, 4, 5)) == (60,)


def test_flatten_lets_dense_infer_its_fan_in():
    params, _ = nn.Sequential([nn.Flatten(), nn.Dense(2)]).init(jax.random.key(0), (3, 4, 5))
    assert params["1"]["w"].shape == (60, 2)


def test_flatten_needs_a_batch_axis():
    with pytest.raises(ValueError, match=r"Flatten\(\) expected .*\(batch, \.\.\.\).*received shape \(\)"):
        nn.Flatten().apply({}, {}, jnp.float32(1.0))
