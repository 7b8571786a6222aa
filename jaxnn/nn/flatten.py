"""Flatten: one feature vector per example."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn.layer import Layer, Params, State, no_params, shape_error


def Flatten() -> Layer:
    """Reshapes ``(batch, d1, d2, ...)`` to ``(batch, d1·d2·...)``, e.g. between convolutions and Dense.

    Example::

        model = nn.Sequential([nn.Conv2D(8, 3), nn.relu, nn.Flatten(), nn.Dense(10)])
    """

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        if x.ndim < 1:
            raise shape_error("Flatten()", "(batch, ...)", x, "Flatten keeps the leading batch axis.")
        return jnp.reshape(x, (x.shape[0], -1)), state

    return Layer(no_params, apply)
