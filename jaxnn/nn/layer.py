"""The layer contract: a layer is a pair of pure functions, ``Layer(init, apply)``.

``init(key, input_shape) -> (params, state)``
    ``input_shape`` is the shape of ONE example, without the batch axis: ``(784,)`` for vectors,
    ``(length, channels)`` for sequences, ``(height, width, channels)`` for images (channels-last).
    ``params`` are the trainable arrays and ``state`` the non-trainable ones (BatchNorm's running statistics),
    both plain dicts, ``{}`` when a layer has none.
``apply(params, state, x, *, train=False, key=None) -> (y, new_state)``
    ``x`` carries a leading batch axis, ``x.shape == (batch, *input_shape)``. ``train`` is a Python bool
    (mark it static under ``jit``); ``key`` is a PRNG key, needed only by Dropout in training.

No layer declares its output shape: containers trace ``apply`` with :func:`jax.eval_shape` (no FLOPs), so a
layer's arithmetic is written once and shape inference cannot disagree with it.

The helpers below validate arguments. Hyperparameters that a sweep may ``vmap`` over (a dropout rate, an
init std) are checked only when concrete: a tracer's value is unknown until the computation runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.nn._draw import draw_once, recording

Params = dict[str, Any]
State = dict[str, Any]
Shape = tuple[int, ...]


class _Fields(NamedTuple):
    init: Callable[[jax.Array, Shape], tuple[Params, State]]
    apply: Callable[..., tuple[jax.Array, State]]


class Layer(_Fields):
    """A layer: ``init(key, input_shape) -> (params, state)`` and
    ``apply(params, state, x, *, train=False, key=None) -> (y, new_state)``; see the module docstring.

    ``Layer(init, apply)`` stores ``init`` wrapped so that a model draws all its :mod:`jaxnn.nn.init` samples in
    one call of ``key``, cut in the order the layers ask for them (one random computation to compile per model
    instead of one per weight; see :mod:`jaxnn.nn.init` for what that means for the values).

    Example::

        layer = nn.Dense(3)
        params, state = layer.init(jax.random.key(0), (5,))
        y, state = layer.apply(params, state, jnp.ones((2, 5)))   # y.shape == (2, 3)
        layer.output_shape((5,))                                   # (3,)
    """

    __slots__ = ()

    def __new__(cls, init: Callable[[jax.Array, Shape], tuple[Params, State]],
                apply: Callable[..., tuple[jax.Array, State]]) -> Layer:
        return super().__new__(cls, draw_once(init), apply)

    @classmethod
    def _make(cls, fields: Any) -> Layer:
        # NamedTuple's _make (behind _replace) builds tuples directly, which would store init unwrapped.
        return cls(*fields)

    def output_shape(self, input_shape: Sequence[int]) -> Shape:
        """The shape of one output example for one input example of ``input_shape`` (no batch axis)."""
        with recording():  # shapes only: the initializers need not draw
            key = jax.eval_shape(jax.random.key, 0)
            params, state = jax.eval_shape(lambda key: self.init(key, tuple(input_shape)), key)
        return infer_output_shape(self.apply, params, state, input_shape)


def infer_output_shape(
    apply: Callable[..., Any], params: Params, state: State, input_shape: Sequence[int]
) -> Shape:
    """Traces ``apply`` (evaluation mode, batch of one) for its output shape, without computing anything.

    Works on concrete arrays, tracers (an ``init`` under ``jit``/``vmap``) and ShapeDtypeStructs alike.
    """
    params, state = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), (params, state))
    x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
    try:
        y = jax.eval_shape(lambda p, s, x: apply(p, s, x)[0], params, state, x)
    except ValueError as error:
        # The layer saw a batch of one that the user never wrote; say where its shape came from.
        raise ValueError(
            f"{error} (Raised at init for input_shape={tuple(input_shape)}, traced as a batch of one.)"
        ) from error
    return tuple(y.shape[1:])


def as_layer(obj: Any, argument: str) -> Layer:
    """``obj`` if it is a Layer; a plain callable (``nn.relu``) becomes a parameter-free layer applying it."""
    if isinstance(obj, Layer):
        return obj
    if not callable(obj):
        raise TypeError(
            f"{argument} must be a Layer (e.g. nn.Dense(10)) or a callable such as nn.relu, got {obj!r}."
        )

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        return obj(x), state

    return Layer(no_params, apply)


def no_params(key: jax.Array, input_shape: Shape) -> tuple[Params, State]:
    """The ``init`` of a layer that has neither params nor state."""
    return {}, {}


def shape_error(layer: str, expected: str, x: Any, hint: str) -> ValueError:
    """The error a layer raises for an input of the wrong rank or size."""
    return ValueError(
        f"{layer} expected an input of shape {expected}, but received shape {tuple(np.shape(x))}. {hint}"
    )


def feature_size(layer: str, input_shape: Sequence[int], axis: int = -1) -> int:
    """``input_shape``'s size along ``axis``, counted as in the batched input ``(batch, *input_shape)``."""
    batched = (None, *input_shape)
    if not -len(batched) <= axis < len(batched) or batched[axis] is None:
        raise ValueError(
            f"{layer} cannot find a feature axis {axis} in input_shape={tuple(input_shape)}. input_shape is "
            "the shape of one example without the batch axis, e.g. (784,) or (28, 28, 1)."
        )
    return batched[axis]


def positive_ints(name: str, value: Any, n: int | None = None) -> tuple[int, ...]:
    """``value`` (an int, repeated ``n`` times, or a sequence of ``n`` ints) as a tuple of positive ints."""
    if _is_int(value):
        values = (int(value),) * (n or 1)
    elif isinstance(value, Sequence) and not isinstance(value, str) and all(map(_is_int, value)):
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{name} must be a positive int or a sequence of positive ints, got {value!r}.")
    if n is not None and len(values) != n:
        raise ValueError(
            f"{name} must be an int or a sequence of {n} ints (one per spatial axis), got {value!r}."
        )
    if not values or min(values) <= 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    return values


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(name: str, value: Any) -> int:
    """``value`` if it is a positive int, else a TypeError/ValueError naming it."""
    if not _is_int(value):
        raise TypeError(f"{name} must be a positive int, got {value!r}.")
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return int(value)
