"""jaxnn.masks: the defaults and the prefix rule, against hand-written expectations."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import masks

PARAMS = {"0": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)}, "1": {"scale": jnp.ones(2), "w": jnp.ones((2, 2, 1))}}


def test_defaults():
    assert masks.weight_matrices(PARAMS) == {"0": {"kernel": True, "bias": False}, "1": {"scale": False, "w": True}}
    assert masks.every_leaf(PARAMS) == {"0": {"kernel": True, "bias": True}, "1": {"scale": True, "w": True}}


def test_resolve_broadcasts_a_prefix_and_calls_a_function():
    expected = {"0": {"kernel": False, "bias": False}, "1": {"scale": True, "w": True}}
    assert masks.resolve({"0": False, "1": np.bool_(True)}, PARAMS, masks.every_leaf, "mask") == expected
    assert masks.resolve(lambda p: {"0": False, "1": True}, PARAMS, masks.every_leaf, "mask") == expected
    assert masks.resolve(None, PARAMS, masks.weight_matrices, "mask") == masks.weight_matrices(PARAMS)
    assert masks.resolve(True, PARAMS, masks.weight_matrices, "mask") == masks.every_leaf(PARAMS)


def test_resolve_names_the_argument_in_its_errors():
    with pytest.raises(ValueError, match=r"l2_mask is not a tree prefix(.|\n)*l2_mask: \{'0': True\}"):
        masks.resolve({"0": True}, PARAMS, masks.every_leaf, "l2_mask")
    with pytest.raises(TypeError, match=r"l2_mask\['1'\]=0.5 is not allowed"):
        masks.resolve({"0": True, "1": 0.5}, PARAMS, masks.every_leaf, "l2_mask")
