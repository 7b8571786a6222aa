"""Dense (fully connected, affine) layer."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn import init as initializers
from jaxnn.nn.layer import Layer, Params, Shape, State, feature_size, positive_int, shape_error


def Dense(
    units: int,
    *,
    use_bias: bool = True,
    w_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
) -> Layer:
    """y = x W + b, applied to the last axis (so ``(batch, ..., in)`` maps to ``(batch, ..., units)``).

    Args:
        units: output features.
        use_bias: without a bias, params hold only ``"w"``.
        w_init: initializer for W of shape ``(in, units)``; default :func:`~jaxnn.nn.init.lecun_normal`.
        b_init: initializer for b of shape ``(units,)``; default zeros.

    Params: ``{"w": (in, units), "b": (units,)}``, ``in`` inferred from ``input_shape[-1]`` at init.

    Example::

        layer = nn.Dense(100, w_init=nn.init.he_normal())
        params, state = layer.init(jax.random.key(0), (784,))
        y, _ = layer.apply(params, state, jnp.ones((32, 784)))
        assert y.shape == (32, 100)
    """
    units = positive_int("units", units)
    w_init = w_init or initializers.lecun_normal()
    b_init = b_init or initializers.zeros()
    name = f"Dense({units})"

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        w_key, b_key = jax.random.split(key)
        params = {"w": w_init(w_key, (feature_size(name, input_shape), units))}
        if use_bias:
            params["b"] = b_init(b_key, (units,))
        return params, {}

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        n_in = params["w"].shape[0]
        if x.ndim < 2 or x.shape[-1] != n_in:
            raise shape_error(
                name,
                f"(batch, ..., {n_in})",
                x,
                "Check the input_shape given to init (one example, no batch axis); to feed images to Dense, "
                "put nn.Flatten() before it.",
            )
        y = jnp.matmul(x, params["w"])
        return (y + params["b"] if use_bias else y), state

    return Layer(init, apply)
