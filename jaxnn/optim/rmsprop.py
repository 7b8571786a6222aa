"""RMSprop: AdaGrad with a leaky (exponentially decaying) average of squared gradients."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.masks import Mask
from jaxnn.optim.base import (
    Optimizer,
    PyTree,
    StateKind,
    check_acc_dtype,
    check_float_params,
    check_state,
    check_tree,
    gradients_with_decay,
    is_concrete_zero,
    leafwise,
    zeros_like_tree,
)
from jaxnn.optim.hyperparams import HParams, per_leaf


class RmspropState(NamedTuple):
    """State of :func:`rmsprop`: step count, running mean of squared gradients ``h`` and hyperparameters."""

    count: jax.Array
    nu: PyTree
    hparams: dict[str, PyTree]


def rmsprop(
    lr: Any = 0.01,
    decay: Any = 0.9,
    eps: Any = 1e-8,
    weight_decay: Any = 0.0,
    acc_dtype: Any = None,
    mask: Mask | None = None,
) -> Optimizer:
    r"""RMSprop (Tieleman and Hinton 2012), eps **outside** the square root, no bias correction.

    .. math::
        h \leftarrow \rho h + (1-\rho) g^2, \qquad p \leftarrow p - \mathrm{lr}\,\frac{g}{\sqrt{h} + \epsilon}

    with ``ρ = decay``, ``h`` starting at zero and ``g = ∇f(p) + weight_decay · p``. Matches PyTorch's
    ``RMSprop(alpha=decay)`` and optax's ``rmsprop(decay=decay, eps_in_sqrt=False)``.

    Args:
        lr: learning rate ``>= 0`` (number, array, tree prefix of the params, or schedule).
        decay: ``ρ`` in ``[0, 1)``.
        eps: added to ``√h``; at least the smallest normal float32,
            ``1.1754944e-38`` (a subnormal eps is flushed to 0).
        weight_decay: coupled L2 coefficient ``>= 0``.
        acc_dtype: floating-point dtype of ``h``; default the params' dtype.
        mask: which params ``weight_decay`` acts on, as in :func:`~jaxnn.optim.sgd` (default every leaf).

    Raises:
        ValueError, TypeError: as in :func:`~jaxnn.optim.sgd`.

    Example::

        opt = optim.rmsprop(lr=1e-3, decay=0.99)
    """
    check_acc_dtype(acc_dtype)
    spec = HParams(lr=lr, decay=decay, eps=eps, weight_decay=weight_decay)
    decays = not is_concrete_zero(weight_decay)
    kind = StateKind(RmspropState, spec.names)

    def init(params: PyTree) -> RmspropState:
        check_float_params(params)
        return RmspropState(jnp.zeros([], jnp.int32), zeros_like_tree(params, acc_dtype), spec.init(params))

    def update(grads: PyTree, state: RmspropState, params: PyTree | None = None) -> tuple[PyTree, RmspropState]:
        check_state(state, kind, "rmsprop")
        check_tree(grads, state.nu, "grads", "the optimizer state's moments (made by init(params))")
        hp = spec.resolve(state.hparams, state.count)
        g_eff = gradients_with_decay(grads, params, hp["weight_decay"], decays, mask)

        def leaf(g0: jax.Array, g: jax.Array, h: jax.Array, hp: dict[str, jax.Array]) -> tuple[jax.Array, ...]:
            rho = hp["decay"]
            new_h = rho * h.astype(g.dtype) + (1.0 - rho) * g * g
            u = -hp["lr"] * g / (jnp.sqrt(new_h) + hp["eps"])
            return u.astype(g0.dtype), new_h.astype(h.dtype)

        updates, nu = leafwise(leaf, 2, grads, g_eff, state.nu, per_leaf(hp, grads))
        return updates, RmspropState(state.count + 1, nu, state.hparams)

    return Optimizer(init, update)
