"""Max and average pooling over the spatial axes of channels-last inputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxnn.nn.conv import Padding, check_window, padding_pairs
from jaxnn.nn.layer import Layer, Params, Shape, State, positive_ints, shape_error

_Reducer = Callable[[jax.Array, tuple[int, ...], tuple[int, ...], Any], jax.Array]


def _pool(kind: str, window: int | Sequence[int], stride: Any, padding: Padding, reduce: _Reducer) -> Layer:
    positive_ints("window", window)
    if stride is not None:
        positive_ints("stride", stride)
    name = f"{kind}({window})"

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        n = len(window) if isinstance(window, Sequence) else len(input_shape) - 1
        if n >= 1:
            check_window(name, positive_ints("window", window, n), input_shape, padding_pairs(padding, n))
        return {}, {}

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        n = len(window) if isinstance(window, Sequence) else x.ndim - 2
        if n < 1 or x.ndim != n + 2:
            expected = "(batch, length, channels) or (batch, height, width, channels)"
            if n == 1 or n == 2:
                expected = ("(batch, length, channels)", "(batch, height, width, channels)")[n - 1]
            raise shape_error(
                name,
                expected,
                x,
                "Pooling acts on the spatial axes of channels-last inputs with a batch axis.",
            )
        dims = (1, *positive_ints("window", window, n), 1)
        strides = (1, *positive_ints("stride", window if stride is None else stride, n), 1)
        pads = padding_pairs(padding, n)
        if not isinstance(pads, str):
            pads = ((0, 0), *pads, (0, 0))
        return reduce(x, dims, strides, pads), state

    return Layer(init, apply)


def _max(x: jax.Array, dims: tuple[int, ...], strides: tuple[int, ...], pads: Any) -> jax.Array:
    # Padding takes the init value, -inf, so padded cells never win the max. The init values must be Python
    # scalars: JAX differentiates reduce_window only when it recognises (max, -inf) or (add, 0).
    return lax.reduce_window(x, -jnp.inf, lax.max, dims, strides, pads)


def _mean(x: jax.Array, dims: tuple[int, ...], strides: tuple[int, ...], pads: Any) -> jax.Array:
    sums = lax.reduce_window(x, 0.0, lax.add, dims, strides, pads)
    # Windows overlapping the padding average over their real cells only (TensorFlow's convention).
    counts = lax.reduce_window(jnp.ones((1, *x.shape[1:-1], 1), x.dtype), 0.0, lax.add, dims, strides, pads)
    return sums / counts


def MaxPool(
    window: int | Sequence[int], stride: int | Sequence[int] | None = None, padding: Padding = "VALID"
) -> Layer:
    """y[n, i, j, c] = max over the window at (i·stride, j·stride) of x[n, ·, ·, c]; channels are independent.

    Args:
        window: window size per spatial axis; an int applies to every spatial axis (1-D or 2-D inputs).
        stride: step between windows; default ``window`` (non-overlapping, as in the textbooks).
        padding: ``"VALID"`` (default), ``"SAME"``, an int, or ``(low, high)`` pairs; pads never win the max.

    Example::

        pool = nn.MaxPool(2)      # (batch, 28, 28, C) -> (batch, 14, 14, C)
    """
    return _pool("MaxPool", window, stride, padding, _max)


def AvgPool(
    window: int | Sequence[int], stride: int | Sequence[int] | None = None, padding: Padding = "VALID"
) -> Layer:
    """The mean over each window (see :func:`MaxPool` for the arguments); padded cells are not counted.

    Example::

        pool = nn.AvgPool((2, 2), stride=1)   # (batch, 5, 5, C) -> (batch, 4, 4, C)
    """
    return _pool("AvgPool", window, stride, padding, _mean)
