"""Residual: y = x + block(x)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn

RNG = np.random.default_rng(0)


def test_residual_adds_the_input_and_keeps_the_blocks_params():
    layer = nn.Residual(nn.Sequential([nn.Dense(4), nn.tanh]))
    params, state = jax.eval_shape(lambda k: layer.init(k, (4,)), jax.random.key(0))
    assert jax.tree.map(jnp.shape, params) == {"0": {"w": (4, 4), "b": (4,)}} and state == {}
    x, w, b = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 4)), RNG.standard_normal(4)
    params = {"0": {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}}
    y, _ = layer.apply(params, {}, jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(y, x + np.tanh(x @ w + b), rtol=1e-5, atol=1e-5)


def test_residual_threads_state_and_keys():
    layer = nn.Residual(nn.Sequential([nn.BatchNorm(), nn.Dropout(0.5)]))
    params, state = layer.init(jax.random.key(0), (4,))
    x = RNG.standard_normal((8, 4)).astype(np.float32)
    _, new_state = jax.jit(layer.apply, static_argnames="train")(
        params, state, x, train=True, key=jax.random.key(2)
    )
    np.testing.assert_allclose(new_state["0"]["mean"], 0.1 * x.mean(0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        layer.apply(params, state, x, train=True)


def test_residual_of_a_plain_function():
    y, _ = nn.Residual(nn.relu).apply({}, {}, jnp.array([[-1.0, 2.0]]))
    np.testing.assert_array_equal(y, [[-1.0, 4.0]])


def test_a_block_that_changes_the_shape_is_an_error_at_init():
    with pytest.raises(ValueError, match=r"Residual: the block maps shape \(4,\) to \(3,\)"):
        nn.Residual(nn.Dense(3, w_init=nn.init.zeros())).init(jax.random.key(0), (4,))
    with pytest.raises(TypeError, match="Residual block must be a Layer"):
        nn.Residual(None)
