"""Low precision: bf16/fp16 params with zero gradients, and the dtypes of updates and moments."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from .reference import OPTIMIZERS, make_params

# How many moment arrays each optimizer keeps per param leaf (plain SGD keeps none).
MOMENTS_PER_LEAF = {
    "sgd": 0,
    "momentum": 1,
    "nesterov": 1,
    "adagrad": 1,
    "rmsprop": 1,
    "adadelta": 2,
    "adam": 2,
    "amsgrad": 3,
    "adamw": 2,
}


def _moments(state):
    """The per-leaf float arrays of a state: everything but the step count and the hyperparameters."""
    return [x for x in jax.tree.leaves(state._replace(hparams={})) if jnp.issubdtype(x.dtype, jnp.floating)]


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("acc_dtype", [None, jnp.float32])
def test_zero_grads_in_low_precision(name, dtype, acc_dtype):
    params = make_params(dtype)
    opt = OPTIMIZERS[name](weight_decay=0.01, acc_dtype=acc_dtype)
    state = opt.init(params)
    zeros = jax.tree.map(jnp.zeros_like, params)
    for _ in range(3):  # past the first step, where bias corrections and accumulators start from zero
        updates, state = opt.update(zeros, state, params)
        for u in jax.tree.leaves(updates):
            assert u.dtype == dtype
            assert np.all(np.isfinite(np.asarray(u, np.float32)))
    moments = _moments(state)
    assert len(moments) == MOMENTS_PER_LEAF[name] * len(jax.tree.leaves(params))
    assert all(m.dtype == (acc_dtype or dtype) for m in moments)
