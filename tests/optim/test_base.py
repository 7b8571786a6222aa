"""The optimizer contract: apply_updates, global_norm and the argument checks of init/update."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnn import optim

from .reference import OPTIMIZERS, make_params

# Plain SGD keeps no per-leaf state, so it has nothing to check grads against; its momentum form does.
STATEFUL = {**{k: v for k, v in OPTIMIZERS.items() if k != "sgd"}, "sgd-momentum": lambda: optim.sgd(momentum=0.5)}


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_apply_updates_casts_back_to_the_param_dtype(dtype):
    params = make_params(dtype)
    updates = jax.tree.map(lambda p: jnp.full(p.shape, 1e-3, jnp.float32), params)
    new = optim.apply_updates(params, updates)
    for p, n in zip(jax.tree.leaves(params), jax.tree.leaves(new)):
        assert n.dtype == dtype
        np.testing.assert_array_equal(n, (np.asarray(p, np.float32) + np.float32(1e-3)).astype(dtype))


def test_apply_updates_rejects_mismatched_trees():
    params = make_params()
    with pytest.raises(ValueError, match="updates do not match params"):
        optim.apply_updates(params, {"dense": params["dense"]})


def test_global_norm_matches_numpy():
    tree = {"a": jnp.arange(6.0).reshape(2, 3), "b": [jnp.array([-2.0, 0.5], jnp.bfloat16)]}
    expected = np.sqrt(np.sum(np.arange(6.0) ** 2) + 4 + 0.25)
    np.testing.assert_allclose(optim.global_norm(tree), expected, rtol=1e-6)
    assert optim.global_norm(tree).dtype == jnp.float32


@pytest.mark.parametrize("name", STATEFUL)
def test_update_rejects_grads_of_another_structure(name):
    params = make_params()
    opt = STATEFUL[name]()
    state = opt.init(params)
    missing_leaf = {"dense": params["dense"]}
    with pytest.raises(ValueError, match=r"(?s)grads do not match.*grads: \{'dense'.*'conv': \[.*float32\[2, 2, 3\]"):
        opt.update(missing_leaf, state, params)
    transposed = {**params, "dense": {**params["dense"], "w": params["dense"]["w"].T}}
    with pytest.raises(ValueError, match=r"(?s)grads do not match.*float32\[4, 3\].*float32\[3, 4\]"):
        opt.update(transposed, state, params)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_integer_params_are_a_type_error(name):
    params = {"w": jnp.ones(3), "steps": jnp.arange(3)}
    with pytest.raises(TypeError, match=re.escape("params['steps'] has dtype int32")):
        OPTIMIZERS[name]().init(params)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_weight_decay_needs_params(name):
    params = make_params()
    opt = OPTIMIZERS[name](weight_decay=0.1)
    with pytest.raises(ValueError, match="params is None but this optimizer has weight_decay"):
        opt.update(params, opt.init(params))


def test_another_optimizers_state_is_refused_naming_who_made_it():
    """sgd(0.5) fed an Adam state used to step with Adam's lr 1e-3, bitwise sgd(1e-3)."""
    params = make_params()
    grads = jax.tree.map(jnp.ones_like, params)
    with pytest.raises(TypeError, match=r"sgd\.update: the state was not made by this optimizer's init\. It is an "
                                        r"AdamState \(hyperparameters b1, b2, eps, lr, weight_decay; no nu_max, made "
                                        r"by adam or adamw\); sgd\.init makes a SgdState"):
        optim.sgd(0.5).update(grads, optim.adam(1e-3).init(params), params)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_scheduled_optimizer_updates_its_own_state(name):
    """The leafless node of schedule functions in the state is not a hyperparameter: its name in the state's
    kind refused every scheduled optimizer's own state."""
    params = make_params()
    grads = jax.tree.map(jnp.ones_like, params)
    opt = OPTIMIZERS[name](lr=optim.exponential_decay(0.1, k=0.5))
    _, state = opt.update(grads, opt.init(params), params)
    np.testing.assert_allclose(optim.current_hparams(state)["lr"], 0.1 * np.exp(-0.5), rtol=1e-6)


@pytest.mark.parametrize(
    "made, used, found",
    [
        (optim.amsgrad, optim.adam, "made by amsgrad"),  # adam would drop the running maximum
        (optim.adam, optim.amsgrad, "no nu_max"),
        (lambda: optim.sgd(momentum=0.9), optim.sgd, "made by sgd with momentum"),
        (optim.sgd, lambda: optim.sgd(momentum=0.9), "no velocity, made by sgd without momentum"),
        (lambda: optim.adam(optim.exponential_decay(1e-3, 1e-4)), optim.adam, "lr.k, lr.lr0"),
        (optim.rmsprop, optim.adagrad, "a RmspropState"),
        (optim.adam, lambda: optim.chain(optim.adam()), "an AdamState"),
        (lambda: optim.chain(optim.adam()), lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam()),
         "1 inner state"),
        (optim.adam, lambda: optim.skip_nonfinite(optim.adam()), "an AdamState"),
        (optim.adam, lambda: optim.clip_by_global_norm(1.0), "an AdamState"),
    ],
)
def test_update_checks_the_state_kind(made, used, found):
    params = make_params()
    grads = jax.tree.map(jnp.ones_like, params)
    with pytest.raises(TypeError, match=rf"not made by this optimizer's init\. It is .*{re.escape(found)}"):
        jax.jit(used().update)(grads, made().init(params), params)  # structure only: checked at trace time


@pytest.mark.parametrize("params", [{}, {"w": None}, [None, {}]])
@pytest.mark.parametrize(
    "make",
    [
        *OPTIMIZERS.values(),
        lambda: optim.sgd(momentum=0.9, weight_decay=0.1),
        lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.adam()),
        lambda: optim.skip_nonfinite(optim.adam()),
        lambda: optim.clip_by_global_norm(1.0),
    ],
)
def test_empty_params_give_empty_updates_as_optax(make, params):
    opt = make()
    state = opt.init(params)
    updates, state = opt.update(params, state, params)
    updates, _ = opt.update(params, state, params)
    expected, _ = optax.adam(1e-3).update(params, optax.adam(1e-3).init(params), params)
    assert jax.tree.structure(updates) == jax.tree.structure(expected) == jax.tree.structure(params)
    assert optim.apply_updates(params, updates) == params


def test_global_norm_of_an_empty_tree_is_zero():
    assert float(optim.global_norm({})) == 0.0
