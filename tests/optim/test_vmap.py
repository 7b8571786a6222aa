"""vmap over a hyperparameter equals the Python loop of single runs, each built with a concrete value."""

import jax
import jax.numpy as jnp
import pytest

from jaxnn import optim

from .reference import assert_trees_close, make_params, run, tree_row

SWEEPS = {
    "adam-lr": (lambda lr: optim.adam(lr), [1e-3, 1e-2, 0.1]),
    # A concrete momentum of 0 builds plain SGD (no velocity), a traced one does not: both paths must agree.
    "sgd-momentum": (lambda mu: optim.sgd(0.02, momentum=mu, weight_decay=0.1), [0.0, 0.5, 0.9]),
    # A traced value passed into the schedule factory: the schedule's k becomes a batched state leaf.
    "adam-exponential_decay-k": (lambda k: optim.adam(optim.exponential_decay(0.05, k)), [0.0, 0.05, 0.2]),
}


@pytest.mark.parametrize("sweep", SWEEPS)
def test_vmap_equals_loop(sweep):
    make, values = SWEEPS[sweep]
    params = make_params()
    batched, _ = jax.vmap(lambda v: run(make(v), params, steps=10))(jnp.asarray(values))
    for i, value in enumerate(values):
        single, _ = run(make(value), params, steps=10)
        assert_trees_close(tree_row(batched, i), single, rtol=1e-6, atol=1e-7)
