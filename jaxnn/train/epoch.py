"""One compiled epoch of one run or of N stacked runs: a ``lax.scan`` over minibatch indices on device.

Every training loop in jaxnn (``fit``, ``fit_stack``, sweeps) trains an epoch through :func:`run_epoch`, one
XLA program per epoch: the permutation, the scan over the full minibatches, the remainder, the metrics' means and
whatever the caller evaluates after the epoch (``after``: the evaluation sets, the recorders). A stacked epoch
vmaps the row step over the rows and guards it: a row whose loss or params stop being finite keeps its last
finite state, reports NaN and records ``diverged_at``; the select is per row, so no other row's bits change.
Checking or selecting every step would cost a pass over the whole state each step, so the epoch trains every row
unguarded and checks once at its end: the mean loss (NaN or Inf once any step's was) and the params (non-finite
params stay non-finite under any update). Rows that pass, and rows frozen before the epoch, are settled by one
select; only when a row diverged does :func:`run_epoch` replay the epoch with :func:`guarded_step` to recover
that row's last finite state and step (one compiled program more, on the first divergence). A row's step is
``train_step(row.hp)``: one mechanism for rows that differ only in their states (``hp == {}``) and for rows whose
step depends on per-row values (a sweep's ``l2`` or dropout rate).

Example::

    full, rest = train.epoch_batches(ts.key, epoch=0, n=len(x_train), batch_size=100)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxnn.train.placement import Local
from jaxnn.train.rows import Rows
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch, mean_metrics

TrainStep = Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
StepFor = Callable[[dict[str, jax.Array]], TrainStep]
After = Callable[[Rows, Any], dict[str, jax.Array]]


@functools.partial(jax.jit, static_argnames=("n", "batch_size"))
def epoch_batches(key: jax.Array, epoch: int | jax.Array, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of one epoch's full minibatches, ``(n // batch_size, batch_size)``, then the remainder.

    Every epoch is a fresh permutation of ``range(n)`` drawn from ``(key, epoch)``: minibatches without
    replacement, reproducible, and the same on resume. The trainers draw it inside their epoch program. The
    permutation sorts the indices once by 64 random bits each; ``jax.random.permutation`` sorts twice by 32,
    for the same rarity of ties (about ``n² / 2⁶⁵``), and XLA's sort is most of a shuffle's cost on a CPU
    (about 1 ms for 4,000 indices).

    Returns:
        The permutation reshaped to full batches, and the leftover indices (possibly empty).

    Example::

        full, rest = train.epoch_batches(jax.random.key(0), 0, n=103, batch_size=20)   # (5, 20), (3,)
    """
    bits = jax.random.bits(jax.random.fold_in(_shuffle_stream(key), epoch), (2, n), jnp.uint32)
    perm = jax.lax.sort((bits[0], bits[1], jnp.arange(n, dtype=jnp.int32)), num_keys=2)[2]
    full = n // batch_size
    return perm[: full * batch_size].reshape(full, batch_size), perm[full * batch_size:]


def _shuffle_stream(key: jax.Array) -> jax.Array:
    # A stream apart from the dropout keys, which are fold_in(key, step).
    return jax.random.split(key)[1]


@functools.cache
def constant_step(train_step: TrainStep) -> StepFor:
    """``train_step`` as a step builder that ignores ``hp`` (one object per step, so compilations are reused)."""
    return lambda hp: train_step


def guarded_step(step_for: StepFor, rows: Rows, batch: Batch) -> tuple[Rows, dict[str, jax.Array]]:
    """One row's step that freezes the row once its loss or params stop being finite, or once it stopped.

    The frozen row keeps its last finite state and reports NaN metrics; ``diverged_at`` records the step.
    ``jax.vmap`` it over stacked rows (:func:`row_step` does); the select is per row.

    Example::

        import functools

        step = jax.vmap(functools.partial(train.guarded_step, train.epoch.constant_step(step)), (0, None))
    """
    ts, metrics = step_for(rows.hp)(rows.ts, batch)
    healthy = jnp.isfinite(metrics["loss"]) & finite(ts.params)
    live = _live(rows)
    ok = live & healthy
    diverged_at = jnp.where(live & ~healthy, rows.ts.step, rows.diverged_at)
    metrics = {name: jnp.where(ok, value, jnp.nan) for name, value in metrics.items()}
    return rows._replace(ts=jax.tree.map(lambda new, old: jnp.where(ok, new, old), ts, rows.ts),
                         diverged_at=diverged_at), metrics


