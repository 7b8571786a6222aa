"""Batch normalization (Ioffe & Szegedy 2015)."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn.layer import Layer, Params, Shape, State, feature_size, shape_error
from jaxnn.validation import check_range


def BatchNorm(momentum: Any = 0.9, eps: Any = 1e-5, axis: int = -1) -> Layer:
    """Normalises each feature over the batch (and any spatial axes), then scales and shifts it.

    Training, with μ and σ² the mean and the biased (divide-by-N) variance over every axis but ``axis``::

        x̂ = (x − μ) / √(σ² + eps),     y = γ·x̂ + β
        running_mean ← momentum·running_mean + (1 − momentum)·μ       (likewise running_var with σ²)

    Evaluation uses the running statistics in place of μ and σ², so it does not depend on the batch.

    ``momentum`` is the weight kept by the old running value, as in Flax (``BatchNorm(momentum=0.9)`` there is
    the same) and Keras. PyTorch's ``momentum`` is the weight of the new batch: PyTorch ``momentum=0.1`` is
    ``momentum=0.9`` here. (PyTorch also stores the unbiased variance N/(N−1)·σ² in its running_var; we, like
    Flax, store σ².) ``momentum`` may be traced, so a sweep can ``vmap`` over it.

    Gradients come from autodiff; they equal the textbook backward pass
    dx = (1/N)·γ/√(σ² + eps)·(N·dy − Σdy − x̂·Σ(dy·x̂)), with N the number of values averaged.

    Args:
        momentum: in [0, 1]; 0 keeps only the latest batch's statistics, 1 never updates them.
        eps: > 0, added to the variance.
        axis: the feature axis of the batched input (default -1, channels-last); not the batch axis 0.

    Params ``{"gamma": ones(C), "beta": zeros(C)}``; state ``{"mean": zeros(C), "var": ones(C)}``.
    Inputs ``(N, C)``, ``(N, L, C)`` and ``(N, H, W, C)`` all work. Training needs more than one value per
    feature (as PyTorch): a ``(1, C)`` batch raises ``ValueError`` when traced, naming the layer and the shape.

    Example::

        bn = nn.BatchNorm()
        params, state = bn.init(jax.random.key(0), (16,))
        x = jax.random.normal(jax.random.key(1), (32, 16))
        y, state = bn.apply(params, state, x, train=True)     # updates the running statistics
        y, _ = bn.apply(params, state, x)                     # evaluation
    """
    check_range("momentum", momentum, lambda m: (m >= 0) & (m <= 1), "a number in [0, 1]")
    check_range("eps", eps, lambda e: e > 0, "a number > 0")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"axis must be an int (the feature axis of the batched input), got {axis!r}.")
    name = f"BatchNorm(axis={axis})"

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        c = feature_size(name, input_shape, axis)
        return {"gamma": jnp.ones(c), "beta": jnp.zeros(c)}, {"mean": jnp.zeros(c), "var": jnp.ones(c)}

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        c = params["gamma"].shape[0]
        feature_axis = axis % x.ndim if -x.ndim <= axis < x.ndim else 0
        if feature_axis == 0 or x.shape[feature_axis] != c:
            where = "last" if axis == -1 else f"at axis {axis}"
            raise shape_error(
                name,
                f"(batch, ...) with {c} features {where}",
                x,
                "Check the input_shape given to init (one example, no batch axis) and the axis argument.",
            )
        reduce_axes = tuple(i for i in range(x.ndim) if i != feature_axis)
        if train and math.prod(x.shape[i] for i in reduce_axes) == 1:
            # One value per feature: the output would be beta, no gradient would pass and the running
            # variance would decay towards 0. PyTorch refuses it too.
            raise ValueError(
                f"{name} in training mode needs more than one value per feature, but received an input of shape "
                f"{tuple(x.shape)} (a batch of one). Train on batches of at least 2 (with fit(drop_last=False), "
                f"pick a batch_size that does not leave a last batch of one), or apply it with train=False."
            )
        if train:
            mean, var = jnp.mean(x, reduce_axes), jnp.var(x, reduce_axes)
            state = {
                "mean": (momentum * state["mean"] + (1 - momentum) * mean).astype(state["mean"].dtype),
                "var": (momentum * state["var"] + (1 - momentum) * var).astype(state["var"].dtype),
            }
        else:
            mean, var = state["mean"], state["var"]
        # Per-feature vectors reshaped to broadcast along the feature axis.
        shape = [1] * x.ndim
        shape[feature_axis] = c
        x_hat = (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + eps)
        return params["gamma"].reshape(shape) * x_hat + params["beta"].reshape(shape), state

    return Layer(init, apply)
