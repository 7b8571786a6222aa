"""nn.from_equinox: an Equinox MLP with BatchNorm and Dropout trains in fit and sweeps exactly as a hand-written
Equinox loop does; built modules, stateless models and the leaf checks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

eqx = pytest.importorskip("equinox")
optax = pytest.importorskip("optax")

from jaxnn import nn, optim, sweep, train  # noqa: E402
from tests.shuffle import fit_order  # noqa: E402

N, BATCH, EPOCHS, FEATURES = 32, 8, 2, 5
RNG = np.random.default_rng(1)
X = jnp.asarray(RNG.normal(size=(N, FEATURES)), jnp.float32)
Y = jnp.asarray(RNG.integers(0, 3, N), jnp.int32)
EX = jnp.asarray(RNG.normal(size=(8, FEATURES)), jnp.float32)
EY = jnp.asarray(RNG.integers(0, 3, 8), jnp.int32)


class MLP(eqx.Module):
    hidden: eqx.nn.Linear
    norm: eqx.nn.BatchNorm
    drop: eqx.nn.Dropout
    out: eqx.nn.Linear

    def __init__(self, key, width=8):
        k1, k2 = jax.random.split(key)
        self.hidden = eqx.nn.Linear(FEATURES, width, key=k1)
        self.norm = eqx.nn.BatchNorm(width, axis_name="batch", mode="ema")
        self.drop = eqx.nn.Dropout(0.25)
        self.out = eqx.nn.Linear(width, 3, key=k2)

    def __call__(self, x, state, *, key=None):
        x, state = self.norm(self.hidden(x), state)
        return self.out(self.drop(jax.nn.relu(x), key=key)), state


def make(key):
    return eqx.nn.make_with_state(MLP)(key)


def batched(model, x, state, key=None):
    keys = None if key is None else jax.random.split(key, x.shape[0])
    return jax.vmap(lambda x, k: model(x, state, key=k), in_axes=(0, None if keys is None else 0),
                    out_axes=(0, None), axis_name="batch")(x, keys)


def hand_written_loop(tx, key, epochs):
    """The usual Equinox loop, with jaxnn's keys (init from split(key)[0], dropout from fold_in(run_key, step),
    one key per example by split, shuffles from fold_in(split(run_key)[1], epoch) as tests.shuffle re-derives them)."""
    init_key, run_key = jax.random.split(key)
    model, state = make(init_key)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    opt_state = tx.init(params)

    @jax.jit
    def update(params, state, opt_state, x, y, dropout_key):
        def loss_fn(p):
            logits, state_ = batched(eqx.combine(p, static), x, state, dropout_key)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), state_

        grads, state = jax.grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state

    step = 0
    for epoch in range(epochs):
        perm = fit_order(run_key, epoch, N)
        for b in range(N // BATCH):
            idx = perm[b * BATCH:(b + 1) * BATCH]
            params, state, opt_state = update(params, state, opt_state, X[idx], Y[idx],
                                              jax.random.fold_in(run_key, step))
            step += 1
    return eqx.combine(params, static), state


def fit(model, opt, key):
    ts = train.create(model, opt, key, (FEATURES,))
    return train.fit(ts, train.make_train_step(model, opt), (X, Y), epochs=EPOCHS, batch_size=BATCH,
                     eval_data=(EX, EY), eval_step=train.make_eval_step(model), progress=False)


def test_fit_reproduces_a_hand_written_equinox_loop():
    # SGD, not Adam: the bias before BatchNorm has a zero gradient up to rounding, whose sign Adam amplifies.
    key = jax.random.key(4)
    layer = nn.from_equinox(make)
    ts, history = fit(layer, optim.sgd(0.1, momentum=0.9), key)
    model, state = hand_written_loop(optax.sgd(0.1, momentum=0.9), key, EPOCHS)
    expected = {jax.tree_util.keystr(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(model)[0]
                if eqx.is_inexact_array(leaf)}
    assert sorted(ts.params) == sorted(expected) and ".hidden.weight" in expected
    for name in expected:
        np.testing.assert_allclose(ts.params[name], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    for ours, theirs in zip(ts.model_state.values(), jax.tree.leaves(state)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    logits, _ = batched(eqx.nn.inference_mode(model), EX, state)
    ours, _ = layer.apply(ts.params, ts.model_state, EX)
    np.testing.assert_allclose(ours, logits, rtol=1e-5, atol=1e-5)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, EY).mean()
    np.testing.assert_allclose(history["val_loss"][-1], loss, rtol=1e-5)


def test_sweep_over_eight_configs_equals_fit_config_by_config():
    def build(hp):
        return sweep.Trial(nn.from_equinox(make), optim.adam(hp["lr"], b1=hp["b1"]))

    configs = sweep.grid(lr=[1e-3, 3e-3, 1e-2, 3e-2], b1=[0.8, 0.9])
    result = sweep.run(build, configs, ((X, Y), (EX, EY)), epochs=EPOCHS, batch_size=BATCH, key=1,
                       shared_order=False, progress=False)
    assert result.history["val_loss"].shape == (8, 1, EPOCHS)
    i = 5
    trial = build({k: np.float32(v) for k, v in configs[i].items()})
    _, history = fit(trial.model, trial.optimizer, sweep.config_key(1, i))
    np.testing.assert_allclose(result.history["val_loss"][i, 0], history["val_loss"], rtol=2e-5, atol=1e-6)
    assert len(set(result.history["val_loss"][:, 0, -1].tolist())) == 8


def test_a_built_stateless_model_starts_every_run_from_its_weights():
    mlp = eqx.nn.MLP(FEATURES, 3, 4, depth=1, key=jax.random.key(0))
    layer = nn.from_equinox(mlp)
    params, state = layer.init(jax.random.key(9), (FEATURES,))
    assert state == {}
    np.testing.assert_array_equal(params[".layers[0].weight"], mlp.layers[0].weight)
    np.testing.assert_allclose(layer.apply(params, state, EX)[0], jax.vmap(mlp)(EX), rtol=1e-6)
    assert layer.output_shape((FEATURES,)) == (3,)


def test_integer_buffers_are_refused():
    class Counter(eqx.Module):
        weight: jax.Array
        calls: jax.Array

        def __call__(self, x):
            return x * self.weight

    with pytest.raises(TypeError, match=r"not parameters: \['.calls'\]"):
        nn.from_equinox(Counter(jnp.ones(2), jnp.zeros((), jnp.int32)))
    with pytest.raises(TypeError, match="from_equinox: model must be an eqx.Module"):
        nn.from_equinox(3)


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path):
    layer, opt = nn.from_equinox(make), optim.sgd(0.1, momentum=0.9)
    step = train.make_train_step(layer, opt)
    ts = train.create(layer, opt, jax.random.key(6), (FEATURES,))
    whole, _ = train.fit(ts, step, (X, Y), epochs=2, batch_size=BATCH, progress=False)
    train.fit(ts, step, (X, Y), epochs=1, batch_size=BATCH, progress=False, checkpoint_dir=tmp_path)
    # Other params, replaced by the checkpoint if it loads; the same key, which the run fingerprint compares.
    other = ts._replace(params=train.create(layer, opt, jax.random.key(7), (FEATURES,)).params)
    resumed, _ = train.fit(other, step, (X, Y), epochs=2, batch_size=BATCH, progress=False,
                           checkpoint_dir=tmp_path, resume=True)
    for a, b in zip(jax.tree.leaves((whole.params, whole.model_state)),
                    jax.tree.leaves((resumed.params, resumed.model_state))):
        np.testing.assert_array_equal(a, b)


def test_a_batched_model_is_called_on_the_whole_batch():
    class Scale(eqx.Module):
        weight: jax.Array

        def __call__(self, x):
            assert x.ndim == 2  # the batch itself, not one example
            return x * self.weight - jnp.mean(x, axis=0)

    model = Scale(jnp.arange(FEATURES, dtype=jnp.float32))
    layer = nn.from_equinox(model, batched=True)
    params, state = layer.init(jax.random.key(0), (FEATURES,))
    np.testing.assert_array_equal(layer.apply(params, state, EX)[0], model(EX))


def test_a_traced_hyperparameter_stored_in_the_module_is_refused():
    # Stored as it is, a traced dropout rate would be an inexact array leaf: a parameter the optimizer moves.
    class Dropping(eqx.Module):
        linear: eqx.nn.Linear
        drop: eqx.nn.Dropout

        def __init__(self, key, rate):
            self.linear, self.drop = eqx.nn.Linear(FEATURES, 3, key=key), eqx.nn.Dropout(rate)

        def __call__(self, x, *, key=None):
            return self.drop(self.linear(x), key=key)

    def build(hp):
        return sweep.Trial(nn.from_equinox(lambda key: Dropping(key, hp["rate"])), optim.sgd(0.1))

    with pytest.raises(TypeError, match=r"traced values made outside it at \['.drop.p'\]"):
        sweep.run(build, sweep.grid(rate=[0.1, 0.2]), ((X, Y), (EX, EY)), epochs=1, batch_size=BATCH, progress=False)
    # With a Python number, or a key-made init in the factory, nothing is refused.
    layer = nn.from_equinox(lambda key: Dropping(key, 0.2))
    assert sorted(layer.init(jax.random.key(0), (FEATURES,))[0]) == [".linear.bias", ".linear.weight"]
