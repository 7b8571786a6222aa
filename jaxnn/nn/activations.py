"""Activation functions, and the Maxout layer.

The functions are plain ``array -> array`` callables; :func:`~jaxnn.nn.Sequential` accepts them directly
(``nn.Sequential([nn.Dense(10), nn.relu])``). Bind extra arguments with ``functools.partial`` or a lambda:
``lambda x: nn.leaky_relu(x, 0.2)``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn import init as initializers
from jaxnn.nn.layer import Layer, Params, Shape, State, feature_size, positive_int, shape_error


def sigmoid(x: jax.Array) -> jax.Array:
    """σ(x) = 1 / (1 + e^{−x}), in (0, 1); σ' = σ(1 − σ) ≤ 1/4, which is why deep sigmoid nets vanish."""
    return jax.nn.sigmoid(x)


def tanh(x: jax.Array) -> jax.Array:
    """tanh(x) = (e^x − e^{−x}) / (e^x + e^{−x}) = 2σ(2x) − 1, in (−1, 1)."""
    return jnp.tanh(x)


def relu(x: jax.Array) -> jax.Array:
    """ReLU(x) = max(0, x), with derivative 0 at x = 0."""
    return jax.nn.relu(x)


def leaky_relu(x: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    """x for x ≥ 0, ``negative_slope``·x otherwise."""
    return jax.nn.leaky_relu(x, negative_slope)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """ELU: x for x > 0, α(e^x − 1) otherwise (Clevert et al. 2015)."""
    return jax.nn.elu(x, alpha)


def softplus(x: jax.Array) -> jax.Array:
    """softplus(x) = log(1 + e^x), a smooth ReLU, computed without overflow."""
    return jax.nn.softplus(x)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """softmax(x)_i = e^{x_i} / Σ_j e^{x_j} along ``axis``, computed as e^{x − max x} to avoid overflow."""
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """log softmax(x)_i = x_i − log Σ_j e^{x_j} along ``axis``, stable for large |x|."""
    return jax.nn.log_softmax(x, axis=axis)


def Maxout(
    units: int,
    pieces: int,
    *,
    w_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
) -> Layer:
    """Maxout (Goodfellow et al. 2013): each unit is the max of ``pieces`` affine maps of the input.

    y_j = max_k (x · W[:, j, k] + b[j, k]).

    Params: ``{"w": (in, units, pieces), "b": (units, pieces)}``. ``w`` is drawn by ``w_init`` (default
    :func:`~jaxnn.nn.init.lecun_normal`) as an ``(in, units·pieces)`` matrix, so its fan-in is ``in``.

    Example::

        layer = nn.Maxout(16, pieces=3)
        params, state = layer.init(jax.random.key(0), (8,))
        assert params["w"].shape == (8, 16, 3)
    """
    units = positive_int("units", units)
    pieces = positive_int("pieces", pieces)
    w_init = w_init or initializers.lecun_normal()
    b_init = b_init or initializers.zeros()
    name = f"Maxout({units}, pieces={pieces})"

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        n_in = feature_size(name, input_shape)
        w_key, b_key = jax.random.split(key)
        w = w_init(w_key, (n_in, units * pieces)).reshape(n_in, units, pieces)
        b = b_init(b_key, (units * pieces,)).reshape(units, pieces)
        return {"w": w, "b": b}, {}

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        n_in = params["w"].shape[0]
        if x.ndim < 2 or x.shape[-1] != n_in:
            raise shape_error(name, f"(batch, ..., {n_in})", x, "Check the input_shape given to init.")
        return jnp.max(jnp.einsum("...i,iup->...up", x, params["w"]) + params["b"], axis=-1), state

    return Layer(init, apply)