def finite(tree: Any) -> jax.Array:
    """Whether every leaf of ``tree`` is finite, as one traced bool."""
    # x - x is NaN exactly where x is NaN or Inf, cannot overflow, and XLA fuses it into one float reduction per
    # leaf, where isfinite materialises a bool array and reduces it in two passes.
    return jnp.isfinite(sum((jnp.sum(leaf - leaf) for leaf in jax.tree.leaves(tree)), jnp.zeros((), jnp.float32)))


def _live(rows: Rows) -> jax.Array:
    return (rows.diverged_at < 0) & ~rows.stopped


def select_rows(mask: jax.Array, new: Any, old: Any) -> Any:
    """Rows of ``new`` where the per-row ``mask`` holds, else the rows of ``old`` (trees with a leading row axis)."""
    return jax.tree.map(lambda a, b: jnp.where(mask.reshape(mask.shape + (1,) * (jnp.ndim(a) - 1)), a, b), new, old)


def _plain_step(step_for: StepFor, rows: Rows, batch: Batch) -> tuple[Rows, dict[str, jax.Array]]:
    ts, metrics = step_for(rows.hp)(rows.ts, batch)
    return rows._replace(ts=ts), metrics


@functools.cache
def row_step(step_for: StepFor, stacked: bool, per_row: bool) -> Callable[[Rows, Batch], tuple[Rows, dict]]:
    """The step over rows: guarded and vmapped when ``stacked`` (batch per row when ``per_row``), else plain."""
    if not stacked:
        return functools.partial(_plain_step, step_for)
    return jax.vmap(functools.partial(guarded_step, step_for), in_axes=(0, 0 if per_row else None))


@functools.cache
def _unguarded_rows(step_for: StepFor, per_row: bool) -> Callable[[Rows, Batch], tuple[Rows, dict]]:
    return jax.vmap(functools.partial(_plain_step, step_for), in_axes=(0, 0 if per_row else None))


