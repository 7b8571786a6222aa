"""One jitted step serves every hyperparameter value set with set_hparams: no retracing, and the values are used."""

import jax
import jax.numpy as jnp
import pytest

from jaxnn import optim

from . import reference
from .reference import OPTIMIZERS, STEPS, assert_trees_close, loss, make_params, run_reference


def _counted_step(opt):
    """A jitted training step and a list that grows by one on every trace."""
    traces = []

    @jax.jit
    def step(params, state, batch):
        traces.append(None)
        grads = jax.grad(lambda p: batch * loss(p))(params)
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    return step, traces


def _train(step, params, state, steps=STEPS):
    for _ in range(steps):
        params, state = step(params, state, jnp.float32(1.0))
    return params


COMPOSITES = {
    "chain-clip-skip-adam": lambda: optim.chain(optim.clip_by_global_norm(1.0), optim.skip_nonfinite(optim.adam())),
    "adam-warmup-cosine": lambda: optim.adam(optim.warmup(optim.cosine_decay(1e-2, 20), 5)),
}


@pytest.mark.parametrize("make", [*OPTIMIZERS.values(), *COMPOSITES.values()], ids=[*OPTIMIZERS, *COMPOSITES])
def test_state_round_trip_and_new_values_do_not_retrace(make):
    """The state a step returns, and every set_hparams variant of it, have the types of the state from init."""
    opt = make()
    step, traces = _counted_step(opt)
    params, state = step(make_params(), opt.init(make_params()), jnp.float32(1.0))
    params, state = step(params, state, jnp.float32(0.5))
    for name, value in optim.hparams(state).items():
        params, state = step(params, optim.set_hparams(state, **{name: float(value) * 0.5}), jnp.float32(1.0))
    assert len(traces) == 1


def test_schedule_and_plain_values_set_later_are_the_ones_used():
    opt = optim.adam(optim.exponential_decay(1e-3, 0.0), weight_decay=0.01)
    step, traces = _counted_step(opt)
    params = make_params()
    _train(step, params, opt.init(params), steps=2)  # traces with the constructor's values
    state = optim.set_hparams(opt.init(params), lr0=0.05, k=0.1, b1=0.7, b2=0.9, eps=1e-4, weight_decay=0.1)
    actual = _train(step, params, state)
    lr = reference.exponential_decay(0.05, 0.1)
    assert_trees_close(actual, run_reference(reference.adam(lr, b1=0.7, b2=0.9, eps=1e-4, weight_decay=0.1), params))
    assert len(traces) == 1


@pytest.mark.parametrize("new_lr", [{"dense": 0.05, "conv": 0.01}, 0.03])
def test_per_layer_lr_set_later_is_the_one_used(new_lr):
    opt = optim.sgd({"dense": 0.1, "conv": 0.2}, momentum=0.5)
    step, traces = _counted_step(opt)
    params = make_params()
    _train(step, params, opt.init(params), steps=2)  # traces with the constructor's values
    actual = _train(step, params, optim.set_hparams(opt.init(params), lr=new_lr))
    lrs = new_lr if isinstance(new_lr, dict) else {"dense": new_lr, "conv": new_lr}
    expected = {k: run_reference(reference.sgd(lrs[k], momentum=0.5), params[k]) for k in params}
    assert_trees_close(actual, expected)
    assert len(traces) == 1
