"""Many runs at once: N stacked training runs in one compiled epoch, the loop under ``fit`` and sweeps.

:func:`fit_stack` trains a stacked ``TrainState`` (see :mod:`jaxnn.train.rows`): each row its own params,
BatchNorm state, optimizer state holding its hyperparameters, and key. Each epoch is one ``lax.scan`` on
device; between epochs the host evaluates every named set, runs the recorders, stops rows early and calls the
callbacks. A row whose loss or params stop being finite freezes at its last finite state and records
``diverged_at``; the other rows are bitwise unaffected. :func:`run_rows` is the loop itself, which ``fit``
(one unstacked row) and ``sweep`` (rows sharded over devices) share.

Recorded names: the epoch's minibatch means without prefix (``loss``, ``accuracy``), ``<set>_<metric>`` for
every evaluation set, and the recorders' names (a recorder ``name`` returning a dict contributes
``<name>_<key>``: ``recorders={"hparams": train.record_hparams}`` gives ``hparams_lr``, ``hparams_b1``...).
History values are arrays ``(rows, epochs)``; after a row diverged or stopped its values are NaN.

Example::

    model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    opts = [optim.sgd(lr, momentum=0.9) for lr in (0.01, 0.03, 0.1)]
    ts = train.create_stacked(model, opts, jax.random.key(0), (40,))
    step = train.make_train_step(model, optim.sgd(0.1, momentum=0.9))  # the rows' lr lives in their states
    ts, history = train.fit_stack(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                                  eval_sets={"val": (x_val, y_val), "test": (x_test, y_test)},
                                  eval_step=train.make_eval_step(model),
                                  recorders={"hparams": train.record_hparams})
    history["test_accuracy"]   # (3, 3): one curve per learning rate
    history["hparams_lr"]      # the learning rate each row had in effect after every epoch
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import multihost
from jaxnn.optim import current_hparams
from jaxnn.train import early_stopping
from jaxnn.train.callbacks import Callback, Progress, as_callbacks
from jaxnn.train.early_stopping import EarlyStopping
from jaxnn.train.epoch import StepFor, constant_step, finite, run_epoch, select_rows
from jaxnn.train.evaluation import EvalFor, constant_eval, prepare_sets, set_arrays, set_sizes, traced_sets
from jaxnn.train.placement import Local
from jaxnn.train.rows import Rows, as_rows, rows_in
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch

Recorder = Callable[[TrainState], Any]
NONFINITE = ("stop", "warn", "continue")


def record_hparams(ts: TrainState) -> dict[str, jax.Array]:
    """A recorder: every hyperparameter's value in effect (:func:`jaxnn.optim.current_hparams`)."""
    return current_hparams(ts.opt_state)


@functools.cache
def recorders_fn(recorders: tuple[tuple[str, Recorder], ...], stacked: bool) -> Callable[[Rows], dict]:
    def one(ts: TrainState) -> dict[str, jax.Array]:
        out = {}
        for name, fn in recorders:
            value = fn(ts)
            out.update({f"{name}_{k}": v for k, v in value.items()} if isinstance(value, Mapping) else {name: value})
        return out

    fn = jax.vmap(one) if stacked else one
    return jax.jit(lambda rows: fn(rows.ts))


_select = jax.jit(select_rows)  # the per-row restore-best copy