def _scan(step: Callable) -> Callable:
    def run(rows: Rows, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[Rows, dict]:
        return jax.lax.scan(lambda rows, idx: step(rows, (x[idx], y[idx])), rows, batches)

    return run


@functools.cache
def scan_epoch(train_step: TrainStep) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """The compiled epoch of one ``train_step``: ``(ts, x, y, batches) -> (ts, metrics stacked per step)``.

    ``batches`` holds one row of example indices per step (:func:`epoch_batches`). Cached per ``train_step``.
    """
    return jax.jit(_scan(train_step))


def order(key: jax.Array, epoch: Any, n: int, batch_size: int, per_row: bool) -> tuple[jax.Array, jax.Array]:
    """An epoch's ``(full, rest)`` indices from one key, or with ``per_row`` from each row's key (stacked
    ``(steps, rows, batch)`` and ``(rows, rest)``, the layout the vmapped step scans over)."""
    if not per_row:
        return epoch_batches(key, epoch, n, batch_size)
    full, rest = jax.vmap(epoch_batches, in_axes=(0, None, None, None))(key, epoch, n, batch_size)
    return jnp.swapaxes(full, 0, 1), rest


class _Epoch(NamedTuple):
    """How an epoch is cut and laid out: everything about it that is static (cached programs hash on it)."""

    step_for: StepFor
    per_row: bool
    batch_size: int
    drop_last: bool
    placement: Any
    after: After | None

    def train(self, step: Callable, rows: Rows, x: jax.Array, y: jax.Array, key: jax.Array, epoch: Any
              ) -> tuple[Rows, dict[str, jax.Array]]:
        """The permutation, every full minibatch scanned, the remainder unless dropped, and the means."""
        full, rest = order(key, epoch, x.shape[0], self.batch_size, self.per_row)
        rows, values = _scan(step)(rows, x, y, self.placement.constrain(full, self.per_row))
        if self.drop_last or not rest.shape[-1]:
            return rows, mean_metrics(values)
        rows, last = step(rows, (x[rest], y[rest]))
        values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
        weights = jnp.concatenate([jnp.full(full.shape[0], self.batch_size, jnp.float32),
                                   jnp.full(1, rest.shape[-1], jnp.float32)])
        return rows, mean_metrics(values, weights)

    def record(self, rows: Rows, means: dict[str, jax.Array], extra: Any) -> dict[str, jax.Array]:
        return means if self.after is None else {**means, **self.after(rows, extra)}


@functools.cache
def _single_program(epoch: _Epoch) -> Callable:
    # One unstacked run needs no select: fit checks the epoch's outcome instead, at no per-step cost.
    step = functools.partial(_plain_step, epoch.step_for)

    def run(rows: Rows, x: jax.Array, y: jax.Array, key: jax.Array, number: Any, extra: Any) -> tuple[Rows, dict]:
        rows, means = epoch.train(step, rows, x, y, key, number)
        return rows, epoch.record(rows, means, extra)

    return epoch.placement.jit(run)


@functools.cache
def _checked_program(epoch: _Epoch) -> Callable:
    # The stacked epoch: every row trained unguarded, checked once at the end. Rows that were frozen at the start
    # or diverged during the epoch get their starting state back; the diverged ones are marked (diverged_at = the
    # epoch's first step) for the guarded replay, and the flag says whether there are any.
    step = _unguarded_rows(epoch.step_for, epoch.per_row)

    def run(rows: Rows, x: jax.Array, y: jax.Array, key: jax.Array, number: Any, extra: Any
            ) -> tuple[Rows, dict, jax.Array]:
        out, means = epoch.train(step, rows, x, y, key, number)
        live = _live(rows)
        bad = live & ~(jnp.isfinite(means["loss"]) & jax.vmap(finite)(out.ts.params))
        ok = live & ~bad
        out = out._replace(ts=select_rows(ok, out.ts, rows.ts),
                           diverged_at=jnp.where(bad, rows.ts.step, rows.diverged_at))
        means = {name: _where_rows(ok, value, jnp.nan) for name, value in means.items()}
        return out, epoch.record(out, means, extra), jnp.any(bad)

    return epoch.placement.jit(run)


@functools.cache
def _replay_program(epoch: _Epoch) -> Callable:
    # The rows that diverged during the checked epoch take their state, diverged_at and record from the epoch
    # replayed guarded from its start; every other row keeps what the checked epoch computed, bit for bit.
    step = row_step(epoch.step_for, True, epoch.per_row)

    def run(checked: Rows, record: dict, start: Rows, x: jax.Array, y: jax.Array, key: jax.Array, number: Any,
            extra: Any) -> tuple[Rows, dict]:
        replayed, means = epoch.train(step, start, x, y, key, number)
        fresh = _live(start) & (checked.diverged_at >= 0)
        rows = checked._replace(ts=select_rows(fresh, replayed.ts, checked.ts),
                                diverged_at=jnp.where(fresh, replayed.diverged_at, checked.diverged_at))
        new = epoch.record(rows, means, extra)
        return rows, {name: _where_rows(fresh, new[name], value) for name, value in record.items()}

    return epoch.placement.jit(run)


def _where_rows(mask: jax.Array, a: jax.Array, b: Any) -> jax.Array:
    return jnp.where(mask.reshape(mask.shape + (1,) * (jnp.ndim(a) - 1)), a, b)


def run_epoch(rows: Rows, step_for: StepFor, data: Batch, batch_size: int, epoch: int, *,
              stacked: bool, order_key: jax.Array | None = None, drop_last: bool = True,
              placement: Any = None, after: After | None = None, extra: Any = None
              ) -> tuple[Rows, dict[str, jax.Array]]:
    """One epoch of ``rows`` in one compiled program: a fresh permutation, every full minibatch in a
    ``lax.scan``, the remainder (when ``drop_last`` is False) as one more step, the means, and ``after``.

    Args:
        rows: the rows (stacked when ``stacked``, else one unstacked run).
        step_for: ``hp -> train_step`` (:func:`constant_step` for a plain step).
        data: ``(x, y)``, placed.
        batch_size: minibatch size.
        epoch: the epoch number the permutation is drawn for.
        stacked: vmap and guard the step over the rows' leading axis.
        order_key: every row walks the permutation of this key; None: each row its own ``ts.key`` (as ``fit``).
        drop_last: drop the last partial minibatch.
        placement: a :mod:`jaxnn.train.placement` layout; default one device.
        after: ``after(rows, extra) -> dict`` of more values to record from the epoch's final rows (the trainers
            evaluate their sets there), traced into the same program; hashable, so its compilation is reused.
        extra: the arrays ``after`` reads (evaluation sets), passed as an argument so that other values of the
            same shapes reuse the program.

    Returns:
        The new rows and the epoch's record: the example-weighted mean metrics (one value per row when
        stacked), then ``after``'s values.

    Example::

        rows = train.as_rows(train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 4), (40,)))
        rows, means = train.run_epoch(rows, train.epoch.constant_step(step), (x_train, y_train), 100, epoch=0,
                                      stacked=True)
    """
    x, y = data
    plan = _Epoch(step_for, stacked and order_key is None, batch_size, drop_last, placement or Local(), after)
    key = rows.ts.key if order_key is None else order_key
    if not stacked:
        rows, record = _single_program(plan)(rows, x, y, key, epoch, extra)
        return plan.placement.settle(rows), record
    start = rows
    rows, record, diverged = _checked_program(plan)(rows, x, y, key, epoch, extra)
    if bool(diverged):  # rare: only the guarded replay knows the diverged rows' last finite states
        rows, record = _replay_program(plan)(rows, record, start, x, y, key, epoch, extra)
    return plan.placement.settle(rows), record
