"""skip_nonfinite: a step with NaN/Inf gradients changes nothing but the skip count; other steps are untouched."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import optim

from .reference import assert_trees_close, assert_trees_equal, loss, make_params, tree_row


def _poison(grads, value):
    """The gradients with one element of one leaf replaced by ``value``."""
    return {**grads, "conv": [grads["conv"][0].at[1, 0, 2].set(value)]}


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
@pytest.mark.parametrize("make", [optim.adam, lambda: optim.sgd(0.1, momentum=0.9), optim.adadelta])
def test_nonfinite_step_changes_nothing_but_the_count(make, bad):
    params = make_params()
    opt = optim.skip_nonfinite(make())
    state = opt.init(params)
    updates, state = opt.update(jax.grad(loss)(params), state, params)  # a real step first: non-zero moments
    params = optim.apply_updates(params, updates)

    updates, after = opt.update(_poison(jax.grad(loss)(params), bad), state, params)
    assert_trees_equal(optim.apply_updates(params, updates), params)
    assert_trees_equal(after.inner, state.inner)
    assert int(after.skipped) == 1


@pytest.mark.parametrize("make", [optim.adam, lambda: optim.sgd(0.1, momentum=0.9)])
def test_finite_steps_match_the_wrapped_optimizer(make):
    params = make_params()
    inner, wrapped = make(), optim.skip_nonfinite(make())
    inner_state, wrapped_state = inner.init(params), wrapped.init(params)
    for _ in range(3):
        grads = jax.grad(loss)(params)
        expected, inner_state = inner.update(grads, inner_state, params)
        updates, wrapped_state = wrapped.update(grads, wrapped_state, params)
        assert_trees_equal(updates, expected)
        params = optim.apply_updates(params, updates)
    assert_trees_equal(wrapped_state.inner, inner_state)
    assert int(wrapped_state.skipped) == 0


def test_skips_count_up_and_training_resumes():
    params = make_params()
    opt = optim.skip_nonfinite(optim.adam(0.01))
    state = opt.init(params)
    for bad in [jnp.nan, 0.0, jnp.inf, 0.0]:  # 0.0 keeps the gradient finite
        updates, state = opt.update(_poison(jax.grad(loss)(params), bad), state, params)
        params = optim.apply_updates(params, updates)
    assert int(state.skipped) == 2
    assert int(state.inner.count) == 2


def test_under_vmap_each_run_skips_on_its_own():
    """Three runs with different lrs; only the middle one sees a NaN, and only it stays where it was."""
    params = make_params()
    opt = optim.skip_nonfinite(optim.sgd(0.1, momentum=0.9))
    bad = jnp.array([0.0, jnp.nan, 0.0])

    @jax.jit
    def one_run(lr, poison):
        state = optim.set_hparams(opt.init(params), lr=lr)
        updates, state = opt.update(_poison(jax.grad(loss)(params), poison), state, params)
        return optim.apply_updates(params, updates), state

    new, state = jax.vmap(one_run)(jnp.array([0.1, 0.2, 0.3]), bad)
    np.testing.assert_array_equal(state.skipped, [0, 1, 0])
    np.testing.assert_array_equal(state.inner.count, [1, 0, 1])
    for i in range(3):
        single, _ = one_run(0.1 * (i + 1), bad[i])
        assert_trees_close(tree_row(new, i), single, rtol=1e-6, atol=0)
    assert_trees_equal(tree_row(new, 1), params)
