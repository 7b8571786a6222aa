"""One random draw per model init: the samples re-derived from jax.random and SciPy, the key rules, the errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erfinv

from jaxnn import nn, optim, train

KEY = jax.random.key(3)


def _draw(key, normals, uniforms):
    """The documented draw: u ~ U(nextafter(-1, 1), 1) of normals + uniforms values, the normals √2 · erfinv(u)
    of its first part (computed by SciPy in float64), the uniforms the rest."""
    low = np.nextafter(np.float32(-1), np.float32(1))
    u = np.asarray(jax.random.uniform(key, (normals + uniforms,), minval=low, maxval=1.0), np.float64)
    return np.sqrt(2) * erfinv(u[:normals]), u[normals:]


def _model(w_init=None):
    return nn.Sequential([
        nn.Dense(3, w_init=nn.init.he_normal()), nn.relu,
        nn.Dense(2, w_init=nn.init.normal(0.5), b_init=nn.init.uniform(0.1)),
        nn.Dense(4, w_init=w_init or nn.init.he_uniform()),
    ])


def test_every_initializer_cuts_its_samples_in_call_order_from_one_draw():
    params, state = _model().init(KEY, (5,))
    # The requests, in order: N (5, 3), N (3, 2), U (2,), U (2, 4): 21 normals and 10 uniforms, one draw of 31.
    z, u = _draw(KEY, 21, 10)
    np.testing.assert_allclose(params["0"]["w"], np.sqrt(2 / 5) * z[:15].reshape(5, 3), rtol=1e-5)
    np.testing.assert_allclose(params["2"]["w"], 0.5 * z[15:].reshape(3, 2), rtol=1e-5)
    np.testing.assert_allclose(params["2"]["b"], 0.1 * u[:2], rtol=1e-6)
    np.testing.assert_allclose(params["3"]["w"], np.sqrt(3.0) * u[2:].reshape(2, 4), rtol=1e-6)  # √(6 / fan_in 2)
    np.testing.assert_array_equal(params["0"]["b"], np.zeros(3))
    assert state == {}


def test_jitted_vmapped_and_eager_inits_agree_and_train_create_uses_the_same_draw():
    model = _model()
    eager = model.init(KEY, (5,))[0]
    jitted = jax.jit(lambda k: model.init(k, (5,)))(KEY)[0]
    stacked = jax.vmap(lambda k: model.init(k, (5,)))(jnp.stack([KEY, jax.random.key(4)]))[0]
    for a, b, c in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), jax.tree.leaves(stacked)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
        np.testing.assert_allclose(a, c[0], rtol=1e-6)
    init_key, _ = jax.random.split(KEY)
    ts = train.create(model, optim.sgd(0.1), KEY, (5,))
    jax.tree.map(np.testing.assert_array_equal, ts.params, model.init(init_key, (5,))[0])


def test_an_initializer_called_on_its_own_draws_from_its_key():
    np.testing.assert_allclose(nn.init.normal(0.3)(KEY, (4, 2)), 0.3 * jax.random.normal(KEY, (4, 2)), rtol=1e-6)
    np.testing.assert_allclose(nn.init.uniform(2.0)(KEY, (3,)),
                               2.0 * jax.random.uniform(KEY, (3,), minval=-1.0, maxval=1.0), rtol=1e-6)


def test_an_initializer_that_calls_jax_random_itself_draws_from_the_key_its_layer_hands_it():
    def own(key, shape, dtype=None):
        return jax.random.normal(key, shape, dtype)

    params, _ = _model(w_init=own).init(KEY, (5,))
    layer_key = jax.random.split(KEY, 4)[3]  # Sequential: one key per layer; Dense: split(key) -> (w, b) keys
    np.testing.assert_array_equal(params["3"]["w"], jax.random.normal(jax.random.split(layer_key)[0], (2, 4)))
    # The other layers still share one draw, which holds no samples for the third layer: 21 normals, 2 uniforms.
    np.testing.assert_allclose(params["2"]["b"], 0.1 * _draw(KEY, 21, 2)[1], rtol=1e-6)


def test_dtypes_share_the_draw_in_the_widest_one_and_keep_their_own():
    model = nn.Sequential([nn.Dense(3, w_init=lambda k, s, d=None: nn.init.normal(1.0)(k, s, jnp.bfloat16)),
                           nn.Dense(2, w_init=nn.init.normal(1.0))])
    params, _ = model.init(KEY, (2,))
    assert params["0"]["w"].dtype == jnp.bfloat16 and params["1"]["w"].dtype == jnp.float32
    z, _ = _draw(KEY, 12, 0)  # drawn in float32, the first six rounded to bfloat16
    np.testing.assert_allclose(np.asarray(params["0"]["w"], np.float64), z[:6].reshape(2, 3), rtol=1e-2)
    np.testing.assert_allclose(params["1"]["w"], z[6:].reshape(3, 2), rtol=1e-5)


def test_output_shape_traces_the_init_once_without_drawing():
    calls = []

    def counting(key, shape, dtype=None):
        calls.append(shape)
        return nn.init.normal(1.0)(key, shape, dtype)

    assert nn.Sequential([nn.Dense(7, w_init=counting)]).output_shape((3,)) == (7,)
    assert calls == [(3, 7)]


def test_an_init_that_draws_other_samples_when_run_again_is_refused():
    sizes = iter([3, 4])

    def init(key, input_shape):
        return {"w": nn.init.normal(1.0)(key, (next(sizes),))}, {}

    layer = nn.Layer(init, lambda params, state, x, train=False, key=None: (x, state))
    with pytest.raises(RuntimeError, match=r"init must draw the same samples every time it runs"):
        layer.init(KEY, (2,))


def test_layer_wraps_its_init_once_and_replace_wraps_a_new_one():
    layer = nn.Dense(2)
    again = nn.Layer(layer.init, layer.apply)
    assert again.init is layer.init

    def init(key, input_shape):
        return {"w": nn.init.normal(1.0)(key, (2,)), "v": nn.init.normal(1.0)(key, (3,))}, {}

    params, _ = layer._replace(init=init).init(KEY, (4,))  # one draw of 5, not two draws from the same key
    z, _ = _draw(KEY, 5, 0)
    np.testing.assert_allclose(np.concatenate([params["w"], params["v"]]), z, rtol=1e-5)
