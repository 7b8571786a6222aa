"""Every optimizer's weight_decay ``mask``: decay only the selected leaves, against the NumPy rules."""

import jax
import pytest

from jaxnn import masks, optim

from . import reference
from .reference import OPTIMIZERS, assert_trees_close, make_params, run, run_reference


def _expected(name, params, decayed):
    """The NumPy rule per leaf: with weight_decay 0.1 where ``decayed`` says so, 0 elsewhere."""
    rules = {keep: getattr(reference, name)(weight_decay=0.1 if keep else 0.0) for keep in (True, False)}
    return jax.tree.map(lambda p, keep: run_reference(rules[keep], p), params, decayed)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize(
    "mask, decayed",
    [
        ({"dense": {"w": True, "b": False}, "conv": False}, {"dense": {"w": True, "b": False}, "conv": [False]}),
        (masks.weight_matrices, {"dense": {"w": True, "b": False}, "conv": [True]}),
        (None, {"dense": {"w": True, "b": True}, "conv": [True]}),
    ],
)
def test_weight_decay_acts_only_on_the_masked_leaves(name, mask, decayed):
    params = make_params()
    actual, _ = run(getattr(optim, name)(weight_decay=0.1, mask=mask), params)
    assert_trees_close(actual, _expected(name, params, decayed))


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_a_mask_that_does_not_fit_the_params_is_refused_naming_mask(name):
    params = make_params()
    opt = getattr(optim, name)(weight_decay=0.1, mask={"dense": True})
    with pytest.raises(ValueError, match=r"mask is not a tree prefix of the params(.|\n)*conv"):
        jax.eval_shape(lambda p: run(opt, p, steps=1), params)
    opt = getattr(optim, name)(weight_decay=0.1, mask=lambda p: jax.tree.map(lambda x: x > 0, p))
    with pytest.raises(TypeError, match=r"mask\['conv'\]\[0\]=.* every leaf of mask must be a Python bool"):
        jax.eval_shape(lambda p: run(opt, p, steps=1), params)


def test_mask_without_decay_changes_nothing():
    params = make_params()
    plain, _ = run(optim.adam(1e-2), params)
    masked, _ = run(optim.adam(1e-2, mask={"dense": False, "conv": True}), params)
    assert_trees_close(masked, plain, rtol=0, atol=0)
