"""Stochastic gradient descent, with classical or Nesterov momentum."""

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
from jaxnn.optim.hyperparams import HParams, per_leaf, validate


class SgdState(NamedTuple):
    """State of :func:`sgd`: step count, velocity ``v`` (None without momentum) and hyperparameters."""

    count: jax.Array
    velocity: PyTree | None
    hparams: dict[str, PyTree]

    @staticmethod
    def made_by(kind: StateKind) -> str:
        return "sgd without momentum" if "velocity" in kind.absent else "sgd with momentum, momentum or nesterov"


def sgd(
    lr: Any = 0.01,
    momentum: Any = 0.0,
    nesterov: bool = False,
    weight_decay: Any = 0.0,
    acc_dtype: Any = None,
    mask: Mask | None = None,
) -> Optimizer:
    r"""Stochastic gradient descent, optionally with momentum (velocity form) or Nesterov momentum.

    With ``g = ∇f(p) + weight_decay · p`` (the coupled L2 term) and ``μ = momentum``:

    - plain: ``p ← p − lr·g``
    - momentum: ``v ← μ·v − lr·g``,  ``p ← p + v``
    - Nesterov: ``v' ← μ·v − lr·g``,  ``p ← p − μ·v + (1 + μ)·v'``  (Sutskever et al. 2013 in the
      "look-ahead" parameterisation of Bengio et al. 2012), then ``v ← v'``.

    ``v`` starts at zero and holds ``−lr`` times optax's/PyTorch's momentum buffer ``b ← μ·b + g``; with a
    constant ``lr`` the trajectories are identical (the lr enters the buffer here, so a changing lr acts
    with a delay, as in the textbooks' ``Momentum`` class).

    Args:
        lr: learning rate ``>= 0``: a number, an array, a tree prefix of the params, or a schedule.
        momentum: ``μ`` in ``[0, 1)``. A concrete ``0.0`` without ``nesterov`` gives plain SGD with no velocity
            buffer (and no ``momentum`` hyperparameter to change later); pass a non-zero or traced value to keep
            it tunable.
        nesterov: use Nesterov momentum.
        weight_decay: coupled L2 coefficient ``>= 0``.
        acc_dtype: floating-point dtype of the velocity; default the params' dtype.
        mask: which params ``weight_decay`` acts on (see :mod:`jaxnn.masks`): a bool tree prefix of the params
            or a function ``params -> bool tree``; default every leaf, as in ``torch.optim`` and optax (pass
            ``masks.weight_matrices`` to leave biases and BatchNorm's scale and offset undecayed).

    Raises:
        ValueError: a hyperparameter out of its range, judged as stored (float32) and, for a schedule, at every
            step; at ``init``, a per-layer value that does not fit the params (both trees are shown).
        TypeError: a non-numeric or bool hyperparameter or a non-floating ``acc_dtype``; at ``update``, a state
            that this optimizer's ``init`` did not make.

    Example::

        params, grads = {"w": jnp.ones(3)}, {"w": jnp.array([0.5, -2.0, 0.0])}
        opt = optim.sgd(lr=0.1, momentum=0.9)
        state = opt.init(params)
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
    """
    check_acc_dtype(acc_dtype)
    has_velocity = nesterov or not is_concrete_zero(momentum)
    if not has_velocity:
        validate("momentum", momentum)  # not stored, so HParams does not see it; momentum=False is no number either
    spec = HParams(lr=lr, weight_decay=weight_decay, **({"momentum": momentum} if has_velocity else {}))
    decays = not is_concrete_zero(weight_decay)
    kind = StateKind(SgdState, spec.names, () if has_velocity else ("velocity",))

    def init(params: PyTree) -> SgdState:
        check_float_params(params)
        velocity = zeros_like_tree(params, acc_dtype) if has_velocity else None
        return SgdState(jnp.zeros([], jnp.int32), velocity, spec.init(params))

    def update(grads: PyTree, state: SgdState, params: PyTree | None = None) -> tuple[PyTree, SgdState]:
        check_state(state, kind, "sgd")
        if has_velocity:
            check_tree(grads, state.velocity, "grads", "the optimizer state's velocity (made by init(params))")
        hp = spec.resolve(state.hparams, state.count)
        g_eff = gradients_with_decay(grads, params, hp["weight_decay"], decays, mask)
        if not has_velocity:
            (updates,) = leafwise(
                lambda g0, g, h: ((-h["lr"] * g).astype(g0.dtype),), 1, grads, g_eff, per_leaf(hp, grads)
            )
            return updates, state._replace(count=state.count + 1)

        def leaf(g0: jax.Array, g: jax.Array, v: jax.Array, h: dict[str, jax.Array]) -> tuple[jax.Array, jax.Array]:
            m, v32 = h["momentum"], v.astype(g.dtype)
            new_v = m * v32 - h["lr"] * g
            u = -m * v32 + (1.0 + m) * new_v if nesterov else new_v
            return u.astype(g0.dtype), new_v.astype(v.dtype)

        updates, velocity = leafwise(leaf, 2, grads, g_eff, state.velocity, per_leaf(hp, grads))
        return updates, SgdState(state.count + 1, velocity, state.hparams)

    return Optimizer(init, update)


def momentum(lr: Any = 0.01, momentum: Any = 0.9, weight_decay: Any = 0.0, acc_dtype: Any = None,
             mask: Mask | None = None) -> Optimizer:
    """Classical momentum: ``v ← μ·v − lr·g``, ``p ← p + v`` with ``μ = momentum``. Same as ``sgd(lr, momentum)``.

    Args:
        lr, momentum, weight_decay, acc_dtype, mask: as in :func:`sgd`.

    Example::

        opt = optim.momentum(lr=0.1, momentum=0.9)
    """
    return sgd(lr, momentum=momentum, weight_decay=weight_decay, acc_dtype=acc_dtype, mask=mask)


def nesterov(lr: Any = 0.01, momentum: Any = 0.9, weight_decay: Any = 0.0, acc_dtype: Any = None,
             mask: Mask | None = None) -> Optimizer:
    """Nesterov momentum: ``v' ← μ·v − lr·g``, ``p ← p − μ·v + (1+μ)·v'``. Same as ``sgd(lr, momentum, nesterov=True)``.

    Args:
        lr, momentum, weight_decay, acc_dtype, mask: as in :func:`sgd`.

    Example::

        opt = optim.nesterov(lr=0.1, momentum=0.9)
    """
    return sgd(lr, momentum=momentum, nesterov=True, weight_decay=weight_decay, acc_dtype=acc_dtype, mask=mask)