def run_rows(rows: Rows, step_for: StepFor, data: Batch, epochs: int, batch_size: int, *, stacked: bool = True,
             eval_for: EvalFor | None = None, eval_sets: Mapping[str, Batch] | None = None,
             eval_batch_size: int | None = None, order_key: jax.Array | None = None, drop_last: bool = True,
             recorders: Mapping[str, Recorder] | None = None, stopper: EarlyStopping | None = None,
             restore_best: bool = True, callbacks: list[Callback] | None = None, placement: Any = None,
             first_epoch: int = 0, done: int = 0, history: dict[str, Any] | None = None, best: Rows | None = None,
             after_epoch: Callable[..., None] | None = None, on_nonfinite: str = "continue",
             ) -> tuple[Rows, Rows, dict[str, Any]]:
    """The training loop every trainer shares: epochs ``done + 1 .. epochs`` of ``rows``.

    Args:
        rows: stacked :class:`Rows` (``stacked``) or one unstacked run.
        step_for: ``hp -> train_step`` for a row (:func:`~jaxnn.train.epoch.constant_step` for a plain step).
        data: ``(x, y)`` training arrays.
        epochs, batch_size, drop_last, order_key: as for :func:`fit_stack`.
        stacked: vmap and guard the step over the rows.
        eval_for: ``hp -> eval_step``; required with ``eval_sets``.
        eval_sets: ``name -> (x, y)`` evaluated after every epoch.
        eval_batch_size: evaluation batch; default ``4 * batch_size``.
        recorders: ``name -> fn(ts)`` recorded per epoch and row.
        stopper: per-row early stopping, or None.
        restore_best: with ``stopper``, also return each row's best state.
        callbacks: called between epochs.
        placement: a :mod:`jaxnn.train.placement` layout; default one device.
        first_epoch: the shuffle number of epoch ``done + 1`` minus ``done`` (epoch ``i`` draws
            ``first_epoch + i``).
        done: epochs already run (a resumed run); ``history`` and ``best`` then continue those.
        after_epoch: ``after_epoch(epoch, rows, best, history, stopper)`` after the callbacks (fit's
            checkpoints).
        on_nonfinite: for one unstacked run (stacked rows are always guarded), what an epoch whose loss or
            params end non-finite does: ``"stop"`` (the run ends at the last finite state, before the first
            non-finite step; ``history["stopped"] = "nonfinite"``), ``"warn"`` (a ``RuntimeWarning``, then
            training goes on) or ``"continue"`` (nothing is checked). Both first set ``history["diverged_at"]``
            (-1 while finite) and warn naming the epoch and step. The check is one reduction per epoch;
            the step is found by replaying that epoch with the stacked trainer's guard.

    Returns:
        ``(rows, best, history)``: the final rows, each row's best rows (the final ones without ``stopper``),
        and ``name -> list`` of per-epoch host values (``epoch``, ``time`` and every recorded name).

    Example::

        rows = train.as_rows(train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 4), (40,)))
        rows, _, history = train.run_rows(rows, train.epoch.constant_step(step), (x_train, y_train), epochs=3,
                                          batch_size=100)
    """
    placement = placement or Local()
    callbacks = callbacks or []
    x, y = placement.put(tuple(data))
    sets = prepare_sets(eval_sets or {}, eval_batch_size or 4 * batch_size, placement.put)
    check = not stacked and on_nonfinite != "continue"
    after = _after(eval_for, set_sizes(sets), tuple((recorders or {}).items()), stacked, check)
    history = history if history is not None else {"epoch": [], "time": []}
    best = rows if best is None else best
    start = time.perf_counter() - (history["time"][-1] if history["time"] else 0.0)
    for cb in callbacks:
        cb.on_train_begin({"epochs": epochs, "start_epoch": done, "rows": rows_in(rows.ts) if stacked else 1})
    # Without anything to tell between epochs, stacked epochs queue on the device and reach the host at the end.
    each_epoch = not stacked or bool(callbacks) or stopper is not None or after_epoch is not None
    watch = check
    if watch:
        history.setdefault("diverged_at", -1)
    queued = []
    for i in range(done, epochs):
        before = rows
        rows, device_record = run_epoch(rows, step_for, (x, y), batch_size, first_epoch + i, stacked=stacked,
                                        order_key=order_key, drop_last=drop_last, placement=placement,
                                        after=after, extra=set_arrays(sets))
        params_ok = device_record.pop(_PARAMS_FINITE) if check else None
        entry = (i + 1, time.perf_counter() - start, device_record, rows.diverged_at)
        if not each_epoch:
            queued.append(entry)
            continue
        record = _host_record(placement, entry, stacked, stopper)
        _append(history, i + 1, time.perf_counter() - start, record)
        if watch and not (np.isfinite(record.get("loss", 0.0)) and bool(params_ok)):
            watch, last = False, _replay(before, step_for, (x, y), batch_size, first_epoch + i, drop_last, placement)
            history["diverged_at"] = int(last.diverged_at)
            warnings.warn(_nonfinite_message(i + 1, history["diverged_at"], on_nonfinite), RuntimeWarning,
                          stacklevel=4)  # fit's caller
            if on_nonfinite == "stop":
                rows, history["stopped"] = last, "nonfinite"
                for cb in callbacks:
                    cb.on_epoch_end(i + 1, record)
                break
        if stopper is not None:
            improved, stopped = stopper.update(i + 1, record)
            if stacked:
                best = _select(placement.put_rows(improved), rows, best) if restore_best else rows
                rows = rows._replace(stopped=rows.stopped | placement.put_rows(stopped))
            elif improved[0]:
                best = rows
        for cb in callbacks:
            cb.on_epoch_end(i + 1, record)
        if after_epoch is not None:
            after_epoch(i + 1, rows, best, history, stopper)
        if stopper is not None and (stopper.stopped_epoch > 0).all():
            break
    for entry in queued:
        _append(history, entry[0], entry[1], _host_record(placement, entry, stacked, None))
    for cb in callbacks:
        cb.on_train_end(history)
    return rows, (best if stopper is not None else rows), history


_PARAMS_FINITE = "__params_finite__"  # what _after adds for an unstacked run under on_nonfinite; never recorded


