"""Activations against NumPy formulas (float64), and Maxout."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn

X = np.array([-30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0], np.float32)


@pytest.mark.parametrize(
    "fn, reference",
    [
        (nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
        (nn.tanh, np.tanh),
        (nn.relu, lambda x: np.maximum(x, 0)),
        (nn.leaky_relu, lambda x: np.where(x >= 0, x, 0.01 * x)),
        (functools.partial(nn.leaky_relu, negative_slope=0.2), lambda x: np.where(x >= 0, x, 0.2 * x)),
        (nn.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
        (functools.partial(nn.elu, alpha=0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
        (nn.softplus, lambda x: np.logaddexp(0, x)),
    ],
)
def test_elementwise_activations_match_numpy(fn, reference):
    np.testing.assert_allclose(fn(jnp.asarray(X)), reference(X.astype(np.float64)), rtol=1e-6, atol=1e-7)


def test_relu_derivative_is_zero_at_zero():
    assert jax.grad(nn.relu)(0.0) == 0.0
    assert jax.grad(nn.relu)(1.5) == 1.0


def test_sigmoid_derivative_is_sigma_times_one_minus_sigma():
    x = jnp.asarray(X[1:-1])
    s = 1 / (1 + np.exp(-X[1:-1].astype(np.float64)))
    np.testing.assert_allclose(jax.vmap(jax.grad(nn.sigmoid))(x), s * (1 - s), rtol=1e-5)


def test_softmax_and_log_softmax_are_stable_and_match_numpy():
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 1001.0, 999.0], [-1000.0, 0.0, 5.0]], np.float32)
    z64 = z.astype(np.float64)
    shifted = z64 - z64.max(axis=-1, keepdims=True)
    expected_log = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(nn.log_softmax(jnp.asarray(z)), expected_log, rtol=1e-6, atol=1e-5)
    p = nn.softmax(jnp.asarray(z))
    np.testing.assert_allclose(p, np.exp(expected_log), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(nn.softmax(jnp.asarray(z), axis=0).sum(0), 1.0, rtol=1e-6)


def test_maxout_takes_the_max_of_the_affine_pieces():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4, 3)), rng.standard_normal((4, 3))
    params = {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32)}
    y, state = nn.Maxout(4, pieces=3).apply(params, {}, jnp.asarray(x, jnp.float32))
    expected = np.stack(
        [np.max([x @ w[:, j, k] + b[j, k] for k in range(3)], axis=0) for j in range(4)], axis=-1
    )
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert state == {}


def test_maxout_init_draws_the_pieces_as_one_matrix_with_fan_in_of_the_input():
    requested = []

    def numbered(key, shape, dtype=None):
        requested.append(shape)
        return jnp.arange(np.prod(shape), dtype=jnp.float32).reshape(shape)

    params, state = nn.Maxout(4, pieces=3, w_init=numbered, b_init=numbered).init(jax.random.key(0), (5,))
    # Asked twice: once while the init is traced from shapes (nn.init draws once per model), once for the values.
    assert requested == [(5, 12), (12,)] * 2 and state == {}
    # Unit j's piece k is column j·pieces + k of the drawn matrix.
    np.testing.assert_array_equal(params["w"], np.arange(60.0).reshape(5, 4, 3))
    np.testing.assert_array_equal(params["b"], np.arange(12.0).reshape(4, 3))


def test_maxout_validates_its_arguments_and_input():
    with pytest.raises(ValueError, match="pieces must be a positive int, got 0"):
        nn.Maxout(4, 0)
    params = {"w": jnp.zeros((5, 4, 2)), "b": jnp.zeros((4, 2))}
    with pytest.raises(ValueError, match=r"Maxout\(4, pieces=2\) expected .*\(batch, ..., 5\).*\(3, 6\)"):
        nn.Maxout(4, 2).apply(params, {}, jnp.ones((3, 6)))


def test_activations_can_be_placed_directly_in_sequential():
    model = nn.Sequential([nn.tanh, nn.relu])
    params, state = model.init(jax.random.key(0), (7,))
    y, _ = model.apply(params, state, jnp.asarray(X)[None])
    np.testing.assert_allclose(y[0], np.maximum(np.tanh(X), 0), rtol=1e-6)
    assert params == {} and state == {}
