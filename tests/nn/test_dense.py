"""Dense against NumPy."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn

RNG = np.random.default_rng(0)
PARAMS = {"w": RNG.standard_normal((4, 3)).astype(np.float32), "b": RNG.standard_normal(3).astype(np.float32)}


def test_dense_is_x_w_plus_b():
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    y, state = nn.Dense(3).apply(PARAMS, {}, x)
    np.testing.assert_allclose(y, x.astype(np.float64) @ PARAMS["w"] + PARAMS["b"], rtol=1e-5, atol=1e-6)
    assert isinstance(y, jax.Array) and state == {}


def test_dense_acts_on_the_last_axis_of_higher_rank_inputs():
    x = RNG.standard_normal((2, 6, 4)).astype(np.float32)
    y, _ = nn.Dense(3).apply(PARAMS, {}, x)
    np.testing.assert_allclose(y, x.astype(np.float64) @ PARAMS["w"] + PARAMS["b"], rtol=1e-5, atol=1e-6)
    assert nn.Dense(3).output_shape((6, 4)) == (6, 3)


def test_init_infers_the_fan_in_and_uses_the_initializers():
    params, state = nn.Dense(3, w_init=nn.init.constant(0.5), b_init=nn.init.constant(2.0)).init(
        jax.random.key(0), (4,)
    )
    np.testing.assert_array_equal(params["w"], np.full((4, 3), 0.5))
    np.testing.assert_array_equal(params["b"], np.full(3, 2.0))
    assert state == {}


def test_no_bias():
    layer = nn.Dense(3, use_bias=False, w_init=nn.init.constant(0.5))
    params, state = layer.init(jax.random.key(0), (2,))
    assert set(params) == {"w"}
    y, _ = layer.apply(params, state, jnp.array([[1.0, 2.0]]))
    np.testing.assert_allclose(y, [[1.5, 1.5, 1.5]])


def test_default_init_is_lecun_normal_with_zero_bias():
    params, _ = nn.Dense(256).init(jax.random.key(0), (64,))
    assert float(params["w"].std()) == pytest.approx(np.sqrt(1 / 64), rel=0.05)
    np.testing.assert_array_equal(params["b"], np.zeros(256))


def test_wrong_feature_size_or_rank_names_layer_and_shapes():
    with pytest.raises(
        ValueError, match=r"Dense\(3\) expected .*\(batch, \.\.\., 4\).*received shape \(5, 7\)"
    ):
        nn.Dense(3).apply(PARAMS, {}, jnp.ones((5, 7)))
    with pytest.raises(ValueError, match=r"Dense\(3\).*received shape \(4,\).*no batch axis"):
        nn.Dense(3).apply(PARAMS, {}, jnp.ones(4))
    with pytest.raises(ValueError, match=r"Dense\(3\) cannot find a feature axis -1 in input_shape=\(\)"):
        nn.Dense(3).init(jax.random.key(0), ())


@pytest.mark.parametrize("units", [0, -1, 2.5, "3"])
def test_bad_units(units):
    with pytest.raises((TypeError, ValueError), match=f"units must be a positive int, got {units!r}"):
        nn.Dense(units)