@functools.cache
def _after(eval_for: EvalFor | None, sizes: tuple, recorders: tuple, stacked: bool, check: bool) -> Any:
    """What the epoch program computes from its final rows: the evaluation sets, the recorders and, with
    ``check``, whether the params are finite; None when nothing (cached, so the epoch's compilation is reused)."""
    if not (sizes or recorders or check):
        return None
    evaluate = traced_sets(eval_for, stacked, sizes) if sizes else None
    record = recorders_fn(recorders, stacked) if recorders else None

    def after(rows: Rows, sets: Mapping[str, Batch]) -> dict[str, jax.Array]:
        out = {} if evaluate is None else evaluate(rows, sets)
        out |= {} if record is None else record(rows)
        return out | ({_PARAMS_FINITE: finite(rows.ts.params)} if check else {})

    return after


def _replay(before: Rows, step_for: StepFor, data: Batch, batch_size: int, epoch: int, drop_last: bool,
            placement: Any) -> Rows:
    """Epoch ``epoch`` of the unstacked ``before`` again, as a stack of one guarded row: the last finite state
    and, in ``diverged_at``, the step that was not (only after an epoch that ended non-finite, so healthy runs
    never pay the guard's per-step select)."""
    one = jax.tree.map(lambda a: jnp.asarray(a)[None], before)
    rows, _ = run_epoch(one, step_for, data, batch_size, epoch, stacked=True, order_key=before.ts.key,
                        drop_last=drop_last, placement=placement)
    last = jax.tree.map(lambda a: a[0], rows)
    # Float reassociation under vmap could keep the replay finite; the epoch's start is then the last known good.
    return last if int(last.diverged_at) >= 0 else before._replace(diverged_at=before.ts.step)


def _nonfinite_message(epoch: int, step: int, on_nonfinite: str) -> str:
    then = ("training stopped there and returns the last finite state, from before that step"
            if on_nonfinite == "stop" else "training goes on (on_nonfinite='warn') and will not recover")
    return (f"fit: the training loss or params became NaN or Inf in epoch {epoch}, at step {step} (0-based, "
            f"counted over the whole run); {then}. Lower the learning rate, clip the gradients "
            f"(optim.clip_by_global_norm) or check the loss; on_nonfinite='continue' trains on without checking.")


def _host_record(placement: Any, entry: tuple, stacked: bool, stopper: EarlyStopping | None) -> dict[str, Any]:
    """An epoch's device record on the host: floats for one run; for stacked rows arrays, NaN where a row had
    diverged by the end of the epoch or had stopped before it (its frozen state is still evaluated)."""
    _, _, device_record, diverged_at = entry
    record, diverged_at = placement.to_host((device_record, diverged_at))
    if not stacked:
        return {k: float(v) if np.ndim(v) == 0 else v for k, v in record.items()}
    dead = (diverged_at >= 0) | (stopper.stopped_epoch > 0 if stopper is not None else False)
    return {k: np.where(dead.reshape(-1, *[1] * (v.ndim - 1)), np.nan, v) for k, v in record.items()}


def _append(history: dict[str, Any], epoch: int, elapsed: float, record: Mapping[str, Any]) -> None:
    history["epoch"].append(epoch)
    history["time"].append(elapsed)
    for name, value in record.items():
        history.setdefault(name, []).append(value)


