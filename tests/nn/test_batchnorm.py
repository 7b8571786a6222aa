"""BatchNorm against a NumPy re-derivation, the textbook backward formula and finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from jaxnn import nn

EPS = 1e-5


def np_batchnorm_train(x, gamma, beta, axis=-1):
    """Returns y, batch mean, biased batch variance; statistics over every axis but ``axis``."""
    moved = np.moveaxis(x, axis, -1)
    flat = moved.reshape(-1, moved.shape[-1])
    mean, var = flat.mean(0), ((flat - flat.mean(0)) ** 2).sum(0) / flat.shape[0]
    y = gamma * (moved - mean) / np.sqrt(var + EPS) + beta
    return np.moveaxis(y, -1, axis), mean, var


def random(seed, shape, scale=1.0, shift=0.0):
    return shift + scale * np.random.default_rng(seed).standard_normal(shape)


def jitted(layer):
    """``layer.apply`` compiled once rather than op by op (faster tests)."""
    return jax.jit(layer.apply, static_argnames="train")


def init_with(layer, input_shape, gamma, beta, mean=None, var=None):
    params, state = layer.init(jax.random.key(0), input_shape)
    params = {"gamma": jnp.asarray(gamma, jnp.float32), "beta": jnp.asarray(beta, jnp.float32)}
    if mean is not None:
        state = {"mean": jnp.asarray(mean, jnp.float32), "var": jnp.asarray(var, jnp.float32)}
    return params, state


def test_init_gives_ones_zeros_and_unit_running_variance():
    params, state = nn.BatchNorm().init(jax.random.key(0), (4,))
    np.testing.assert_array_equal(params["gamma"], np.ones(4))
    np.testing.assert_array_equal(params["beta"], np.zeros(4))
    np.testing.assert_array_equal(state["mean"], np.zeros(4))
    np.testing.assert_array_equal(state["var"], np.ones(4))


@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 3), (2, 3, 4, 3)])
def test_train_forward_and_running_update_match_numpy(shape):
    x = random(1, shape, scale=3.0, shift=2.0)
    gamma, beta = random(2, (3,)), random(3, (3,))
    layer = nn.BatchNorm(momentum=0.9)
    params, state = init_with(layer, shape[1:], gamma, beta)
    y, new_state = jitted(layer)(params, state, jnp.asarray(x, jnp.float32), train=True)
    expected, mean, var = np_batchnorm_train(x, gamma, beta)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new_state["mean"], 0.9 * 0 + 0.1 * mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_state["var"], 0.9 * 1 + 0.1 * var, rtol=1e-5)


@pytest.mark.parametrize("shape", [(8, 3), (2, 3, 4, 3)])
def test_eval_normalises_with_the_running_statistics(shape):
    x = random(1, shape)
    gamma, beta, mean, var = random(2, (3,)), random(3, (3,)), random(4, (3,)), np.array([0.5, 2.0, 4.0])
    layer = nn.BatchNorm()
    params, state = init_with(layer, shape[1:], gamma, beta, mean, var)
    y, new_state = jitted(layer)(params, state, jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + EPS) + beta, rtol=1e-4, atol=1e-5)
    jax.tree.map(np.testing.assert_array_equal, new_state, state)
    # One example at a time gives the same answer: evaluation does not depend on the batch.
    y0, _ = jitted(layer)(params, state, jnp.asarray(x[:1], jnp.float32))
    np.testing.assert_allclose(y0, y[:1], rtol=1e-6)


def test_feature_axis_other_than_last():
    x = random(1, (4, 3, 5))  # (N, C, L)
    gamma, beta = random(2, (3,)), random(3, (3,))
    layer = nn.BatchNorm(axis=1)
    params, state = init_with(layer, (3, 5), gamma, beta)
    y, new_state = jitted(layer)(params, state, jnp.asarray(x, jnp.float32), train=True)
    expected, mean, _ = np_batchnorm_train(x, gamma, beta, axis=1)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new_state["mean"], 0.1 * mean, rtol=1e-5, atol=1e-6)


def test_running_statistics_after_five_steps():
    momentum = 0.8
    layer = nn.BatchNorm(momentum=momentum)
    params, state = layer.init(jax.random.key(0), (4, 3))
    apply = jitted(layer)
    running_mean, running_var = np.zeros(3), np.ones(3)
    for step in range(5):
        x = random(10 + step, (6, 4, 3), scale=1.0 + step, shift=step - 2.0)
        _, state = apply(params, state, jnp.asarray(x, jnp.float32), train=True)
        flat = x.reshape(-1, 3)
        running_mean = momentum * running_mean + (1 - momentum) * flat.mean(0)
        running_var = momentum * running_var + (1 - momentum) * flat.var(0)
    np.testing.assert_allclose(state["mean"], running_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(state["var"], running_var, rtol=1e-5)


def textbook_backward(x, gamma, dy):
    """Deep Learning from Scratch / Ioffe & Szegedy: the hand-derived gradients, x and dy of shape (N, C)."""
    n = x.shape[0]
    sigma = np.sqrt(x.var(0) + EPS)
    x_hat = (x - x.mean(0)) / sigma
    dx = (1 / n) * gamma / sigma * (n * dy - dy.sum(0) - x_hat * (dy * x_hat).sum(0))
    return dx, (dy * x_hat).sum(0), dy.sum(0)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 2, 3)])
def test_autodiff_matches_the_textbook_backward_formula(shape):
    x, dy = random(1, shape), random(2, shape)
    gamma, beta = random(3, (3,)), random(4, (3,))
    layer = nn.BatchNorm()
    params, state = init_with(layer, shape[1:], gamma, beta)

    def loss(params, x):  # dL/dy = dy
        y, _ = layer.apply(params, state, x, train=True)
        return jnp.sum(y * jnp.asarray(dy, jnp.float32))

    grads, dx = jax.jit(jax.grad(loss, argnums=(0, 1)))(params, jnp.asarray(x, jnp.float32))
    flat = lambda a: a.reshape(-1, 3)  # noqa: E731
    expected_dx, expected_dgamma, expected_dbeta = textbook_backward(flat(x), gamma, flat(dy))
    np.testing.assert_allclose(flat(np.asarray(dx)), expected_dx, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(grads["gamma"], expected_dgamma, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(grads["beta"], expected_dbeta, rtol=1e-5, atol=1e-5)


def test_gradients_of_a_bn_network_match_central_differences_in_float64():
    rng = np.random.default_rng(0)
    model = nn.Sequential([nn.Dense(4), nn.BatchNorm(), nn.tanh, nn.Dense(2)])
    params = {
        "0": {"w": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)},
        "1": {"gamma": np.array([0.5, 1.0, 1.5, 2.0]), "beta": np.array([0.1, -0.2, 0.3, 0.0])},
        "3": {"w": rng.standard_normal((4, 2)), "b": rng.standard_normal(2)},
    }
    state = {"1": {"mean": np.zeros(4), "var": np.ones(4)}}
    x = rng.standard_normal((5, 3))
    with jax.enable_x64(True):
        params, state, x = jax.tree.map(jnp.asarray, (params, state, x))
        assert x.dtype == params["0"]["w"].dtype == jnp.float64

        def loss(params, x):
            y, _ = model.apply(params, state, x, train=True)
            return jnp.sum(jnp.sin(y) + y**2)

        flat, unravel = ravel_pytree((params, x))
        f = jax.jit(lambda v: loss(*unravel(v)))
        h = 1e-6
        steps = h * np.eye(flat.size)
        numeric = np.array([(f(flat + step) - f(flat - step)) / (2 * h) for step in steps])
        analytic, _ = ravel_pytree(jax.jit(jax.grad(loss, argnums=(0, 1)))(params, x))
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_momentum_may_be_traced_so_a_sweep_can_vmap_over_it():
    x = random(1, (6, 2))
    momenta = jnp.array([0.0, 0.5, 0.9, 1.0])

    def running_mean(m):
        layer = nn.BatchNorm(momentum=m)
        params, state = layer.init(jax.random.key(0), (2,))
        return layer.apply(params, state, jnp.asarray(x, jnp.float32), train=True)[1]["mean"]

    np.testing.assert_allclose(
        jax.vmap(running_mean)(momenta), (1 - np.asarray(momenta))[:, None] * x.mean(0), rtol=1e-5, atol=1e-6
    )


def test_wrong_feature_size_names_layer_and_shapes():
    layer = nn.BatchNorm()
    params, state = layer.init(jax.random.key(0), (3,))
    with pytest.raises(
        ValueError, match=r"BatchNorm\(axis=-1\) expected .*3 features.*received shape \(4, 5\)"
    ):
        layer.apply(params, state, jnp.ones((4, 5)), train=True)
    with pytest.raises(ValueError, match=r"received shape \(3,\)"):
        layer.apply(params, state, jnp.ones(3))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"momentum": 1.5}, ValueError, r"momentum=1.5 is not allowed: momentum must be a number in \[0, 1\]"),
        ({"momentum": -0.1}, ValueError, "momentum=-0.1 is not allowed"),
        ({"eps": 0.0}, ValueError, "eps=0.0 is not allowed: eps must be a number > 0"),
        ({"axis": 1.0}, TypeError, "axis must be an int"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        nn.BatchNorm(**kwargs)


def test_batch_axis_cannot_be_the_feature_axis():
    with pytest.raises(ValueError, match="feature axis 0"):
        nn.BatchNorm(axis=0).init(jax.random.key(0), (3,))


def test_training_on_a_batch_of_one_raises_naming_the_layer_and_the_shape():
    # Before: the output was beta, no gradient passed and the running variance halved towards 0.
    bn = nn.BatchNorm()
    params, state = bn.init(jax.random.key(0), (3,))
    with pytest.raises(ValueError, match=r"BatchNorm\(axis=-1\) in training mode .* shape \(1, 3\) \(a batch of one\)"):
        bn.apply(params, state, jnp.ones((1, 3)), train=True)
    with pytest.raises(ValueError, match=r"shape \(1, 1, 1, 2\)"):
        jax.eval_shape(lambda x: nn.BatchNorm().apply(*nn.BatchNorm().init(jax.random.key(0), (1, 1, 2)), x,
                                                       train=True), jax.ShapeDtypeStruct((1, 1, 1, 2), jnp.float32))


def test_one_example_with_several_values_per_feature_and_evaluation_on_one_still_work():
    bn = nn.BatchNorm()
    params, state = bn.init(jax.random.key(0), (4, 2))
    x = jnp.asarray(random(0, (1, 4, 2)), jnp.float32)
    y, _ = bn.apply(params, state, x, train=True)  # 4 values per feature, as PyTorch allows
    np.testing.assert_allclose(y, np_batchnorm_train(np.asarray(x), 1.0, 0.0)[0], rtol=1e-4, atol=1e-5)
    y, _ = bn.apply(params, state, x[:, :1], train=False)
    np.testing.assert_allclose(y, x[:, :1] / np.sqrt(1 + EPS), rtol=1e-6)
