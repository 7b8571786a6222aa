"""clip_by_global_norm against a NumPy computation of the global norm and the scale min(1, max_norm/‖g‖)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnn import optim

from . import reference
from .reference import assert_trees_close, assert_trees_equal, make_params


def _clip(grads, max_norm):
    opt = optim.clip_by_global_norm(max_norm)
    clipped, _ = opt.update(grads, opt.init(grads))
    return clipped


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 10.0])  # the test tree's norm is about 5.8: only 10 leaves it as is
def test_clip_matches_numpy(max_norm):
    grads = make_params(seed=1)
    leaves, treedef = jax.tree.flatten(grads)
    expected = jax.tree.unflatten(treedef, reference.clip_by_global_norm(leaves, max_norm))
    assert_trees_close(_clip(grads, max_norm), expected, rtol=1e-6, atol=0)


def test_small_and_zero_gradients_pass_unchanged():
    grads = make_params(seed=1)
    assert_trees_equal(_clip(grads, 100.0), grads)
    zeros = jax.tree.map(jnp.zeros_like, grads)
    assert_trees_equal(_clip(zeros, 1.0), zeros)  # no 0/0


def test_low_precision_grads_keep_their_dtype():
    grads = make_params(jnp.bfloat16, seed=1)
    clipped = _clip(grads, 1.0)
    assert all(c.dtype == jnp.bfloat16 for c in jax.tree.leaves(clipped))
    np.testing.assert_allclose(optim.global_norm(clipped), 1.0, rtol=1e-2)  # bf16 keeps ~3 significant digits


def test_max_norm_is_a_settable_hyperparameter():
    grads = make_params(seed=1)
    opt = optim.clip_by_global_norm(100.0)
    state = optim.set_hparams(opt.init(grads), max_norm=0.5)
    clipped, _ = opt.update(grads, state)
    np.testing.assert_allclose(optim.global_norm(clipped), 0.5, rtol=1e-6)


def test_complex_gradients_are_measured_by_their_modulus():
    """The norm used to drop the imaginary part: 10j had norm 0 and passed unclipped."""
    grads = {"a": jnp.array([3.0 + 4.0j, 10.0j], jnp.complex64), "b": jnp.array([1.0, -2.0])}
    norm = np.sqrt(np.sum(np.abs(np.array([3 + 4j, 10j])) ** 2) + 1 + 4)  # NumPy's modulus, independently
    np.testing.assert_allclose(optim.global_norm(grads), norm, rtol=1e-6)
    clipped = _clip(grads, 1.0)
    np.testing.assert_allclose(clipped["a"], np.array([3 + 4j, 10j]) / norm, rtol=1e-6)
    np.testing.assert_allclose(optim.global_norm(clipped), 1.0, rtol=1e-6)
