"""chain: composition equals applying the transformations by hand, in order."""

import jax
import jax.numpy as jnp

from jaxnn import optim

from . import reference
from .reference import assert_trees_close, assert_trees_equal, make_params, run, run_reference


def test_chain_of_clip_and_sgd_equals_manual_composition():
    params, grads = make_params(), make_params(seed=1)
    clip, sgd = optim.clip_by_global_norm(1.0), optim.sgd(0.1, momentum=0.9, weight_decay=0.01)
    chained = optim.chain(clip, sgd)
    state, clip_state, sgd_state = chained.init(params), clip.init(params), sgd.init(params)
    for _ in range(3):  # more than one step, so the chained momentum state is carried correctly
        updates, state = chained.update(grads, state, params)
        clipped, clip_state = clip.update(grads, clip_state, params)
        expected, sgd_state = sgd.update(clipped, sgd_state, params)
        assert_trees_equal(updates, expected)
    assert_trees_equal(state, optim.ChainState((clip_state, sgd_state)))


def test_chain_of_clip_and_adamw_matches_reference():
    """Params reach every link: AdamW's decoupled decay inside a chain still sees them."""
    params = make_params()
    actual, _ = run(optim.chain(optim.clip_by_global_norm(0.5), optim.adamw(0.05, weight_decay=0.1)), params)

    def clipped_grad(p):  # all leaves must be clipped together, so the reference runs on the flat leaf list
        return reference.clip_by_global_norm([reference.numpy_grad(p)], 0.5)[0]

    flat = jnp.concatenate([x.ravel() for x in jax.tree.leaves(params)])
    expected_flat = run_reference(reference.adamw(0.05, weight_decay=0.1), flat, grad=clipped_grad)
    assert_trees_close(jnp.concatenate([x.ravel() for x in jax.tree.leaves(actual)]), expected_flat)


def test_empty_chain_is_the_identity():
    grads = make_params()
    updates, _ = optim.chain().update(grads, optim.chain().init(grads))
    assert_trees_equal(updates, grads)
