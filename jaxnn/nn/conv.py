"""Convolutions over channels-last inputs: Conv1D on ``(batch, length, C)``, Conv2D on ``(batch, H, W, C)``.

As in every deep-learning library (and the textbooks' im2col), "convolution" is cross-correlation:
y[n, i, o] = Σ_{k, c} x[n, i·stride + k, c] · w[k, c, o] + b[o] (one spatial axis shown; padding first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from jaxnn.nn import init as initializers
from jaxnn.nn.layer import Layer, Params, Shape, State, feature_size, positive_int, positive_ints, shape_error

Padding = str | int | Sequence[tuple[int, int]]


def padding_pairs(padding: Padding, n: int) -> str | tuple[tuple[int, int], ...]:
    """``"SAME"`` / ``"VALID"`` as they are; an int p as ``(p, p)`` on each of the ``n`` spatial axes; or
    ``n`` explicit ``(low, high)`` pairs.

    "VALID" adds no padding; "SAME" pads (with zeros for conv) so that the output size is ⌈input / stride⌉.
    """
    if isinstance(padding, str) and padding.upper() in ("SAME", "VALID"):
        return padding.upper()
    if _is_size(padding):
        return ((padding, padding),) * n
    if isinstance(padding, Sequence) and not isinstance(padding, str) and len(padding) == n:
        if all(
            isinstance(pair, Sequence) and len(pair) == 2 and all(map(_is_size, pair)) for pair in padding
        ):
            return tuple((lo, hi) for lo, hi in padding)
    raise ValueError(
        f"padding must be 'SAME', 'VALID', an int >= 0, or a sequence of {n} (low, high) pairs of ints >= 0 "
        f"(one per spatial axis), got {padding!r}."
    )


def check_window(layer: str, window: Sequence[int], input_shape: Sequence[int], padding: Any) -> None:
    """Raises at ``init`` when ``window`` is larger than the (padded) spatial axes of ``input_shape``.

    Such a layer would give an empty output (a later mean is NaN, a later Dense divides by zero). ``padding``
    is what :func:`padding_pairs` returns; "SAME" pads every axis enough for one window. Inputs of the wrong
    rank pass here: ``apply`` reports them with the expected shape.
    """
    if padding == "SAME" or len(input_shape) != len(window) + 1:
        return
    pads = ((0, 0),) * len(window) if padding == "VALID" else padding
    padded = tuple(size + lo + hi for size, (lo, hi) in zip(input_shape[:-1], pads))
    if any(size < k for size, k in zip(padded, window)):
        raise ValueError(
            f"{layer}: the window {tuple(window)} is larger than its input: input_shape={tuple(input_shape)} has "
            f"spatial size {padded} after padding, so the output would be empty. Use a smaller window, "
            f"padding='SAME', or a larger input (fewer pooling or strided layers before this one)."
        )


def _is_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _conv(
    kind: str,
    spatial_axes: tuple[str, ...],
    features: int,
    kernel_size: int | Sequence[int],
    stride: int | Sequence[int],
    padding: Padding,
    use_bias: bool,
    w_init: initializers.Initializer | None,
    b_init: initializers.Initializer | None,
) -> Layer:
    n = len(spatial_axes)
    features = positive_int("features", features)
    kernel_size = positive_ints("kernel_size", kernel_size, n)
    stride = positive_ints("stride", stride, n)
    padding = padding_pairs(padding, n)
    w_init = w_init or initializers.lecun_normal()
    b_init = b_init or initializers.zeros()
    name = f"{kind}({features}, kernel_size={kernel_size if n > 1 else kernel_size[0]})"
    letters = "HW"[-n:]
    dimension_numbers = (f"N{letters}C", f"{letters}IO", f"N{letters}C")

    def init(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
        check_window(name, kernel_size, input_shape, padding)
        w_key, b_key = jax.random.split(key)
        params = {"w": w_init(w_key, (*kernel_size, feature_size(name, input_shape), features))}
        if use_bias:
            params["b"] = b_init(b_key, (features,))
        return params, {}

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        w = params["w"]
        if x.ndim != n + 2 or x.shape[-1] != w.shape[-2]:
            raise shape_error(
                name,
                f"(batch, {', '.join(spatial_axes)}, {w.shape[-2]})",
                x,
                "Inputs are channels-last, and init's input_shape excludes the batch axis, e.g. "
                f"{(32,) * n + (w.shape[-2],)}.",
            )
        dtype = jnp.result_type(x, w)
        y = lax.conv_general_dilated(
            x.astype(dtype), w.astype(dtype), stride, padding, dimension_numbers=dimension_numbers
        )
        return (y + params["b"] if use_bias else y), state

    return Layer(init, apply)


def Conv1D(
    features: int,
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Padding = "VALID",
    use_bias: bool = True,
    w_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
) -> Layer:
    """1-D convolution, ``(batch, length, in)`` to ``(batch, length', features)``.

    Args:
        features: output channels.
        kernel_size: window length k.
        stride: step between windows.
        padding: ``"VALID"`` (default, no padding), ``"SAME"``, an int, or ``[(low, high)]``.
        use_bias: without a bias, params hold only ``"w"``.
        w_init: initializer for the kernel ``(k, in, features)``; default :func:`~jaxnn.nn.init.lecun_normal`
            (fan_in = k · in).
        b_init: initializer for the bias ``(features,)``; default zeros.

    Params: ``{"w": (k, in, features), "b": (features,)}``. Output length ⌊(L + pads − k) / stride⌋ + 1.

    Example::

        layer = nn.Conv1D(8, kernel_size=3, padding="SAME")
        params, state = layer.init(jax.random.key(0), (40, 1))
        assert layer.output_shape((40, 1)) == (40, 8)     # (batch, 40, 1) -> (batch, 40, 8)
    """
    return _conv("Conv1D", ("length",), features, kernel_size, stride, padding, use_bias, w_init, b_init)


def Conv2D(
    features: int,
    kernel_size: int | Sequence[int],
    *,
    stride: int | Sequence[int] = 1,
    padding: Padding = "VALID",
    use_bias: bool = True,
    w_init: initializers.Initializer | None = None,
    b_init: initializers.Initializer | None = None,
) -> Layer:
    """2-D convolution, ``(batch, height, width, in)`` to ``(batch, height', width', features)``.

    Args:
        features: output channels.
        kernel_size: ``(kh, kw)``, or an int for a square window.
        stride: an int or ``(sh, sw)``.
        padding: ``"VALID"`` (default, no padding), ``"SAME"``, an int, or ``[(top, bottom), (left, right)]``.
        use_bias: without a bias, params hold only ``"w"``.
        w_init: initializer for the kernel ``(kh, kw, in, features)``; default
            :func:`~jaxnn.nn.init.lecun_normal` (fan_in = kh · kw · in).
        b_init: initializer for the bias ``(features,)``; default zeros.

    Params: ``{"w": (kh, kw, in, features), "b": (features,)}``.

    Example::

        layer = nn.Conv2D(16, kernel_size=3, stride=2, padding=1)
        params, state = layer.init(jax.random.key(0), (28, 28, 1))
        assert layer.output_shape((28, 28, 1)) == (14, 14, 16)   # (batch, 28, 28, 1) -> (batch, 14, 14, 16)
    """
    return _conv(
        "Conv2D", ("height", "width"), features, kernel_size, stride, padding, use_bias, w_init, b_init
    )
