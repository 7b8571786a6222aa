"""Evaluation on any number of named sets, for one run or stacked rows, in compiled batches.

Metric names are ``<set>_<metric>`` (``val_loss``, ``test_accuracy``); the set names are the user's.

Example::

    metrics = train.evaluate(ts, train.make_eval_step(model), (x_test, y_test), batch_size=500)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.train.rows import Rows
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch, mean_metrics

EvalStep = Callable[[TrainState, Batch], dict[str, jax.Array]]
EvalFor = Callable[[dict[str, jax.Array]], EvalStep]


@functools.cache
def _map_eval(eval_step: EvalStep) -> Callable[..., dict[str, jax.Array]]:
    def run(ts: Any, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        return jax.lax.map(lambda batch: eval_step(ts, batch), (x, y))

    return jax.jit(run)


_jit = functools.cache(jax.jit)


def split_batches(data: Batch, batch_size: int) -> tuple[Batch, Batch]:
    """``(x, y)`` in order as full batches ``(batches, batch_size, ...)`` plus the remainder ``(rest, ...)``."""
    x, y = data
    full = x.shape[0] // batch_size * batch_size
    as_batches = lambda a: a[:full].reshape(-1, batch_size, *a.shape[1:])  # noqa: E731
    return (as_batches(x), as_batches(y)), (x[full:], y[full:])


def evaluate_batches(ts: Any, eval_step: EvalStep, full: Batch, rest: Batch) -> dict[str, jax.Array]:
    """Example-weighted mean metrics of ``eval_step`` over full batches (one compiled ``lax.map``) and a
    remainder, as arrays: works for one run and for a vmapped stack of runs (one value per run)."""
    values = _map_eval(eval_step)(ts, *full)
    weights = jnp.full(full[0].shape[0], full[0].shape[1], jnp.float32)
    if rest[0].shape[0]:
        last = _jit(eval_step)(ts, rest)
        values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
        weights = jnp.concatenate([weights, jnp.full(1, rest[0].shape[0], jnp.float32)])
    return mean_metrics(values, weights)


@functools.cache
def _rows_eval(eval_for: EvalFor, stacked: bool) -> Callable[[Rows, Batch], dict[str, jax.Array]]:
    def one(rows: Rows, batch: Batch) -> dict[str, jax.Array]:
        return eval_for(rows.hp)(rows.ts, batch)

    return jax.vmap(one, in_axes=(0, None)) if stacked else one


@functools.cache
def constant_eval(eval_step: EvalStep) -> EvalFor:
    """``eval_step`` as a builder that ignores ``hp`` (one object per step, so compilations are reused)."""
    return lambda hp: eval_step


def prepare_sets(sets: Mapping[str, Batch], batch_size: int, put: Callable[[Any], Any]
                 ) -> dict[str, tuple[Batch, Batch]]:
    """Each named set split into full batches and a remainder once per run, placed with ``put``."""
    return {name: put(split_batches(xy, min(batch_size, xy[0].shape[0]))) for name, xy in sets.items()}


def evaluate_sets(rows: Rows, eval_for: EvalFor, sets: Mapping[str, tuple[Batch, Batch]], stacked: bool
                  ) -> dict[str, jax.Array]:
    """``<set>_<metric>`` for every prepared set (:func:`prepare_sets`), one value per row when stacked."""
    step = _rows_eval(eval_for, stacked)
    out = {}
    for name, (full, rest) in sets.items():
        out.update({f"{name}_{k}": v for k, v in evaluate_batches(rows, step, full, rest).items()})
    return out
