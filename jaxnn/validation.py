"""The one range check behind every hyperparameter argument in jaxnn.

A value is checked as it will be stored and used: cast to float32 first, so ``1e39`` (``inf`` in float32) and
``0.999999999`` (``1.0``) are judged by what training would see, not by their float64 spelling. Bools are not
numbers here: ``lr=True`` is refused.

Hyperparameters may be traced (a sweep ``vmap`` s over a learning rate, a dropout rate, an init std). A traced
value's dtype is checked at trace time; its value cannot be, so every public entry point that accepts traced
hyperparameters checks their concrete values on the host first (a sweep validates each config's values before
it stacks them), and this check skips them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def check_range(
    name: str,
    value: Any,
    ok: Callable[[np.ndarray], Any],
    allowed: str,
    *,
    dtype: Any = np.float32,
    shown: str | None = None,
) -> None:
    """Raises when ``value`` (a number, an array or a pytree of them), cast to ``dtype``, is not finite or fails ``ok``.

    Args:
        name: the argument's name, as the user wrote it.
        value: the value to check; tracers get their dtype checked only.
        ok: elementwise predicate on a float64 NumPy array holding the value after the cast to ``dtype``.
        allowed: what is allowed, in words ("a number in [0, 1)").
        dtype: the dtype the value is stored or computed in.
        shown: how to show the value in the message, when ``repr(value)`` is not what the user wrote.

    Raises:
        TypeError: for non-numeric, bool or complex values.
        ValueError: for out-of-range or non-finite values; the message names ``name``, the value and ``allowed``.

    Example::

        from jaxnn.validation import check_range

        check_range("rate", 0.5, lambda r: (r >= 0) & (r < 1), "a number in [0, 1)")
    """
    shown = repr(value) if shown is None else shown
    for leaf in jax.tree.leaves(value):
        kind = np.dtype(leaf.dtype) if isinstance(leaf, jax.core.Tracer) else np.asarray(leaf).dtype
        if not np.issubdtype(kind, np.number) or np.issubdtype(kind, np.complexfloating):
            raise TypeError(f"{name}={shown} is not allowed: {name} must be {allowed}, got dtype {kind}.")
        if isinstance(leaf, jax.core.Tracer):
            continue
        with np.errstate(over="ignore", under="ignore"):
            stored = np.asarray(leaf).astype(dtype)
        if not _passes(stored, ok):
            # Say so when only the cast made it fail: the user's spelling looks allowed.
            cast = f" (as {np.dtype(dtype).name}, the dtype it is stored in, it is {stored})"
            cast = cast if _passes(np.asarray(leaf), ok) else ""
            raise ValueError(f"{name}={shown} is not allowed{cast}: {name} must be {allowed}.")


def _passes(array: np.ndarray, ok: Callable[[np.ndarray], Any]) -> bool:
    as_float64 = array.astype(np.float64)
    return bool(np.all(np.isfinite(as_float64) & ok(as_float64)))


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

        from jaxnn.validation import check_seed

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
