"""One compiled epoch of one run or of N stacked runs: a ``lax.scan`` over minibatch indices on device.

Every training loop in jaxnn (``fit``, ``fit_stack``, sweeps) trains an epoch through :func:`run_epoch`. A
stacked epoch vmaps the row step over the rows and guards it: a row whose loss or params stop being finite
keeps its last finite state, reports NaN and records ``diverged_at``; the select is per row, so no other row's
bits change. Selecting every step would cost a pass over the whole state (about a fifth of a step), so the epoch
only checks each step, one reduction per param leaf, and selects once at its end; only when a row diverged
during the epoch does :func:`run_epoch` replay it with :func:`guarded_step` to recover that row's last finite
state (one compiled program more, on the first divergence). A row's step is ``train_step(row.hp)``: one
mechanism for rows that differ only in their states (``hp == {}``) and for rows whose step depends on per-row
values (a sweep's ``l2`` or dropout rate).

Example::

    full, rest = train.epoch_batches(ts.key, epoch=0, n=len(x_train), batch_size=100)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from jaxnn.train.placement import Local
from jaxnn.train.rows import Rows
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch, mean_metrics

TrainStep = Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
StepFor = Callable[[dict[str, jax.Array]], TrainStep]


# Jitted because it runs on the host between epochs: eagerly, its few small ops cost more than a short epoch.
@functools.partial(jax.jit, static_argnames=("n", "batch_size"))
def epoch_batches(key: jax.Array, epoch: int | jax.Array, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of one epoch's full minibatches, ``(n // batch_size, batch_size)``, then the remainder.

    Every epoch is a fresh permutation of ``range(n)`` drawn from ``(key, epoch)``: minibatches without
    replacement, reproducible, and the same on resume.

    Returns:
        The permutation reshaped to full batches, and the leftover indices (possibly empty).

    Example::

        full, rest = train.epoch_batches(jax.random.key(0), 0, n=103, batch_size=20)   # (5, 20), (3,)
    """
    perm = jax.random.permutation(jax.random.fold_in(_shuffle_stream(key), epoch), n)
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
    checked, metrics = _checked_step(step_for, rows, batch)
    ok = _live(rows) & (checked.diverged_at < 0)
    return checked._replace(ts=jax.tree.map(lambda new, old: jnp.where(ok, new, old), checked.ts, rows.ts)), metrics


def _checked_step(step_for: StepFor, rows: Rows, batch: Batch) -> tuple[Rows, dict[str, jax.Array]]:
    # The guard's check without its select: records the first step whose loss or params are not finite and
    # reports NaN metrics from there on, but keeps whatever state the step made.
    ts, metrics = step_for(rows.hp)(rows.ts, batch)
    finite = jnp.isfinite(metrics["loss"]) & jnp.isfinite(_nonfinite_sum(ts.params))
    live = _live(rows)
    ok = live & finite
    diverged_at = jnp.where(live & ~finite, rows.ts.step, rows.diverged_at)
    metrics = {name: jnp.where(ok, value, jnp.nan) for name, value in metrics.items()}
    return rows._replace(ts=ts, diverged_at=diverged_at), metrics


def _nonfinite_sum(tree: Any) -> jax.Array:
    # NaN when a leaf holds a NaN or an Inf, else 0: x·0 cannot overflow, and XLA fuses the product into one float
    # reduction per leaf, where isfinite materialises a bool array and reduces it in two passes.
    return sum((jnp.sum(leaf - leaf) for leaf in jax.tree.leaves(tree)), jnp.zeros((), jnp.float32))


def _live(rows: Rows) -> jax.Array:
    return (rows.diverged_at < 0) & ~rows.stopped


def select_rows(mask: jax.Array, new: Any, old: Any) -> Any:
    """Rows of ``new`` where the per-row ``mask`` holds, else the rows of ``old`` (trees with a leading row axis)."""
    return jax.tree.map(lambda a, b: jnp.where(mask.reshape(mask.shape + (1,) * (jnp.ndim(a) - 1)), a, b), new, old)


def _plain_step(step_for: StepFor, rows: Rows, batch: Batch) -> tuple[Rows, dict[str, jax.Array]]:
    # A single run needs no select: fit stops on a non-finite epoch instead, at no per-step cost.
    ts, metrics = step_for(rows.hp)(rows.ts, batch)
    return rows._replace(ts=ts), metrics


@functools.cache
def row_step(step_for: StepFor, stacked: bool, per_row: bool) -> Callable[[Rows, Batch], tuple[Rows, dict]]:
    """The step over rows: guarded and vmapped when ``stacked`` (batch per row when ``per_row``), else plain."""
    if not stacked:
        return functools.partial(_plain_step, step_for)
    return jax.vmap(functools.partial(guarded_step, step_for), in_axes=(0, 0 if per_row else None))


@functools.cache
def _checked_rows(step_for: StepFor, per_row: bool) -> Callable[[Rows, Batch], tuple[Rows, dict]]:
    return jax.vmap(functools.partial(_checked_step, step_for), in_axes=(0, 0 if per_row else None))


