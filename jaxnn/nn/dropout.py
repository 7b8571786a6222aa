"""Dropout (Srivastava et al. 2014), inverted."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.nn.layer import Layer, Params, State, no_params
from jaxnn.validation import check_range


def Dropout(rate: Any) -> Layer:
    """Zeroes each value with probability ``rate`` in training; the identity in evaluation.

    Inverted dropout: in training y = m·x / (1 − rate) with m ~ Bernoulli(1 − rate), so E[y] = x and the
    evaluation network needs no change. The textbooks' variant (*Deep Learning from Scratch* ch. 6) keeps
    y = m·x in training and multiplies by (1 − rate) at test time instead. Both make the test-time output the
    expectation of the training-time one; they differ by the constant factor 1/(1 − rate), in training and at
    test time alike, which the next layer's weights absorb. In expectation the two compute the same function.

    ``rate`` may be traced, so a sweep can ``vmap`` over dropout rates; ``rate=0`` is exactly the identity.
    Training with ``rate > 0`` needs ``key`` (``Sequential`` splits its key among its layers).

    Raises:
        ValueError: if a concrete ``rate`` is outside [0, 1), or a key is missing in training.

    Example::

        drop = nn.Dropout(0.5)
        x = jnp.ones((4, 10))
        y, _ = drop.apply({}, {}, x, train=True, key=jax.random.key(1))   # zeros and 2.0s
        y, _ = drop.apply({}, {}, x)                   # evaluation: y is x
    """
    check_range("rate", rate, lambda r: (r >= 0) & (r < 1), "a number in [0, 1)")
    name = f"Dropout({rate})"
    is_zero = not isinstance(rate, jax.core.Tracer) and bool(rate == 0)

    def apply(
        params: Params, state: State, x: jax.Array, *, train: bool = False, key: Any = None
    ) -> tuple[jax.Array, State]:
        if not train or is_zero:
            return x, state
        if key is None:
            raise ValueError(
                f"{name} needs a PRNG key in training: call apply(..., train=True, key=jax.random.key(seed)) "
                "with a fresh key each step, or train=False for evaluation."
            )
        keep = jax.random.bernoulli(key, 1 - rate, x.shape)
        return jnp.where(keep, x / (1 - rate), 0), state

    return Layer(no_params, apply)
