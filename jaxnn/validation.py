"""The one range check behind every hyperparameter argument in jaxnn.

Hyperparameters may be traced (a sweep ``vmap`` s over a learning rate, a dropout rate, an init std), so only
concrete values can be checked; traced ones pass and are the caller's responsibility.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def check_range(name: str, value: Any, ok: Callable[[np.ndarray], Any], allowed: str) -> None:
    """Raises when a concrete ``value`` (a number, an array or a pytree of them) is not finite or fails ``ok``.

    Args:
        name: the argument's name, as the user wrote it.
        value: the value to check; tracers are skipped.
        ok: elementwise predicate on a float64 NumPy array.
        allowed: what is allowed, in words ("a number in [0, 1)").

    Raises:
        TypeError: for non-numeric values.
        ValueError: for out-of-range or non-finite values; the message names ``name``, ``value`` and ``allowed``.
    """
    for leaf in jax.tree.leaves(value):
        if isinstance(leaf, jax.core.Tracer):
            continue
        array = np.asarray(leaf)
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(array):
            raise TypeError(f"{name}={value!r} is not allowed: {name} must be {allowed}, got dtype {array.dtype}.")
        if not np.all(np.isfinite(array) & ok(array.astype(np.float64))):
            raise ValueError(f"{name}={value!r} is not allowed: {name} must be {allowed}.")


SEED_LIMIT = 2**32
"""``jax.random.key`` keeps an int seed's low 32 bits: ``key(2**32)`` is ``key(0)`` and ``key(-1)`` is
``key(2**32 - 1)``, so seeds outside ``[0, 2**32)`` would silently repeat others."""


def check_seed(name: str, value: Any) -> int:
    """The int seed ``value`` as a Python int, once checked to be one that ``jax.random.key`` keeps distinct.

    Args:
        name: the argument's name, as the user wrote it (``"key"``).
        value: a Python or NumPy integer.

    Returns:
        ``int(value)``.

    Raises:
        TypeError: for bools and non-integers.
        ValueError: for a seed outside ``[0, 2**32)``; the message names ``name`` and ``value``.

    Example::

        key = jax.random.key(check_seed("key", 42))
    """
    if not isinstance(value, int | np.integer) or isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}={value!r} is not allowed: an int seed must be an int in [0, 2**32), "
                        f"got {type(value).__name__}.")
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(f"{name}={value!r} is not allowed: an int seed must be in [0, 2**32); jax.random.key keeps "
                         f"only 32 bits, so it would equal key={int(value) % SEED_LIMIT}. Pass a jax.random.key "
                         "to use more.")
    return int(value)
