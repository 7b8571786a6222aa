"""Pure training and evaluation steps: ``(TrainState, batch) -> (TrainState, metrics)``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import losses, masks
from jaxnn.optim import Optimizer, apply_updates, global_norm
from jaxnn.optim.base import is_concrete_zero
from jaxnn.train.state import TrainState
from jaxnn.validation import check_range

Batch = tuple[jax.Array, jax.Array]
Metric = Callable[[jax.Array, jax.Array], jax.Array]
DEFAULT_METRICS: Mapping[str, Metric] = {"accuracy": losses.accuracy}


def make_train_step(
    model: Any,
    optimizer: Optimizer,
    loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.softmax_cross_entropy,
    l2: Any = 0.0,
    metrics: Mapping[str, Metric] = DEFAULT_METRICS,
    l2_mask: masks.Mask | None = None,
    grad_norm: bool = False,
) -> Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]:
    """Builds one pure training step.

    The step minimises ``loss(model(x), y) + l2_penalty(params, l2, l2_mask)`` (½·l2·Σ‖W‖² over the masked
    leaves, by default the weight matrices and kernels: the textbooks' weight decay) with one optimizer update.
    The dropout key is ``fold_in(ts.key, ts.step)``, so a run is reproducible and a resumed run draws the same
    masks.

    Args:
        model: a layer with ``apply(params, state, x, train=True, key=...) -> (outputs, state)``.
        optimizer: an ``Optimizer``.
        loss: ``loss(outputs, targets) -> scalar`` (mean over the batch).
        l2: the L2 coefficient, ``>= 0`` (may be a traced value in a sweep).
        metrics: extra ``name -> fn(outputs, targets)`` reported per step (default: accuracy; pass ``{}`` for
            regression).
        l2_mask: which params ``l2`` penalises (see :mod:`jaxnn.masks`): a bool tree prefix of the params or a
            function ``params -> bool tree``. Default :func:`jaxnn.masks.weight_matrices`, every leaf with
            ``ndim >= 2`` whatever its key (jaxnn's ``"w"``, Flax's ``"kernel"``), not biases or BatchNorm's
            scale and offset.
        grad_norm: also report ``grad_norm``, the global norm ‖g‖₂ of the step's gradient (L2 term included);
            trainers record its mean over the epoch's steps.

    Returns:
        ``step(ts, (x, y)) -> (ts, {"loss": data loss without the L2 term, **metrics})``. Jit it, scan it or
        vmap it; it closes over nothing that changes.

    Raises:
        ValueError: ``l2`` is negative or not finite (here, when concrete); ``l2_mask`` does not fit the params
            (when the step is first traced).

    Example::

        step = train.make_train_step(model, optim.sgd(0.1), l2=1e-4)                      # weight matrices only
        step = train.make_train_step(model, optim.sgd(0.1), l2=1e-4, l2_mask={"0": True, "2": False})
    """
    check_range("l2", l2, lambda v: v >= 0, "a number >= 0")
    # A concrete zero adds no term: XLA cannot fold 0·W away (it is NaN where W is not finite), so the gradient
    # would read every weight matrix once more per step for nothing.
    penalized = not is_concrete_zero(l2)

    def step(ts: TrainState, batch: Batch) -> tuple[TrainState, dict[str, jax.Array]]:
        x, y = batch
        dropout_key = jax.random.fold_in(ts.key, ts.step)

        def objective(params: Any) -> tuple[jax.Array, tuple[jax.Array, jax.Array, Any]]:
            outputs, model_state = model.apply(params, ts.model_state, x, train=True, key=dropout_key)
            data_loss = loss(outputs, y)
            mask = masks.resolve(l2_mask, params, masks.weight_matrices, "l2_mask")
            penalty = losses.l2_penalty(params, l2, mask) if penalized else 0.0
            return data_loss + penalty, (data_loss, outputs, model_state)

        grads, (data_loss, outputs, model_state) = jax.grad(objective, has_aux=True)(ts.params)
        updates, opt_state = optimizer.update(grads, ts.opt_state, ts.params)
        params = apply_updates(ts.params, updates)
        values = {"loss": data_loss, **{name: fn(outputs, y) for name, fn in metrics.items()}}
        if grad_norm:
            values["grad_norm"] = global_norm(grads)
        return TrainState(params, model_state, opt_state, ts.step + 1, ts.key), values

    return step


def make_eval_step(
    model: Any,
    loss: Callable[[jax.Array, jax.Array], jax.Array] = losses.softmax_cross_entropy,
    metrics: Mapping[str, Metric] = DEFAULT_METRICS,
) -> Callable[[TrainState, Batch], dict[str, jax.Array]]:
    """Builds ``eval_step(ts, (x, y)) -> {"loss": ..., **metrics}`` in evaluation mode (running BN statistics,
    no dropout). Metrics are batch means; :func:`jaxnn.train.evaluate` weights them by batch size."""

    def eval_step(ts: TrainState, batch: Batch) -> dict[str, jax.Array]:
        x, y = batch
        outputs, _ = model.apply(ts.params, ts.model_state, x, train=False)
        return {"loss": loss(outputs, y), **{name: fn(outputs, y) for name, fn in metrics.items()}}

    return eval_step


def mean_metrics(values: Mapping[str, jax.Array], weights: jax.Array | None = None) -> dict[str, jax.Array]:
    """Means of stacked per-step metrics over their leading axis, optionally weighted."""
    if weights is None:
        return {name: jnp.mean(v, axis=0) for name, v in values.items()}
    total = jnp.sum(weights)
    return {name: jnp.tensordot(weights, v, axes=1) / total for name, v in values.items()}
