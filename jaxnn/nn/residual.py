"""Residual connection (He et al. 2016)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from jaxnn.nn.layer import Layer, Params, Shape, State, as_layer, infer_output_shape


def Residual(block: Layer | Callable[[jax.Array], jax.Array]) -> Layer:
    """y = x + block(x); ``block`` must keep the shape. Params and state are the block's own.

    Example::

        model = nn.Sequential([
            nn.Dense(64), nn.relu,
            nn.Residual(nn.Sequential([nn.Dense(64), nn.relu, nn.Dense(64)])),
        ])
    """
    block = as_layer(block, "Residual block")

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        params, state = block.init(key, input_shape)
        output_shape = infer_output_shape(block.apply, params, state, input_shape)
        if output_shape != tuple(input_shape):
            raise ValueError(
                f"Residual: the block maps shape {tuple(input_shape)} to {output_shape}, but x + block(x) "
                "needs them equal. Make the block's last layer output as many features as it receives (for "
                "convolutions: padding='SAME', stride 1)."
            )
        return params, state

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        y, state = block.apply(params, state, x, train=train, key=key)
        return x + y, state

    return Layer(init, apply)