def fit_stack(
    ts: TrainState,
    train_step: Callable,
    data: Batch,
    epochs: int,
    batch_size: int,
    *,
    hp: Mapping[str, Any] | None = None,
    eval_sets: Mapping[str, Batch] | None = None,
    eval_step: Callable | None = None,
    eval_batch_size: int | None = None,
    order_key: jax.Array | None = None,
    drop_last: bool = True,
    recorders: Mapping[str, Recorder] | None = None,
    patience: int | None = None,
    metric: str = "val_loss",
    mode: str = "min",
    restore_best: bool = True,
    callbacks: Any = None,
    progress: bool = True,
) -> tuple[TrainState, dict[str, Any]]:
    """Trains every row of a stacked ``TrainState`` together, one compiled epoch for all rows.

    Row ``i`` trains as ``train.fit`` would train ``unstack(ts)[i]`` (the same minibatches with
    ``order_key=None``, the same dropout keys), up to float reassociation of the vmapped arithmetic.

    Args:
        ts: stacked states (:func:`create_stacked`, :func:`stack`).
        train_step: a step from :func:`make_train_step` shared by all rows (their hyperparameters live in
            their optimizer states); with ``hp``, a builder ``train_step(hp_row) -> step`` instead, for rows
            whose step depends on values outside the state (``l2``, a dropout rate).
        data: ``(x, y)`` training arrays.
        epochs: epochs to run, an int >= 0.
        batch_size: minibatch size, ``1 <= batch_size <= len(x)``.
        hp: ``name -> (rows,)`` values passed to the builders; None for a plain ``train_step``.
        eval_sets: ``name -> (x, y)`` evaluated after every epoch, recorded as ``<name>_<metric>``.
        eval_step: from :func:`make_eval_step` (a builder with ``hp``); required with ``eval_sets``.
        eval_batch_size: evaluation batch; default ``4 * batch_size``.
        order_key: every row walks the minibatches of this key (common random numbers); None: each row
            shuffles with its own ``ts.key``, as ``fit`` does.
        drop_last: drop each epoch's last partial minibatch (default) or train on it as one more step.
        recorders: ``name -> fn(ts) -> value or dict`` recorded per epoch and row; a dict's entries are named
            ``<name>_<key>`` (``{"hparams": train.record_hparams}`` records ``hparams_lr``...).
        patience: per-row early stopping after this many epochs without improvement of ``metric``; a stopped
            row freezes. None never stops.
        metric: the watched record name; ``mode``: ``"min"`` or ``"max"``.
        restore_best: with ``patience``, return each row's best-epoch state.
        callbacks: a :class:`Callback`, a function ``fn(epoch, record)`` or a list of them.
        progress: add :class:`Progress` to the callbacks.

    Returns:
        ``(ts, history)``: history holds ``epoch`` and ``time`` lists, every recorded name as an array
        ``(rows, epochs)`` (NaN after a row diverged or stopped), ``diverged_at`` ``(rows,)`` (the step, -1
        while finite) and, with ``patience``, ``best_epoch`` and ``stopped_epoch`` ``(rows,)`` (0: never).

    Raises:
        ValueError: an argument out of range, naming it; ``ts`` not stacked; ``eval_sets`` without
            ``eval_step``; ``hp`` values not one per row.

    Example::

        ts = train.create_stacked(model, optim.adam(1e-3), train.seed_keys(0, 4), (40,))
        ts, history = train.fit_stack(ts, train.make_train_step(model, optim.adam(1e-3)), (x_train, y_train), epochs=3,
                                      batch_size=100)
        history["loss"].mean(axis=0)   # the seeds' mean curve
    """
    from jaxnn.train.loop import check_data  # loop imports this module

    x, y = check_data(data, "data")
    n_rows = rows_in(ts)
    _check(x.shape[0], epochs, batch_size, eval_sets, eval_step, hp, n_rows)
    early_stopping.check(metric, mode, patience, "fit_stack")
    sets = {name: check_data(xy, f"eval_sets[{name!r}]") for name, xy in (eval_sets or {}).items()}
    step_for = train_step if hp is not None else constant_step(train_step)
    eval_for = None if eval_step is None else (eval_step if hp is not None else constant_eval(eval_step))
    stopper = None if patience is None else EarlyStopping(metric, mode, patience, n_rows)
    callbacks = as_callbacks(callbacks) + ([Progress("fit_stack")] if progress and multihost.is_main() else [])
    first_epoch = int(np.asarray(ts.step).reshape(-1)[0]) // _steps_per_epoch(x.shape[0], batch_size, drop_last)
    rows, best, history = run_rows(as_rows(ts, hp), step_for, (x, y), epochs, batch_size, eval_for=eval_for,
                                   eval_sets=sets, eval_batch_size=eval_batch_size, order_key=order_key,
                                   drop_last=drop_last, recorders=recorders, stopper=stopper,
                                   restore_best=restore_best, callbacks=callbacks, first_epoch=first_epoch)
    out = {k: (v if k in ("epoch", "time") else np.stack(v, axis=1)) for k, v in history.items()}
    out["diverged_at"] = np.asarray(rows.diverged_at)
    if stopper is not None:
        out["best_epoch"], out["stopped_epoch"] = stopper.best_epoch, stopper.stopped_epoch
    return (best if stopper is not None and restore_best else rows).ts, out


def _steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size + (0 if drop_last or n % batch_size == 0 else 1)


def _check(n: int, epochs: Any, batch_size: Any, eval_sets: Any, eval_step: Any, hp: Any, rows: int) -> None:
    if not (isinstance(batch_size, int | np.integer) and 1 <= batch_size <= n):
        raise ValueError(f"fit_stack: batch_size={batch_size!r} is not allowed: it must be an int in [1, {n}] "
                         f"(the number of training examples).")
    if not (isinstance(epochs, int | np.integer) and epochs >= 0):
        raise ValueError(f"fit_stack: epochs={epochs!r} is not allowed: it must be an int >= 0.")
    if eval_sets and eval_step is None:
        raise ValueError("fit_stack: eval_sets were given without eval_step; pass "
                         "eval_step=train.make_eval_step(model).")
    for name, value in (hp or {}).items():
        if np.shape(value)[:1] != (rows,):
            raise ValueError(f"fit_stack: hp[{name!r}] has shape {np.shape(value)}; it must hold one value per "
                             f"row, shape ({rows}, ...).")
