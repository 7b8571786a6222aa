"""AdaGrad: per-parameter step sizes that shrink with the accumulated squared gradient."""

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
)
from jaxnn.optim.hyperparams import HParams, per_leaf, validate


class AdagradState(NamedTuple):
    """State of :func:`adagrad`: step count, sum of squared gradients ``h`` and hyperparameters."""

    count: jax.Array
    sum_sq: PyTree
    hparams: dict[str, PyTree]


def adagrad(
    lr: Any = 0.01,
    eps: Any = 1e-7,
    initial_accumulator: Any = 0.0,
    weight_decay: Any = 0.0,
    acc_dtype: Any = None,
    mask: Mask | None = None,
) -> Optimizer:
    r"""AdaGrad (Duchi, Hazan and Singer 2011), eps **outside** the square root.

    .. math::
        h \leftarrow h + g^2, \qquad p \leftarrow p - \mathrm{lr}\,\frac{g}{\sqrt{h} + \epsilon}

    with ``g = ∇f(p) + weight_decay · p`` and ``h`` starting at ``initial_accumulator``. This is the
    textbooks' form (and PyTorch's, with ``eps=1e-10`` there); optax's ``adagrad`` puts eps inside the root.

    Args:
        lr: learning rate ``>= 0`` (number, array, tree prefix of the params, or schedule).
        eps: added to ``√h``; at least the smallest normal float32,
            ``1.1754944e-38`` (a subnormal eps is flushed to 0).
        initial_accumulator: starting value of ``h``, ``>= 0``; used by ``init`` only, so it is not one of
            the state's hyperparameters.
        weight_decay: coupled L2 coefficient ``>= 0``.
        acc_dtype: floating-point dtype of ``h``; default the params' dtype.
        mask: which params ``weight_decay`` acts on, as in :func:`~jaxnn.optim.sgd` (default every leaf).

    Raises:
        ValueError, TypeError: as in :func:`~jaxnn.optim.sgd`.

    Example::

        opt = optim.adagrad(lr=1.5)
    """
    validate("initial_accumulator", initial_accumulator)  # an init-time value: not a state hyperparameter
    check_acc_dtype(acc_dtype)
    spec = HParams(lr=lr, eps=eps, weight_decay=weight_decay)
    decays = not is_concrete_zero(weight_decay)
    kind = StateKind(AdagradState, spec.names)

    def init(params: PyTree) -> AdagradState:
        check_float_params(params)
        sum_sq = jax.tree.map(
            lambda p: jnp.full(jnp.shape(p), initial_accumulator, acc_dtype or jnp.asarray(p).dtype), params
        )
        return AdagradState(jnp.zeros([], jnp.int32), sum_sq, spec.init(params))

    def update(grads: PyTree, state: AdagradState, params: PyTree | None = None) -> tuple[PyTree, AdagradState]:
        check_state(state, kind, "adagrad")
        check_tree(grads, state.sum_sq, "grads", "the optimizer state's accumulator (made by init(params))")
        hp = spec.resolve(state.hparams, state.count)
        g_eff = gradients_with_decay(grads, params, hp["weight_decay"], decays, mask)

        def leaf(g0: jax.Array, g: jax.Array, h: jax.Array, hp: dict[str, jax.Array]) -> tuple[jax.Array, ...]:
            new_h = h.astype(g.dtype) + g * g
            u = -hp["lr"] * g / (jnp.sqrt(new_h) + hp["eps"])
            return u.astype(g0.dtype), new_h.astype(h.dtype)

        updates, sum_sq = leafwise(leaf, 2, grads, g_eff, state.sum_sq, per_leaf(hp, grads))
        return updates, AdagradState(state.count + 1, sum_sq, state.hparams)

    return Optimizer(init, update)
