"""Stacked runs: N training runs as one pytree whose leaves have a leading row axis.

A stack of ``TrainState``s gives each row its own params, BatchNorm state, optimizer state (holding that row's
hyperparameters) and PRNG key; :func:`jaxnn.train.fit_stack` trains all rows in one compiled epoch. Rows must
share their static structure (the same model and optimizer kinds); their values may differ.

Example::

    model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    seeds = train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 4), (40,))        # 4 seeds
    lrs = train.create_stacked(model, [optim.sgd(lr) for lr in (0.01, 0.1)], jax.random.key(0), (40,))
    first = train.unstack(seeds)[0]                                                           # one TrainState
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn.optim import Optimizer
from jaxnn.train.state import TrainState, create
from jaxnn.validation import check_seed


class Rows(NamedTuple):
    """What the trainer carries per row between steps, stacked along a leading axis (or one unstacked row).

    Attributes:
        ts: the rows' ``TrainState``.
        hp: per-row values the step depends on beyond the optimizer state (a sweep's traced ``l2``, dropout
            rate or init std); the trainer builds each row's step as ``train_step(hp)``. ``{}`` when none.
        diverged_at: the step at which a row's loss or params stopped being finite, -1 while finite.
        stopped: True once early stopping froze the row.
    """

    ts: TrainState
    hp: dict[str, jax.Array]
    diverged_at: jax.Array
    stopped: jax.Array


def as_rows(ts: TrainState, hp: dict[str, Any] | None = None) -> Rows:
    """Fresh :class:`Rows` around stacked ``ts`` (leading axis = rows) and optional per-row ``hp`` arrays."""
    n = rows_in(ts)
    return Rows(ts, {name: jnp.asarray(v) for name, v in (hp or {}).items()}, jnp.full(n, -1, jnp.int32),
                jnp.zeros(n, bool))


def rows_in(ts: TrainState) -> int:
    """The number of rows of a stacked ``TrainState`` (the length of its step counter)."""
    if jnp.ndim(ts.step) != 1:
        raise ValueError(f"expected a stacked TrainState (step of shape (rows,)), got step of shape "
                         f"{jnp.shape(ts.step)}; stack single states with train.stack([...]).")
    return int(jnp.shape(ts.step)[0])


def stack(states: Sequence[TrainState]) -> TrainState:
    """Stacks ``TrainState``s of one structure into one with a leading row axis.

    Raises:
        ValueError: no states, or states whose structures or shapes differ (other models or optimizer kinds).

    Example::

        ts = train.stack([train.create(model, optim.adam(1e-3), jax.random.key(s), (40,)) for s in range(3)])
    """
    states = list(states)
    if not states:
        raise ValueError("stack: states is empty; pass at least one TrainState.")
    first = jax.tree.structure(states[0])
    for i, ts in enumerate(states[1:], 1):
        same = jax.tree.structure(ts) == first and all(
            jnp.shape(a) == jnp.shape(b) for a, b in zip(jax.tree.leaves(ts), jax.tree.leaves(states[0])))
        if not same:
            raise ValueError(f"stack: states[{i}] differs from states[0] in structure or shapes; stacked rows need "
                             f"the same model and optimizer kind (values may differ).")
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)


def unstack(ts: TrainState) -> list[TrainState]:
    """The rows of a stacked ``TrainState`` as a list of single states (inverse of :func:`stack`)."""
    return [jax.tree.map(lambda a, i=i: a[i], ts) for i in range(rows_in(ts))]


def seed_keys(key: jax.Array | int, n: int) -> jax.Array:
    """``n`` independent keys from ``key`` (or an int seed), one per row: ``jax.random.split(key, n)``.

    Raises:
        ValueError: ``n`` is not an int >= 1, or an int seed is outside ``[0, 2**32)`` (see
            :func:`jaxnn.validation.check_seed`).
    """
    if not (isinstance(n, int | np.integer) and not isinstance(n, bool) and n >= 1):
        raise ValueError(f"seed_keys: n={n!r} is not allowed: it must be an int >= 1 (the number of rows).")
    key = jax.random.key(check_seed("key", key)) if isinstance(key, int | np.integer) else key
    return jax.random.split(key, n)


def create_stacked(model: Any, optimizers: Optimizer | Sequence[Optimizer], keys: jax.Array,
                   input_shape: Sequence[int]) -> TrainState:
    """Stacked ``TrainState``s: one per key, or one per optimizer (of one kind, e.g. several learning rates).

    Args:
        model: the layer every row trains.
        optimizers: one ``Optimizer`` for every row, or one per row (same kind and schedule structure).
        keys: one key per row (``seed_keys(key, n)``), or a single key that every row starts from (so rows
            that differ only in their optimizer start from the same params).
        input_shape: one example's shape.

    Returns:
        A ``TrainState`` whose leaves have a leading axis of rows; row ``i`` equals
        ``train.create(model, optimizers[i], keys[i], input_shape)``.

    Raises:
        ValueError: the numbers of optimizers and keys differ, or the optimizers' states differ in structure.

    Example::

        ts = train.create_stacked(model, [optim.adam(lr) for lr in (1e-3, 3e-3)], jax.random.key(0), (40,))
    """
    opts = [optimizers] if isinstance(optimizers, Optimizer) else list(optimizers)
    key_list = [keys] if jnp.ndim(keys) == 0 else list(keys)
    n = max(len(opts), len(key_list))
    if len(opts) not in (1, n) or len(key_list) not in (1, n):
        raise ValueError(f"create_stacked: got {len(opts)} optimizers and {len(key_list)} keys; pass one of "
                         f"either or as many of both.")
    return stack([create(model, opts[i % len(opts)], key_list[i % len(key_list)], input_shape) for i in range(n)])
