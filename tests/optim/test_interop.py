"""optax both ways: optim.from_optax equals optax bitwise and exposes injected hyperparameters; jaxnn optimizers
work inside optax.chain and Flax's TrainState."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

optax = pytest.importorskip("optax")

from jaxnn import nn, optim, sweep, train  # noqa: E402

PARAMS = {"w": jnp.array([[0.5, -1.0], [2.0, 0.3]]), "b": jnp.array([0.1, -0.2])}


def loss(params, x):
    return jnp.sum(jnp.tanh(x @ params["w"] + params["b"]) ** 2)


def grads_at(params, i):
    return jax.grad(loss)(params, jnp.full((3, 2), 0.1 * i))


def run_optax(tx, steps=5):
    params, state = PARAMS, tx.init(PARAMS)
    for i in range(steps):
        updates, state = tx.update(grads_at(params, i), state, params)
        params = optax.apply_updates(params, updates)
    return params, state


def run_jaxnn(opt, steps=5):
    params, state = PARAMS, opt.init(PARAMS)
    for i in range(steps):
        updates, state = opt.update(grads_at(params, i), state, params)
        params = optim.apply_updates(params, updates)
    return params, state


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("make", [
    lambda: optax.adamw(1e-2, weight_decay=1e-3),
    lambda: optax.chain(optax.clip_by_global_norm(0.5), optax.sgd(0.1, momentum=0.9, nesterov=True)),
    lambda: optax.inject_hyperparams(optax.rmsprop)(learning_rate=optax.linear_schedule(0.1, 0.01, 4), decay=0.8),
], ids=["adamw", "chain", "injected-schedule"])
def test_from_optax_equals_optax_bitwise(make):
    assert_trees_equal(run_jaxnn(optim.from_optax(make()))[0], run_optax(make())[0])


def test_injected_hyperparameters_are_named_set_and_take_effect():
    inject = optax.inject_hyperparams(optax.sgd)
    opt = optim.from_optax(optax.chain(optax.clip(1.0), inject(learning_rate=0.1, momentum=0.9)))
    state = opt.init(PARAMS)
    assert sorted(optim.hparams(state)) == ["1.learning_rate", "1.momentum"]
    state = optim.set_hparams(state, learning_rate=0.05)
    np.testing.assert_array_equal(optim.hparams(state)["1.learning_rate"], np.float32(0.05))
    # The changed value is the one optax uses: the same as building the transformation with it.
    params, state = PARAMS, state
    for i in range(3):
        updates, state = opt.update(grads_at(params, i), state, params)
        params = optim.apply_updates(params, updates)
    expected, _ = run_optax(optax.chain(optax.clip(1.0), inject(learning_rate=0.05, momentum=0.9)), steps=3)
    assert_trees_equal(params, expected)
    with pytest.raises(ValueError, match=r"momentum=1\.5 is not allowed.*\[0, 1\)"):
        optim.set_hparams(state, momentum=1.5)
    with pytest.raises(ValueError, match=r"learning_rate=-1\.0 is not allowed"):
        optim.set_hparams(state, learning_rate=-1.0)


def test_scheduled_hyperparameters_are_left_to_optax():
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=optax.linear_schedule(1e-2, 0.0, 10), b1=0.8)
    assert "learning_rate" not in optim.hparams(optim.from_optax(tx).init(PARAMS))
    assert set(optim.hparams(optim.from_optax(tx).init(PARAMS))) == {"b1", "b2", "eps", "eps_root"}


def test_from_optax_in_chain_and_rejects_non_transformations():
    adam = optax.inject_hyperparams(optax.adam)(1e-2)
    opt = optim.chain(optim.clip_by_global_norm(1.0), optim.from_optax(adam))
    assert "1.learning_rate" in optim.hparams(opt.init(PARAMS))
    # jaxnn's clipping rounds differently from optax's, so the reference chains the same two transformations.
    expected, _ = run_optax(optax.chain(optim.clip_by_global_norm(1.0), adam))
    assert_trees_equal(run_jaxnn(opt)[0], expected)
    with pytest.raises(TypeError, match="optax GradientTransformation"):
        optim.from_optax(optim.adam)


def test_sweep_traces_injected_hyperparameters():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = nn.Sequential([nn.Dense(8), nn.relu, nn.Dense(2)])

    def build(hp):
        return sweep.Trial(model, optim.from_optax(optax.inject_hyperparams(optax.adam)(learning_rate=hp["lr"])))

    configs = sweep.grid(lr=[1e-3, 1e-2])
    result = sweep.run(build, configs, ((x, y), (x, y)), epochs=2, batch_size=8, key=2, shared_order=False,
                       progress=False)
    trial = build({"lr": np.float32(1e-2)})
    ts = train.create(model, trial.optimizer, sweep.config_key(2, 1), (4,))
    _, history = train.fit(ts, train.make_train_step(model, trial.optimizer), (x, y), epochs=2, batch_size=8,
                           eval_data=(x, y), eval_step=train.make_eval_step(model), progress=False)
    np.testing.assert_allclose(result.history["val_loss"][1, 0], history["val_loss"], rtol=2e-5)
    assert not np.allclose(result.history["val_loss"][0, 0], result.history["val_loss"][1, 0])


def test_jaxnn_optimizer_inside_optax_chain_equals_jaxnn_chain():
    inside = optax.chain(optax.clip_by_global_norm(0.5), optim.adam(1e-2, weight_decay=1e-3))
    ours = optim.chain(optim.clip_by_global_norm(0.5), optim.adam(1e-2, weight_decay=1e-3))
    assert_trees_equal(run_optax(inside)[0], run_jaxnn(ours)[0])


def test_jaxnn_optimizer_in_flax_train_state_equals_the_jaxnn_loop():
    train_state = pytest.importorskip("flax.training.train_state")
    opt = optim.adamw(1e-2, weight_decay=1e-2)
    ts = train_state.TrainState.create(apply_fn=None, params=PARAMS, tx=opt)
    for i in range(5):
        ts = ts.apply_gradients(grads=grads_at(ts.params, i))
    params, state = run_jaxnn(opt)
    assert_trees_equal(ts.params, params)
    assert_trees_equal(ts.opt_state, state)
    np.testing.assert_array_equal(optim.hparams(ts.opt_state)["lr"], np.float32(1e-2))


def test_an_optax_hyperparameter_without_a_jaxnn_rule_must_be_finite():
    state = optim.from_optax(optax.inject_hyperparams(optax.fromage)(learning_rate=0.1)).init(PARAMS)
    assert set(optim.hparams(state)) == {"learning_rate", "min_norm"}
    np.testing.assert_array_equal(optim.hparams(optim.set_hparams(state, min_norm=1e-3))["min_norm"], np.float32(1e-3))
    with pytest.raises(ValueError, match=r"min_norm=nan is not allowed: min_norm must be a finite number"):
        optim.set_hparams(state, min_norm=float("nan"))
