"""Adam and its two best-known variants, AMSGrad and AdamW."""

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
    decay_mask,
    gradients_with_decay,
    is_concrete_zero,
    leafwise,
    require_params,
    zeros_like_tree,
)
from jaxnn.optim.hyperparams import HParams, per_leaf


class AdamState(NamedTuple):
    """State of :func:`adam`, :func:`amsgrad` and :func:`adamw`.

    Attributes:
        count: updates applied so far (``t − 1`` during the update).
        mu: first moment ``m``.
        nu: second moment ``v``.
        nu_max: running maximum of ``v`` (AMSGrad only; None otherwise).
        hparams: the hyperparameters.
    """

    count: jax.Array
    mu: PyTree
    nu: PyTree
    nu_max: PyTree | None
    hparams: dict[str, PyTree]

    @staticmethod
    def made_by(kind: StateKind) -> str:
        return "adam or adamw" if "nu_max" in kind.absent else "amsgrad"


def _adam(lr: Any, b1: Any, b2: Any, eps: Any, weight_decay: Any, *, decoupled: bool, amsgrad: bool,
          acc_dtype: Any, mask: Mask | None, name: str) -> Optimizer:
    check_acc_dtype(acc_dtype)
    spec = HParams(lr=lr, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
    decays = not is_concrete_zero(weight_decay)
    kind = StateKind(AdamState, spec.names, () if amsgrad else ("nu_max",))

    def init(params: PyTree) -> AdamState:
        check_float_params(params)
        zeros = zeros_like_tree(params, acc_dtype)
        return AdamState(jnp.zeros([], jnp.int32), zeros, zeros, zeros if amsgrad else None, spec.init(params))

    def update(grads: PyTree, state: AdamState, params: PyTree | None = None) -> tuple[PyTree, AdamState]:
        check_state(state, kind, name)
        check_tree(grads, state.mu, "grads", "the optimizer state's moments (made by init(params))")
        hp = spec.resolve(state.hparams, state.count)
        decoupled_decay = decoupled and (decays or params is not None)
        if decoupled:
            g_eff = gradients_with_decay(grads, None, 0.0, required=False)
            decay_params = _masked(mask, require_params(params, grads)) if decoupled_decay else grads
        else:
            g_eff = gradients_with_decay(grads, params, hp["weight_decay"], decays, mask)
            decay_params = grads
        t = (state.count + 1).astype(jnp.float32)
        nu_max = state.nu_max if amsgrad else state.nu

        def leaf(g0: jax.Array, g: jax.Array, p: jax.Array, m: jax.Array, v: jax.Array, vmax: jax.Array,
                 hp: dict[str, jax.Array]) -> tuple[jax.Array, ...]:
            b1, b2 = hp["b1"], hp["b2"]
            new_m = b1 * m.astype(g.dtype) + (1.0 - b1) * g
            new_v = b2 * v.astype(g.dtype) + (1.0 - b2) * g * g
            new_vmax = jnp.maximum(vmax.astype(g.dtype), new_v) if amsgrad else new_v
            m_hat = new_m / (1.0 - b1**t)
            v_hat = new_vmax / (1.0 - b2**t)
            step = m_hat / (jnp.sqrt(v_hat) + hp["eps"])
            if decoupled_decay:
                step = step + hp["weight_decay"] * p.astype(g.dtype)
            u = -hp["lr"] * step
            return u.astype(g0.dtype), new_m.astype(m.dtype), new_v.astype(v.dtype), new_vmax.astype(vmax.dtype)

        hp_leaf = per_leaf(hp, grads)
        updates, mu, nu, new_nu_max = leafwise(leaf, 4, grads, g_eff, decay_params, state.mu, state.nu, nu_max, hp_leaf)
        return updates, AdamState(state.count + 1, mu, nu, new_nu_max if amsgrad else None, state.hparams)

    return Optimizer(init, update)


def _masked(mask: Mask | None, params: PyTree) -> PyTree:
    # Zeros where the mask is off: + weight_decay · 0 leaves those leaves' steps exactly as they were.
    return jax.tree.map(lambda p, keep: p if keep else jnp.zeros_like(p), params, decay_mask(mask, params))


def adam(lr: Any = 1e-3, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, weight_decay: Any = 0.0,
         acc_dtype: Any = None, mask: Mask | None = None) -> Optimizer:
    r"""Adam (Kingma and Ba 2015) with bias correction, eps **outside** the square root.

    .. math::
        m \leftarrow \beta_1 m + (1-\beta_1) g, \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2, \quad
        \hat m = \frac{m}{1-\beta_1^t}, \quad \hat v = \frac{v}{1-\beta_2^t}, \quad
        p \leftarrow p - \mathrm{lr}\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}

    with ``t`` counting updates from 1 and ``g = ∇f(p) + weight_decay · p`` (coupled L2, PyTorch's
    ``Adam(weight_decay=...)``; for decoupled decay use :func:`adamw`). Matches optax's ``adam`` and PyTorch's
    ``Adam`` exactly.

    Args:
        lr: learning rate ``>= 0`` (number, array, tree prefix of the params, or schedule).
        b1: ``β1`` in ``[0, 1)``.
        b2: ``β2`` in ``[0, 1)``.
        eps: added to ``√v̂``; at least the smallest normal float32, ``1.1754944e-38`` (a subnormal eps is
            flushed to 0, and a zero gradient would then give 0/0).
        weight_decay: coupled L2 coefficient ``>= 0``.
        acc_dtype: floating-point dtype of ``m`` and ``v``; default the params' dtype.
        mask: which params ``weight_decay`` acts on, as in :func:`~jaxnn.optim.sgd` (default every leaf).

    Raises:
        ValueError: a hyperparameter out of its range, judged as stored (float32) and, for a schedule, at every
            step; at ``init``, a per-layer value that does not fit the params (both trees are shown).
        TypeError: a non-numeric or bool hyperparameter or a non-floating ``acc_dtype``; at ``update``, a state
            that this optimizer's ``init`` did not make (an AMSGrad state given to ``adam``, an SGD state, ...).

    Example::

        params, grads = {"w": jnp.ones(3)}, {"w": jnp.array([0.5, -2.0, 0.0])}
        opt = optim.adam(lr=1e-3)
        state = opt.init(params)
        updates, state = opt.update(grads, state, params)   # step 1: -lr·sign(grads) = [-0.001, 0.001, 0.]
    """
    return _adam(lr, b1, b2, eps, weight_decay, decoupled=False, amsgrad=False, acc_dtype=acc_dtype, mask=mask,
                 name="adam")


def amsgrad(lr: Any = 1e-3, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, weight_decay: Any = 0.0,
            acc_dtype: Any = None, mask: Mask | None = None) -> Optimizer:
    r"""AMSGrad (Reddi, Kale and Kumar 2018): Adam with a non-decreasing second moment.

    .. math::
        v_{\max} \leftarrow \max(v_{\max}, v), \quad \hat v = \frac{v_{\max}}{1-\beta_2^t}, \quad
        p \leftarrow p - \mathrm{lr}\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}

    with ``m``, ``v``, ``m̂`` as in :func:`adam`. The maximum is taken over the **raw** ``v`` and then
    bias-corrected (PyTorch's ``Adam(amsgrad=True)``); optax's ``amsgrad`` takes it over the bias-corrected ``v̂``.

    Args:
        lr, b1, b2, eps, weight_decay, acc_dtype, mask: as in :func:`adam`.

    Raises:
        ValueError, TypeError: as in :func:`adam`.

    Example::

        opt = optim.amsgrad(lr=1e-3)
    """
    return _adam(lr, b1, b2, eps, weight_decay, decoupled=False, amsgrad=True, acc_dtype=acc_dtype, mask=mask,
                 name="amsgrad")


def adamw(lr: Any = 1e-3, b1: Any = 0.9, b2: Any = 0.999, eps: Any = 1e-8, weight_decay: Any = 0.01,
          acc_dtype: Any = None, mask: Mask | None = None) -> Optimizer:
    r"""AdamW (Loshchilov and Hutter 2019): Adam with **decoupled** weight decay.

    .. math::
        p \leftarrow p - \mathrm{lr}\cdot\mathrm{wd}\cdot p_{\text{old}}
                       - \mathrm{lr}\,\frac{\hat m}{\sqrt{\hat v} + \epsilon}

    with ``m̂``, ``v̂`` from the raw gradient as in :func:`adam`. The decay is scaled by ``lr`` (as in optax's
    ``adamw`` and PyTorch's ``AdamW``), so a schedule on ``lr`` also schedules the decay.

    Args:
        lr, b1, b2, eps, acc_dtype, mask: as in :func:`adam`.
        weight_decay: decoupled coefficient ``wd >= 0``; ``update`` then needs ``params``.

    Raises:
        ValueError, TypeError: as in :func:`adam`.

    Example::

        opt = optim.adamw(lr=1e-3, weight_decay=0.01)
    """
    return _adam(lr, b1, b2, eps, weight_decay, decoupled=True, amsgrad=False, acc_dtype=acc_dtype, mask=mask,
                 name="adamw")
