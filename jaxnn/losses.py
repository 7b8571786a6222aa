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

from jaxnn.validation import check_range

WEIGHT_KEYS = frozenset({"w"})
"""Dict keys that :func:`l2_penalty` treats as weights: every jaxnn layer stores its matrix or kernel under
``"w"``, its bias under ``"b"`` and BatchNorm's scale and shift under ``"gamma"`` and ``"beta"``."""


def softmax_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Mean over the batch of −Σ_k t_k · log softmax(z)_k, via log-softmax (no overflow for large logits).

    Args:
        logits: ``(..., K)`` unnormalised scores z.
        targets: either integer class labels of shape ``logits.shape[:-1]`` (values in [0, K); an out-of-range
            label gives NaN), or float one-hot / soft probabilities of shape ``logits.shape``.

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
        # mode="fill" turns an out-of-range label into NaN instead of silently clamping it.
        picked = jnp.take_along_axis(log_p, targets[..., None], axis=-1, mode="fill", fill_value=jnp.nan)
        return -jnp.mean(picked[..., 0])
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


def l2_penalty(params: Any, lam: Any) -> jax.Array:
    """Weight decay ½·λ·Σ_W ‖W‖², summed over the weight matrices and kernels of ``params``.

    A leaf counts as a weight when its dict key is in :data:`WEIGHT_KEYS` (``"w"``): Dense, Conv and Maxout
    weights count; biases (``"b"``) and BatchNorm's ``"gamma"``/``"beta"`` do not. Its gradient, λ·W, is the
    textbooks' weight-decay term. ``lam`` may be traced, so a sweep can ``vmap`` over it. For a stack of
    models (params with a leading model axis) call it under ``vmap``, otherwise the sum runs over all models.

    Example::

        params, _ = nn.Sequential([nn.Dense(3), nn.BatchNorm(), nn.Dense(2)]).init(jax.random.key(0), (4,))
        losses.l2_penalty(params, 0.1)   # 0.05 * (‖params["0"]["w"]‖² + ‖params["2"]["w"]‖²)
    """
    check_range("lam", lam, lambda v: v >= 0, "a number >= 0")
    weights = [
        leaf
        for path, leaf in jax.tree_util.tree_leaves_with_path(params)
        if path and isinstance(path[-1], jax.tree_util.DictKey) and path[-1].key in WEIGHT_KEYS
    ]
    return 0.5 * lam * sum((jnp.sum(jnp.square(w)) for w in weights), jnp.zeros(()))


def accuracy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Fraction of examples whose arg-max logit is the target class.

    ``targets`` are integer labels of shape ``logits.shape[:-1]`` or one-hot / soft targets of shape
    ``logits.shape`` (their arg-max is the class).
    """
    logits, targets = jnp.asarray(logits), jnp.asarray(targets)
    labels = targets if jnp.issubdtype(targets.dtype, jnp.integer) else jnp.argmax(targets, axis=-1)
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"accuracy: targets of shape {targets.shape} do not match logits of shape {logits.shape}; pass "
            f"integer labels of shape {logits.shape[:-1]} or one-hot targets of shape {logits.shape}."
        )
    return jnp.mean(jnp.argmax(logits, axis=-1) == labels)
