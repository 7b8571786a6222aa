"""fit's minibatch order re-derived with NumPy, for the hand-written reference loops that must walk it."""

import jax
import jax.numpy as jnp
import numpy as np


def fit_order(run_key: jax.Array, epoch: int, n: int) -> np.ndarray:
    """Epoch ``epoch``'s permutation of ``range(n)`` for a run with key ``run_key``: the indices sorted by two
    random uint32 words each from ``fold_in(split(run_key)[1], epoch)``, the first word the major key."""
    bits = np.asarray(jax.random.bits(jax.random.fold_in(jax.random.split(run_key)[1], epoch), (2, n), jnp.uint32))
    return np.lexsort((bits[1], bits[0]))
