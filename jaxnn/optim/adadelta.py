"""AdaDelta: RMSprop whose step size is itself a running RMS of past steps (units match the params)."""

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


class AdadeltaState(NamedTuple):
    """State of :func:`adadelta`: step count, running means ``s`` (of g²) and ``u`` (of Δ²), hyperparameters."""

    count: jax.Array
    sq_grad: PyTree
    sq_delta: PyTree
    hparams: dict[str, PyTree]


def adadelta(
    lr: Any = 1.0,
    rho: Any = 0.95,
    eps: Any = 1e-6,
    weight_decay: Any = 0.0,
    acc_dtype: Any = None,
    mask: Mask | None = None,
) -> Optimizer:
    r"""AdaDelta (Zeiler 2012), eps **inside** both square roots.

    .. math::
        s \leftarrow \rho s + (1-\rho) g^2, \quad
        \Delta = \frac{\sqrt{u + \epsilon}}{\sqrt{s + \epsilon}}\, g, \quad
        u \leftarrow \rho u + (1-\rho) \Delta^2, \quad
        p \leftarrow p - \mathrm{lr}\,\Delta

    with ``s`` and ``u`` starting at zero and ``g = ∇f(p) + weight_decay · p``. Matches PyTorch's
    ``Adadelta`` and optax's ``adadelta``. The first steps are of size about ``√eps``: AdaDelta starts slowly.

    Args:
        lr: learning rate ``>= 0`` (Zeiler's method has none; 1.0 recovers it).
        rho: ``ρ`` in ``[0, 1)``.
        eps: inside both roots; at least the smallest normal float32,
            ``1.1754944e-38`` (a subnormal eps is flushed to 0).
        weight_decay: coupled L2 coefficient ``>= 0``.
        acc_dtype: floating-point dtype of ``s`` and ``u``; default the params' dtype.
        mask: which params ``weight_decay`` acts on, as in :func:`~jaxnn.optim.sgd` (default every leaf).

    Raises:
        ValueError, TypeError: as in :func:`~jaxnn.optim.sgd`.

    Example::

        opt = optim.adadelta()
    """
    check_acc_dtype(acc_dtype)
    spec = HParams(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)
    decays = not is_concrete_zero(weight_decay)
    kind = StateKind(AdadeltaState, spec.names)

    def init(params: PyTree) -> AdadeltaState:
        check_float_params(params)
        zeros = zeros_like_tree(params, acc_dtype)
        return AdadeltaState(jnp.zeros([], jnp.int32), zeros, zeros, spec.init(params))

    def update(grads: PyTree, state: AdadeltaState, params: PyTree | None = None) -> tuple[PyTree, AdadeltaState]:
        check_state(state, kind, "adadelta")
        check_tree(grads, state.sq_grad, "grads", "the optimizer state's moments (made by init(params))")
        hp = spec.resolve(state.hparams, state.count)
        g_eff = gradients_with_decay(grads, params, hp["weight_decay"], decays, mask)

        def leaf(g0: jax.Array, g: jax.Array, s: jax.Array, u: jax.Array, hp: dict[str, jax.Array]) -> tuple:
            rho, eps = hp["rho"], hp["eps"]
            new_s = rho * s.astype(g.dtype) + (1.0 - rho) * g * g
            delta = jnp.sqrt(u.astype(g.dtype) + eps) / jnp.sqrt(new_s + eps) * g
            new_u = rho * u.astype(g.dtype) + (1.0 - rho) * delta * delta
            return (-hp["lr"] * delta).astype(g0.dtype), new_s.astype(s.dtype), new_u.astype(u.dtype)

        updates, sq_grad, sq_delta = leafwise(leaf, 3, grads, g_eff, state.sq_grad, state.sq_delta, per_leaf(hp, grads))
        return updates, AdadeltaState(state.count + 1, sq_grad, sq_delta, state.hparams)

    return Optimizer(init, update)
