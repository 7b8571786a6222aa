"""Sequential: shape inference, key splitting, state threading, and jit/grad/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import nn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 5)).astype(np.float32)

# The README's model, shared (with its compiled functions) by the tests below.
MODEL = nn.Sequential(
    [nn.Dense(16, w_init=nn.init.he_normal()), nn.BatchNorm(), nn.relu, nn.Dropout(0.2), nn.Dense(3)]
)
INIT = jax.jit(MODEL.init, static_argnums=1)
APPLY = jax.jit(MODEL.apply, static_argnames="train")

MLP = nn.Sequential([nn.Dense(4), nn.relu, nn.Dense(2)])
MLP_PARAMS = {
    "0": {"w": RNG.standard_normal((5, 4)), "b": RNG.standard_normal(4)},
    "2": {"w": RNG.standard_normal((4, 2)), "b": RNG.standard_normal(2)},
}


def model_slice(tree, i):
    """Model ``i`` of a stack: every leaf indexed along its leading axis."""
    return jax.tree.map(lambda a: a[i], tree)


def assert_trees_close(actual, expected, **tolerance):
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **tolerance), actual, expected)


def test_readme_example():
    params, state = INIT(jax.random.key(0), (5,))
    assert jax.tree.map(jnp.shape, params) == {
        "0": {"w": (5, 16), "b": (16,)},
        "1": {"gamma": (16,), "beta": (16,)},
        "4": {"w": (16, 3), "b": (3,)},
    }
    assert jax.tree.map(jnp.shape, state) == {"1": {"mean": (16,), "var": (16,)}}
    logits, new_state = APPLY(params, state, X, train=True, key=jax.random.key(1))
    assert logits.shape == (6, 3)
    np.testing.assert_allclose(
        new_state["1"]["mean"], 0.1 * (X @ np.asarray(params["0"]["w"])).mean(0), atol=1e-5
    )
    eval_logits, eval_state = APPLY(params, new_state, X, train=False)
    assert eval_logits.shape == (6, 3)
    assert_trees_close(eval_state, new_state, rtol=0)
    assert MODEL.output_shape((5,)) == (3,)


def test_output_is_the_composition_of_the_layers():
    p = MLP_PARAMS
    y, state = MLP.apply(jax.tree.map(jnp.asarray, p), {}, X)
    expected = np.maximum(X @ p["0"]["w"] + p["0"]["b"], 0) @ p["2"]["w"] + p["2"]["b"]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    assert state == {}


def test_gradient_matches_hand_written_backprop():
    t = RNG.standard_normal((6, 2))

    def loss(params):
        y, _ = MLP.apply(params, {}, X)
        return jnp.mean((y - t) ** 2)

    grads = jax.jit(jax.grad(loss))(jax.tree.map(jnp.asarray, MLP_PARAMS))
    p, x = MLP_PARAMS, X.astype(np.float64)
    z = x @ p["0"]["w"] + p["0"]["b"]
    h = np.maximum(z, 0)
    dy = 2 * (h @ p["2"]["w"] + p["2"]["b"] - t) / t.size
    dz = (dy @ p["2"]["w"].T) * (z > 0)
    expected = {"0": {"w": x.T @ dz, "b": dz.sum(0)}, "2": {"w": h.T @ dy, "b": dy.sum(0)}}
    assert_trees_close(grads, expected, rtol=1e-4, atol=1e-5)


def test_a_model_without_batchnorm_has_empty_state_and_without_dropout_needs_no_key():
    params, state = jax.eval_shape(lambda k: MLP.init(k, (5,)), jax.random.key(0))
    assert state == {}
    assert set(params) == {"0", "2"}
    y, new_state = MLP.apply(jax.tree.map(jnp.asarray, MLP_PARAMS), {}, X, train=True)
    assert y.shape == (6, 2) and new_state == {}


def test_missing_key_with_active_dropout_names_dropout():
    params, state = jax.eval_shape(lambda k: MODEL.init(k, (5,)), jax.random.key(0))
    with pytest.raises(ValueError, match=r"Dropout\(0.2\) needs a PRNG key"):
        jax.eval_shape(lambda p, s: MODEL.apply(p, s, X, train=True), params, state)


def test_init_and_apply_split_keys_per_layer():
    params, _ = nn.Sequential([nn.Dense(16), nn.Dense(16)]).init(jax.random.key(0), (16,))
    assert not np.allclose(params["0"]["w"], params["1"]["w"])
    masks = nn.Sequential([nn.Dropout(0.5), nn.Dropout(0.5)])
    y, _ = masks.apply({}, {}, jnp.ones((100, 100)), train=True, key=jax.random.key(1))
    # Independent masks keep 1/4 of the values, scaled twice (to 4); one shared mask would keep 1/2.
    assert abs((np.asarray(y) == 4).mean() - 0.25) < 0.02


def test_shape_errors_at_apply_name_the_layer():
    params, state = jax.eval_shape(lambda k: MODEL.init(k, (5,)), jax.random.key(0))
    with pytest.raises(
        ValueError, match=r"Dense\(16\) expected .*\(batch, \.\.\., 5\).*received shape \(6, 7\)"
    ):
        MODEL.apply(params, state, jnp.ones((6, 7)))


def test_shape_inference_through_convolutions():
    model = nn.Sequential(
        [nn.Conv2D(4, 3, padding="SAME"), nn.relu, nn.MaxPool(2), nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)]
    )
    params, _ = jax.eval_shape(lambda k: model.init(k, (10, 10, 1)), jax.random.key(0))
    assert params["3"]["w"].shape == (3, 3, 4, 2)
    assert params["5"]["w"].shape == (3 * 3 * 2, 3)
    assert model.output_shape((10, 10, 1)) == (3,)


def test_nested_sequentials_nest_their_params():
    inner = nn.Sequential([nn.Dense(3), nn.BatchNorm()])
    model = nn.Sequential([nn.relu, inner, nn.Dense(2)])
    params, state = jax.eval_shape(lambda k: model.init(k, (4,)), jax.random.key(0))
    assert set(params) == {"1", "2"} and set(params["1"]) == {"0", "1"}
    assert set(state) == {"1"} and set(state["1"]) == {"1"}


def test_bad_layers_are_type_errors():
    with pytest.raises(TypeError, match=r"Sequential layers\[1\] must be a Layer.*got 'relu'"):
        nn.Sequential([nn.Dense(3), "relu"])
    with pytest.raises(TypeError, match="Sequential takes a list of layers"):
        nn.Sequential(nn.Dense(3))


def test_a_vmapped_stack_of_8_models_equals_8_separate_applies():
    init_keys = jax.random.split(jax.random.key(0), 8)
    dropout_keys = jax.random.split(jax.random.key(1), 8)
    separate = [INIT(key, (5,)) for key in init_keys]
    params, state = jax.tree.map(lambda *leaves: jnp.stack(leaves), *separate)
    # init vmaps too (a sweep initialises its models this way); its compilation is slow, so only trace it.
    stacked = jax.eval_shape(jax.vmap(lambda k: MODEL.init(k, (5,))), init_keys)
    assert jax.tree.map(jnp.shape, stacked) == jax.tree.map(jnp.shape, (params, state))
    assert params["0"]["w"].shape == (8, 5, 16) and state["1"]["mean"].shape == (8, 16)

    # The sweep engine's call, verbatim.
    logits, new_state = jax.jit(jax.vmap(lambda p, s, k: MODEL.apply(p, s, X, train=True, key=k)))(
        params, state, dropout_keys
    )
    eval_logits, _ = jax.jit(jax.vmap(lambda p, s: MODEL.apply(p, s, X)))(params, new_state)

    for i, (p_i, s_i) in enumerate(separate):
        y_i, s_i = APPLY(p_i, s_i, X, train=True, key=dropout_keys[i])
        np.testing.assert_allclose(logits[i], y_i, rtol=1e-5, atol=1e-5)
        assert_trees_close(model_slice(new_state, i), s_i, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(eval_logits[i], APPLY(p_i, s_i, X)[0], rtol=1e-5, atol=1e-5)
    assert not np.allclose(logits[0], logits[1])


def test_grad_of_a_vmapped_stack_is_per_model():
    model = nn.Sequential([nn.Dense(3), nn.BatchNorm(), nn.tanh, nn.Dense(1)])
    params = {
        "0": {"w": RNG.standard_normal((3, 5, 3)), "b": RNG.standard_normal((3, 3))},
        "1": {"gamma": RNG.standard_normal((3, 3)), "beta": RNG.standard_normal((3, 3))},
        "3": {"w": RNG.standard_normal((3, 3, 1)), "b": RNG.standard_normal((3, 1))},
    }
    state = {"1": {"mean": np.zeros((3, 3)), "var": np.ones((3, 3))}}
    params, state = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), (params, state))

    def loss(p, s):
        y, s = model.apply(p, s, X, train=True)
        return jnp.mean(y**2), s

    grads, _ = jax.jit(jax.vmap(jax.grad(loss, has_aux=True)))(params, state)
    grad_one = jax.jit(jax.grad(loss, has_aux=True))
    for i in range(3):
        g_i, _ = grad_one(*model_slice((params, state), i))
        assert_trees_close(model_slice(grads, i), g_i, rtol=1e-4, atol=1e-6)
