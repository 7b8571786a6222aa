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


def split_batches(data: Batch, batch_size: int) -> tuple[Batch, Batch]:
    """``(x, y)`` in order as full batches ``(batches, batch_size, ...)`` plus the remainder ``(rest, ...)``.

    Pure slicing with static shapes, so it also runs inside a jitted program (as :func:`evaluate_sets` does).
    """
    x, y = data
    full = x.shape[0] // batch_size * batch_size
    as_batches = lambda a: a[:full].reshape(-1, batch_size, *a.shape[1:])  # noqa: E731
    return (as_batches(x), as_batches(y)), (x[full:], y[full:])


def _weighted_means(eval_step: EvalStep, ts: Any, full: Batch, rest: Batch) -> dict[str, jax.Array]:
    values = jax.lax.map(lambda batch: eval_step(ts, batch), full)
    weights = jnp.full(full[0].shape[0], full[0].shape[1], jnp.float32)
    if rest[0].shape[0]:
        last = eval_step(ts, rest)
        values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
        weights = jnp.concatenate([weights, jnp.full(1, rest[0].shape[0], jnp.float32)])
    return mean_metrics(values, weights)


# One jit per eval step object, so that its compilations are reused.
_compiled_means = functools.cache(lambda eval_step: jax.jit(functools.partial(_weighted_means, eval_step)))


def evaluate_batches(ts: Any, eval_step: EvalStep, full: Batch, rest: Batch) -> dict[str, jax.Array]:
    """Example-weighted mean metrics of ``eval_step`` over full batches and a remainder, in one compiled program
    (a ``lax.map`` over the full batches, then the remainder), as arrays: works for one run and for a vmapped
    stack of runs (one value per run)."""
    return _compiled_means(eval_step)(ts, full, rest)


@functools.cache
def _rows_eval(eval_for: EvalFor, stacked: bool) -> Callable[[Rows, Batch], dict[str, jax.Array]]:
    def one(rows: Rows, batch: Batch) -> dict[str, jax.Array]:
        return eval_for(rows.hp)(rows.ts, batch)

    return jax.vmap(one, in_axes=(0, None)) if stacked else one


@functools.cache
def constant_eval(eval_step: EvalStep) -> EvalFor:
    """``eval_step`` as a builder that ignores ``hp`` (one object per step, so compilations are reused)."""
    return lambda hp: eval_step


def eval_batch(n: int, batch_size: int) -> int:
    """The batch that evaluates ``n`` examples in batches of at most ``batch_size``: ``n / k`` for the fewest
    batches ``k`` that divide ``n`` evenly and hold at least half of ``batch_size`` each, so that no smaller
    last batch compiles a second copy of the eval step; else ``min(batch_size, n)`` and a remainder.

    Example::

        from jaxnn.train.evaluation import eval_batch

        eval_batch(1000, 400)   # 250: four equal batches instead of 400, 400 and 200
        eval_batch(997, 400)    # 400: 997 is prime, so two full batches and a remainder of 197
    """
    size = min(batch_size, n)
    for k in range(-(-n // size), 2 * n // size + 1):
        if n % k == 0:
            return n // k
    return size


def prepare_sets(sets: Mapping[str, Batch], batch_size: int, put: Callable[[Any], Any]
                 ) -> dict[str, tuple[Batch, int]]:
    """Each named set placed with ``put`` once per run, with its evaluation batch (:func:`eval_batch`)."""
    return {name: (put(tuple(xy)), eval_batch(xy[0].shape[0], batch_size)) for name, xy in sets.items()}


def evaluate_sets(rows: Rows, eval_for: EvalFor, sets: Mapping[str, tuple[Batch, int]], stacked: bool
                  ) -> dict[str, jax.Array]:
    """``<set>_<metric>`` for every prepared set (:func:`prepare_sets`), one value per row when stacked.

    Every set is cut into batches and evaluated in one compiled program: nothing runs between the programs.
    """
    return _compiled_sets(_rows_eval(eval_for, stacked))(rows, set_arrays(sets), set_sizes(sets))


def set_arrays(sets: Mapping[str, tuple[Batch, int]]) -> dict[str, Batch]:
    """The placed ``(x, y)`` of every prepared set (:func:`prepare_sets`)."""
    return {name: xy for name, (xy, _) in sets.items()}


def set_sizes(sets: Mapping[str, tuple[Batch, int]]) -> tuple[tuple[str, int], ...]:
    """Every prepared set's name and evaluation batch, hashable (what a compiled evaluation depends on)."""
    return tuple((name, size) for name, (_, size) in sets.items())


@functools.cache
def traced_sets(eval_for: EvalFor, stacked: bool, sizes: tuple[tuple[str, int], ...]
                ) -> Callable[[Rows, Mapping[str, Batch]], dict[str, jax.Array]]:
    """:func:`evaluate_sets` as a function ``(rows, set_arrays) -> metrics`` to trace into a larger program (the
    trainers' epoch); one object per arguments, so that program's compilation is reused."""
    return functools.partial(_all_sets, _rows_eval(eval_for, stacked), sizes=sizes)


def _all_sets(step: Callable, rows: Rows, data: Mapping[str, Batch], sizes: tuple[tuple[str, int], ...]
              ) -> dict[str, jax.Array]:
    out = {}
    for name, size in sizes:
        means = _weighted_means(step, rows, *split_batches(data[name], size))
        out.update({f"{name}_{k}": v for k, v in means.items()})
    return out


_compiled_sets = functools.cache(lambda step: jax.jit(functools.partial(_all_sets, step), static_argnums=2))
