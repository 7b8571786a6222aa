"""Losses and metrics, each reduced to a scalar (a mean over the batch).

Example::

    from jaxnn import losses, nn

    model = nn.Sequential([nn.Dense(10), nn.Dropout(0.1)])

    def loss_fn(params, state, x, y, key):
        logits, state = model.apply(params, state, x, train=True, key=key)
        loss = losses.softmax_cross_entropy(logits, y) + losses.l2_penalty(params, 1e-4)
        return loss, state

    params, state = model.init(jax.random.key(0), (4,))
    loss, state = loss_fn(params, state, jnp.ones((2, 4)), jnp.array([3, 0]), jax.random.key(1))
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn import masks
from jaxnn.validation import check_range

__all__ = ["accuracy", "l2_penalty", "mse", "softmax_cross_entropy"]


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean over the batch of −Σ_k t_k · log softmax(z)_k, via log-softmax (no overflow for large logits).

    Args:
        logits: ``(..., K)`` unnormalised scores z.
        targets: either integer class labels of shape ``logits.shape[:-1]`` (values in [0, K); a label outside
            it, negative ones included, makes the loss NaN), or float one-hot / soft probabilities of shape
            ``logits.shape``.

    Example::

        logits = jax.random.normal(jax.random.key(0), (2, 10))
        losses.softmax_cross_entropy(logits, jnp.array([3, 0]))                         # labels
        losses.softmax_cross_entropy(logits, jax.nn.one_hot(jnp.array([3, 0]), 10))     # the same value
    """
    logits, targets = jnp.asarray(logits), jnp.asarray(targets)
    log_p = jax.nn.log_softmax(logits, axis=-1)
    if jnp.issubdtype(targets.dtype, jnp.integer):
        if targets.shape != logits.shape[:-1]:
            raise ValueError(
                f"softmax_cross_entropy: integer labels must have shape logits.shape[:-1] = "
                f"{logits.shape[:-1]}, got {targets.shape}. Pass one label per example, or float one-hot "
                f"targets of shape {logits.shape}."
            )
        valid = _valid_labels(targets, logits.shape[-1])
        picked = jnp.take_along_axis(log_p, jnp.where(valid, targets, 0)[..., None], axis=-1)[..., 0]
        return -jnp.mean(jnp.where(valid, picked, jnp.nan))
    if targets.shape != logits.shape:
        raise ValueError(
            f"softmax_cross_entropy: float targets must have the shape of the logits, {logits.shape}, got "
            f"{targets.shape}. For class indices pass an integer array."
        )
    return -jnp.mean(jnp.sum(targets * log_p, axis=-1))


def mse(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean squared error, mean over every element of (prediction − target)².

    The textbooks' ½·Σ(y − t)² per example is ``0.5 * n_outputs * mse``. Shapes must match exactly: a
    ``(N, 1)`` prediction against ``(N,)`` targets would otherwise broadcast to ``(N, N)``.
    """
    predictions, targets = jnp.asarray(predictions), jnp.asarray(targets)
    if predictions.shape != targets.shape:
        raise ValueError(
            f"mse: predictions have shape {predictions.shape} but targets have shape {targets.shape}; they "
            "must match (reshape one of them, e.g. predictions[:, 0])."
        )
    return jnp.mean((predictions - targets) ** 2)


def l2_penalty(params: Any, l2: Any, mask: masks.Mask | None = None) -> jax.Array:
    """The L2 penalty ½·l2·Σ_{W in mask} ‖W‖², summed over the leaves of ``params`` that ``mask`` selects.

    Its gradient, l2·W, is the textbooks' weight-decay term. ``l2`` may be traced, so a sweep can ``vmap`` over
    it. For a stack of models (params with a leading model axis) call it under ``vmap``: otherwise the sum runs
    over all models, and the default mask would also count each model's stacked biases.

    Args:
        params: a tree of arrays (jaxnn, Flax or hand-written).
        l2: the coefficient, a number ``>= 0``.
        mask: which leaves count (see :mod:`jaxnn.masks`): a tree prefix of ``params`` with bool leaves, or a
            function ``params -> bool tree``. Default :func:`jaxnn.masks.weight_matrices`, every leaf with
            ``ndim >= 2``: weight matrices and kernels whatever their key (``"w"``, ``"kernel"``), not biases or
            BatchNorm's ``gamma``/``beta``.

    Returns:
        A scalar.

    Raises:
        ValueError: ``l2`` is negative or not finite, or ``mask`` is not a tree prefix of ``params``.
        TypeError: a leaf of ``mask`` is not a bool.

    Example::

        params, _ = nn.Sequential([nn.Dense(3), nn.BatchNorm(), nn.Dense(2)]).init(jax.random.key(0), (4,))
        losses.l2_penalty(params, 0.1)   # 0.05 * (‖params["0"]["w"]‖² + ‖params["2"]["w"]‖²)
        losses.l2_penalty(params, 0.1, mask={"0": True, "1": False, "2": False})   # 0.05 * ‖params["0"]["w"]‖²
    """
    check_range("l2", l2, lambda v: v >= 0, "a number >= 0")
    selected = masks.resolve(mask, params, masks.weight_matrices, "mask")
    weights = [w for w, keep in zip(jax.tree.leaves(params), jax.tree.leaves(selected)) if keep]
    return 0.5 * l2 * sum((jnp.sum(jnp.square(w)) for w in weights), jnp.zeros(()))


def accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Fraction of examples whose arg-max logit is the target class.

    ``targets`` are integer labels of shape ``logits.shape[:-1]`` or one-hot / soft targets of shape
    ``logits.shape`` (their arg-max is the class). A label outside ``[0, K)`` makes the result NaN, as in
    :func:`softmax_cross_entropy`, rather than counting as a wrong (or, wrapped around, a right) answer.
    """
    logits, targets = jnp.asarray(logits), jnp.asarray(targets)
    labels = targets if jnp.issubdtype(targets.dtype, jnp.integer) else jnp.argmax(targets, axis=-1)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"accuracy: targets of shape {targets.shape} do not match logits of shape {logits.shape}; pass "
            f"integer labels of shape {logits.shape[:-1]} or one-hot targets of shape {logits.shape}."
        )
    correct = jnp.where(_valid_labels(labels, logits.shape[-1]), jnp.argmax(logits, axis=-1) == labels, jnp.nan)
    return jnp.mean(correct)


def _valid_labels(labels: jax.Array, num_classes: int) -> jax.Array:
    # Checked explicitly: indexing would wrap a negative label around to a real class.
    return (labels >= 0) & (labels < num_classes)
