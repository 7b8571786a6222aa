"""Skipping steps whose gradients are not finite."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.optim.base import Optimizer, PyTree, StateKind, check_state


class SkipNonfiniteState(NamedTuple):
    """State of :func:`skip_nonfinite`: the wrapped optimizer's state and the number of skipped steps."""

    inner: Any
    skipped: jax.Array


def skip_nonfinite(opt: Optimizer) -> Optimizer:
    """Wraps ``opt`` so that a step with a NaN or Inf gradient changes nothing.

    When any gradient element is not finite the updates are zero, the inner state (moments, step count) is
    kept as it was, and ``skipped`` counts the step. The check and the selection are array operations, so
    the wrapper works under ``jit`` and ``vmap`` (each vmapped run skips on its own). Hyperparameters of
    ``opt`` keep their names.

    Example::

        opt = optim.skip_nonfinite(optim.adam(1e-3))
    """
    if not isinstance(opt, Optimizer):
        raise TypeError(f"skip_nonfinite: opt must be an Optimizer (e.g. optim.adam()), got {opt!r}.")

    kind = StateKind(SkipNonfiniteState, parts=1)

    def init(params: PyTree) -> SkipNonfiniteState:
        return SkipNonfiniteState(opt.init(params), jnp.zeros([], jnp.int32))

    def update(grads: PyTree, state: SkipNonfiniteState, params: PyTree | None = None) -> tuple[PyTree, Any]:
        check_state(state, kind, "skip_nonfinite")
        finite = jnp.array(True)  # an empty tree has nothing to skip
        for g in jax.tree.leaves(grads):
            finite = finite & jnp.all(jnp.isfinite(g))
        safe_grads = jax.tree.map(lambda g: jnp.where(finite, g, jnp.zeros_like(g)), grads)
        updates, inner = opt.update(safe_grads, state.inner, params)
        updates = jax.tree.map(lambda u: jnp.where(finite, u, jnp.zeros_like(u)), updates)
        inner = jax.tree.map(lambda new, old: jnp.where(finite, new, old), inner, state.inner)
        return updates, SkipNonfiniteState(inner, state.skipped + jnp.where(finite, 0, 1).astype(jnp.int32))

    return Optimizer(init, update)