def _scan(step: Callable) -> Callable:
    def run(rows: Rows, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[Rows, dict]:
        return jax.lax.scan(lambda rows, idx: step(rows, (x[idx], y[idx])), rows, batches)

    return run


def _checked_scan(step: Callable) -> Callable:
    # The stacked epoch: every step checked, none selected. Rows frozen at the start get their state back at the
    # end (one select per epoch instead of one per step); so do rows that diverged during the epoch, whose last
    # finite state run_epoch recovers by replaying the epoch guarded. The flag says whether any did.
    scan = _scan(step)

    def run(rows: Rows, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[Rows, dict, jax.Array]:
        out, values = scan(rows, x, y, batches)
        live = _live(rows)
        out = out._replace(ts=select_rows(live & (out.diverged_at < 0), out.ts, rows.ts))
        return out, values, jnp.any(live & (out.diverged_at >= 0))

    return run


@functools.cache
def _compiled_checked_epoch(step: Callable, placement: Any) -> Callable:
    return placement.jit(_checked_scan(step), batches_at=3)


def _adopt(rows: Rows, values: dict, start: Rows, replayed: Rows, replayed_values: dict) -> tuple[Rows, dict]:
    # The rows that diverged during the epoch take their state, diverged_at and metrics from the guarded replay;
    # every other row keeps what the checked epoch computed, bit for bit.
    fresh = _live(start) & (rows.diverged_at >= 0)
    rows = rows._replace(ts=select_rows(fresh, replayed.ts, rows.ts),
                         diverged_at=jnp.where(fresh, replayed.diverged_at, rows.diverged_at))
    return rows, jax.tree.map(lambda new, old: jnp.where(fresh, new, old), replayed_values, values)


@functools.cache
def _compiled_epoch(step: Callable, placement: Any) -> Callable:
    return placement.jit(_scan(step), batches_at=3)


@functools.cache
def _compiled_step(step: Callable, placement: Any) -> Callable:
    return placement.jit(step)


def scan_epoch(train_step: TrainStep) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """The compiled epoch of one ``train_step``: ``(ts, x, y, batches) -> (ts, metrics stacked per step)``.

    ``batches`` holds one row of example indices per step (:func:`epoch_batches`). Cached per ``train_step``.
    """
    return _compiled_epoch(train_step, Local())


def order(key: jax.Array, epoch: int, n: int, batch_size: int, per_row: bool) -> tuple[jax.Array, jax.Array]:
    """An epoch's ``(full, rest)`` indices from one key, or with ``per_row`` from each row's key (stacked
    ``(steps, rows, batch)`` and ``(rows, rest)``, the layout the vmapped step scans over)."""
    if not per_row:
        return epoch_batches(key, epoch, n, batch_size)
    return _per_row_order(key, epoch, n, batch_size)


@functools.partial(jax.jit, static_argnames=("n", "batch_size"))
def _per_row_order(keys: jax.Array, epoch: Any, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    full, rest = jax.vmap(epoch_batches, in_axes=(0, None, None, None))(keys, epoch, n, batch_size)
    return jnp.swapaxes(full, 0, 1), rest


def run_epoch(rows: Rows, step_for: StepFor, data: Batch, batch_size: int, epoch: int, *,
              stacked: bool, order_key: jax.Array | None = None, drop_last: bool = True,
              placement: Any = None) -> tuple[Rows, dict[str, jax.Array]]:
    """One epoch of ``rows``: a fresh permutation, every full minibatch in one compiled ``lax.scan``, and the
    remainder (when ``drop_last`` is False) as one more step.

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

    Returns:
        The new rows and the epoch's example-weighted mean metrics (one value per row when stacked).

    Example::

        rows = train.as_rows(train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 4), (40,)))
        rows, means = train.run_epoch(rows, train.epoch.constant_step(step), (x_train, y_train), 100, epoch=0,
                                      stacked=True)
    """
    placement = placement or Local()
    x, y = data
    per_row = stacked and order_key is None
    full, rest = order(rows.ts.key if order_key is None else order_key, epoch, x.shape[0], batch_size, per_row)
    step = row_step(step_for, stacked, per_row)
    batches = placement.batches(full, per_row)
    if stacked:
        start = rows
        rows, values, diverged = _compiled_checked_epoch(_checked_rows(step_for, per_row), placement)(
            rows, x, y, batches)
        if bool(diverged):  # rare: only the guarded replay knows the diverged rows' last finite states
            replayed, replayed_values = _compiled_epoch(step, placement)(start, x, y, batches)
            rows, values = _jit(_adopt)(rows, values, start, replayed, replayed_values)
    else:
        rows, values = _compiled_epoch(step, placement)(rows, x, y, batches)
    rows = placement.settle(rows)
    if drop_last or not rest.shape[-1]:
        return rows, _jit(mean_metrics)(values)
    rows, last = _compiled_step(step, placement)(rows, (x[rest], y[rest]))
    values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
    weights = jnp.concatenate([jnp.full(full.shape[0], batch_size, jnp.float32),
                               jnp.full(1, rest.shape[-1], jnp.float32)])
    return placement.settle(rows), _jit(mean_metrics)(values, weights)


# One jit wrapper per function, so repeated calls with the same function reuse its compilation.
_jit = functools.cache(jax.jit)
