"""Gradient clipping by the global norm."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.optim.base import Optimizer, PyTree, StateKind, check_state, global_norm
from jaxnn.optim.hyperparams import HParams, Schedule


class ClipState(NamedTuple):
    """State of :func:`clip_by_global_norm`: just its hyperparameter."""

    hparams: dict[str, PyTree]


def clip_by_global_norm(max_norm: Any) -> Optimizer:
    r"""Rescales the whole gradient tree so that its global L2 norm is at most ``max_norm``.

    .. math:: g \leftarrow g \cdot \min\left(1, \frac{\text{max\_norm}}{\lVert g \rVert_2}\right)

    where the norm runs over all leaves together, a complex leaf counting its modulus ``|g|`` (PyTorch's
    ``clip_grad_norm_``, optax's ``clip_by_global_norm``). Put it first in a :func:`chain`.

    Raises:
        ValueError: if ``max_norm <= 0`` (as float32).
        TypeError: if ``max_norm`` is a schedule (clipping keeps no step count) or a bool; at ``update``, a state
            that this clip's ``init`` did not make.

    Example::

        opt = optim.chain(optim.clip_by_global_norm(1.0), optim.sgd(0.1))
    """
    if isinstance(max_norm, Schedule):
        raise TypeError("clip_by_global_norm: max_norm must be a number or array, not a schedule (clipping keeps "
                        "no step count); change it between chunks with optim.set_hparams instead.")
    spec = HParams(max_norm=max_norm)
    kind = StateKind(ClipState, spec.names)

    def init(params: PyTree) -> ClipState:
        return ClipState(spec.init(params))

    def update(grads: PyTree, state: ClipState, params: PyTree | None = None) -> tuple[PyTree, ClipState]:
        del params
        check_state(state, kind, "clip_by_global_norm")
        norm = global_norm(grads)
        max_norm = state.hparams["max_norm"]
        scale = jnp.minimum(1.0, max_norm / jnp.maximum(norm, jnp.finfo(jnp.float32).tiny))
        return jax.tree.map(lambda g: (g * scale).astype(g.dtype), grads), state

    return Optimizer(init, update)
