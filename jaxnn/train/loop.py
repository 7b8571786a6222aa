"""``fit``: one training run, the one-row case of the stacked trainer (:mod:`jaxnn.train.trainer`).

Each epoch is one ``lax.scan`` on device; the host only runs between epochs, to evaluate, record, stop early,
call the callbacks and checkpoint. With ``fit(..., devices=...)`` the loop is data parallel: the state and the
data are replicated on a 1-D mesh and each minibatch's index row is sharded over it, so every device gathers
and trains on its slice of the batch and XLA all-reduces the gradients (the batch mean spans the mesh). After
``jax.distributed.initialize()``, ``jax.devices()`` spans every process and the same code runs on all of them.

Example::

    ts, history = train.fit(ts, step, (x_train, y_train), epochs=5, batch_size=100,
                            eval_data=(x_val, y_val), eval_step=train.make_eval_step(model), patience=2)
    history["val_loss"], history["best_epoch"]
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import checkpoint, multihost
from jaxnn.data import dataset as data_checks
from jaxnn.train import checkpointing, early_stopping
from jaxnn.train.callbacks import Progress, as_callbacks
from jaxnn.train.early_stopping import EarlyStopping
from jaxnn.train.epoch import TrainStep, constant_step
from jaxnn.train.evaluation import EvalStep, constant_eval, eval_batch, evaluate_batches, split_batches
from jaxnn.train.placement import DataParallel
from jaxnn.train.rows import Rows
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch
from jaxnn.train.trainer import NONFINITE, Recorder, recorders_fn, run_rows


def evaluate(ts: TrainState, eval_step: EvalStep, data: Batch, batch_size: int | None = None) -> dict[str, float]:
    """Runs ``eval_step`` over ``data = (x, y)`` in batches and returns the example-weighted mean metrics.

    Raises:
        ValueError: ``data`` has no examples.

    Example::

        train.evaluate(ts, train.make_eval_step(model), (x_test, y_test), batch_size=500)["accuracy"]
    """
    x, y = check_data(data, "data")
    if x.shape[0] == 0:
        raise ValueError("evaluate: data has no examples; pass at least one (x, y) pair.")
    full, rest = split_batches((x, y), eval_batch(x.shape[0], batch_size or x.shape[0]))
    return {name: float(v) for name, v in evaluate_batches(ts, eval_step, full, rest).items()}


def fit(
    ts: TrainState,
    train_step: TrainStep,
    data: Batch,
    epochs: int,
    batch_size: int,
    eval_data: Batch | None = None,
    eval_step: EvalStep | None = None,
    *,
    eval_sets: Mapping[str, Batch] | None = None,
    drop_last: bool = True,
    patience: int | None = None,
    metric: str = "val_loss",
    mode: str = "min",
    restore_best: bool = True,
    recorders: Mapping[str, Recorder] | None = None,
    progress: bool = True,
    callbacks: Any = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    resume_hparams: str = "error",
    overwrite: bool = False,
    on_nonfinite: str = "stop",
    devices: Sequence[Any] | None = None,
) -> tuple[TrainState, dict[str, Any]]:
    """Trains for ``epochs`` epochs of shuffled minibatches; returns the final state and the history.

    Each epoch reshuffles ``data`` and walks it without replacement inside one compiled ``lax.scan``; the host
    runs only between epochs, to evaluate, report, stop early and checkpoint.

    Args:
        ts: the initial state (:func:`jaxnn.train.create`).
        train_step: from :func:`make_train_step`.
        data: ``(x, y)`` arrays (a ``jaxnn.data`` ``Split`` works) with examples on the leading axis.
        epochs: epochs to run (counting those a resumed checkpoint already ran).
        batch_size: minibatch size, ``1 <= batch_size <= len(x)``.
        eval_data: optional ``(x, y)``, the evaluation set ``"val"`` (shorthand for ``eval_sets={"val": ...}``).
        eval_step: from :func:`make_eval_step`; required with ``eval_data`` or ``eval_sets``.
        eval_sets: ``name -> (x, y)`` evaluated after every epoch, recorded as ``<name>_<metric>``.
        drop_last: drop the last partial minibatch of each epoch (default) or train on it as one more step.
        patience: stop after this many epochs without improvement of ``metric``; None never stops early.
        metric: the watched record name, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"`` (lower ``metric`` is better) or ``"max"``.
        restore_best: with ``patience``, return the state of the best epoch rather than the last.
        recorders: ``name -> fn(ts)`` recorded per epoch (e.g. ``{"hparams": train.record_hparams}``).
        progress: report through :class:`Progress` (a bar on a terminal, compact lines otherwise).
        callbacks: a :class:`Callback`, a function ``fn(epoch, record)`` or a list of them.
        checkpoint_dir: write a checkpoint there every ``checkpoint_every`` epochs (atomic; the last 3 are kept,
            and always the newest finite one). The run holds the folder's :func:`jaxnn.checkpoint.lock` while it
            trains, so a second writer is refused, and every checkpoint records the run's fingerprint (a digest
            of the data, ``ts.key``, ``batch_size``, ``drop_last``, the state's structure, the train and eval
            steps' traced programs and the early-stopping settings).
        checkpoint_every: epochs between checkpoints, an int >= 1.
        resume: continue from the newest finite checkpoint in ``checkpoint_dir`` if there is one. The result is
            bitwise identical to an uninterrupted run: shuffles derive from (key, epoch), dropout from (key, step).
            The checkpoint must hold this run (the same fingerprint), else ``fit`` raises naming what differs. A
            run that had ended (all ``epochs``, or stopped early) is returned as it ended, without training.
        resume_hparams: what to do when the checkpoint's hyperparameters differ from ``ts``'s: ``"error"``
            (default), ``"checkpoint"`` (keep the checkpoint's) or ``"current"`` (apply ``ts``'s values).
        overwrite: with ``resume=False``, delete the checkpoints of another run found in ``checkpoint_dir``
            instead of raising.
        on_nonfinite: after an epoch whose training loss or params are NaN or Inf: ``"stop"`` (default) ends the
            run there with a ``RuntimeWarning`` naming the epoch and step, returns the last finite state (from
            before that step) and sets ``history["stopped"] = "nonfinite"``, without checkpointing that epoch;
            ``"warn"`` warns once and trains on; ``"continue"`` checks nothing. The check costs one reduction
            per epoch; the step is found by replaying the failed epoch with the divergence guard.
        devices: train data parallel over these devices (e.g. ``jax.devices()``, every process's after
            ``jax.distributed.initialize()``): ``ts`` and ``data`` are replicated and every minibatch is split
            evenly over the devices, so ``batch_size`` must be a multiple of their number. The result equals the
            single-device run up to float reassociation of the gradient sums. With several processes, every
            process calls ``fit`` with the same arguments, and only process 0 writes checkpoints (the folder
            must be shared to resume). Evaluation runs replicated. Default None: the default device.

    Returns:
        ``(ts, history)``; history holds per-epoch lists ``epoch``, ``time`` (seconds since the start), the
        epoch's minibatch means (``loss``, ``accuracy``), ``<set>_<metric>`` for every evaluation set and the
        recorders' values, ``best_epoch``/``stopped_epoch`` with ``patience``, and unless ``on_nonfinite`` is
        ``"continue"`` ``diverged_at`` (the first non-finite step, -1 if none) and ``stopped`` after a stop.

    Raises:
        ValueError: an argument out of range (naming it and what is allowed), an early-stopping ``metric`` the
            run does not record, or a ``checkpoint_dir`` holding another run (see ``resume``, ``overwrite``),
            before anything trains.
        CheckpointLockedError: another process is writing to ``checkpoint_dir``.

    Warns:
        RuntimeWarning: the training loss or params became non-finite (see ``on_nonfinite``).

    Example::

        ts, history = train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100, eval_data=(x_val, y_val),
                                eval_step=train.make_eval_step(model), callbacks=print)
    """
    x, y = check_data(data, "data")
    sets = {**({"val": eval_data} if eval_data is not None else {}), **(eval_sets or {})}
    _check_flags(drop_last=drop_last, restore_best=restore_best, progress=progress, resume=resume,
                 overwrite=overwrite)
    _check_args(x.shape[0], epochs, batch_size, sets, eval_step, checkpoint_dir, checkpoint_every, resume,
                resume_hparams, on_nonfinite, devices)
    early_stopping.check(metric, mode, patience, "fit")
    check_remainder(ts, train_step, (x, y), batch_size, drop_last)
    sets = {name: check_data(xy, "eval_data" if name == "val" and eval_data is not None else f"eval_sets[{name!r}]")
            for name, xy in sets.items()}
    traced = _trace(ts, train_step, eval_step, (x, y), sets, batch_size, recorders) \
        if patience is not None or checkpoint_dir is not None else None
    if patience is not None and metric not in traced[2]:
        raise ValueError(f"fit: metric={metric!r} is not recorded by this run, so early stopping could not watch "
                         f"it; the run records {sorted(traced[2])}. Pass an evaluation set for <set>_* metrics "
                         f"(eval_data is the set 'val') or pick one of these.")
    with contextlib.nullcontext() if checkpoint_dir is None or not multihost.is_main() else \
            checkpoint.lock(checkpoint_dir):
        return _fit(ts, train_step, (x, y), epochs, batch_size, sets, eval_step, drop_last, patience, metric, mode,
                    restore_best, recorders, progress, callbacks, checkpoint_dir, checkpoint_every, resume,
                    resume_hparams, overwrite, on_nonfinite, devices, traced)


def _fit(ts: TrainState, train_step: TrainStep, data: Batch, epochs: int, batch_size: int, sets: dict,
         eval_step: EvalStep | None, drop_last: bool, patience: int | None, metric: str, mode: str,
         restore_best: bool, recorders: Any, progress: bool, callbacks: Any, checkpoint_dir: Any,
         checkpoint_every: int, resume: bool, resume_hparams: str, overwrite: bool, on_nonfinite: str,
         devices: Any, traced: tuple | None) -> tuple[TrainState, dict[str, Any]]:
    """``fit`` once its arguments are checked (and, with ``checkpoint_dir``, while it holds the folder)."""
    x, y = data
    stopper = None if patience is None else EarlyStopping(metric, mode, patience, 1)
    history, best, done, saver = None, ts, 0, None
    if checkpoint_dir is not None:
        fingerprint = checkpointing.fingerprint(ts, data, batch_size, drop_last, traced[0],
                                           {name: (sets[name], jaxpr) for name, jaxpr in traced[1].items()},
                                           None if patience is None else (patience, metric, mode))
        restored = checkpointing.resume(ts, checkpoint_dir, resume_hparams, fingerprint) if resume else \
            checkpointing.claim(ts, checkpoint_dir, fingerprint, overwrite)
        if restored is not None:
            ts, best, history, stopping_state, done = restored
            if stopper is not None and stopping_state is not None:
                stopper.load(stopping_state)
        saver = checkpointing.Checkpointer(checkpoint_dir, checkpoint_every, epochs, fingerprint)
    if history is not None and (done >= epochs or (stopper is not None and stopper.stopped_epoch.all())):
        return _result(ts, best, history, stopper, restore_best)  # the run had ended: nothing to train
    placement = None if devices is None else DataParallel(devices)
    if placement is not None:
        ts, best = placement.put((ts, best))
    steps_per_epoch = x.shape[0] // batch_size + (0 if drop_last or x.shape[0] % batch_size == 0 else 1)
    rows, best_rows, history = run_rows(
        _one_row(ts), constant_step(train_step), (x, y), epochs, batch_size, stacked=False,
        eval_for=None if eval_step is None else constant_eval(eval_step), eval_sets=sets,
        eval_batch_size=batch_size * 4, drop_last=drop_last, recorders=recorders, stopper=stopper,
        callbacks=as_callbacks(callbacks) + ([Progress("fit")] if progress and multihost.is_main() else []),
        placement=placement,
        first_epoch=int(ts.step) // steps_per_epoch - done, done=done, history=history, best=_one_row(best),
        after_epoch=None if saver is None else lambda e, r, b, h, s: saver(e, r.ts, b.ts, h, s),
        on_nonfinite=on_nonfinite)
    return _result(rows.ts, best_rows.ts, history, stopper, restore_best)


def _result(ts: TrainState, best: TrainState, history: dict[str, Any], stopper: EarlyStopping | None,
            restore_best: bool) -> tuple[TrainState, dict[str, Any]]:
    if stopper is not None:
        history["best_epoch"] = int(stopper.best_epoch[0])
        if stopper.stopped_epoch[0]:
            history["stopped_epoch"] = int(stopper.stopped_epoch[0])
    return (best if stopper is not None and restore_best else ts), history


def _trace(ts: TrainState, train_step: TrainStep, eval_step: EvalStep | None, data: Batch, sets: Mapping[str, Batch],
           batch_size: int, recorders: Mapping[str, Recorder] | None) -> tuple[Any, dict[str, Any], list[str]]:
    """The train step's jaxpr, each evaluation set's eval-step jaxpr and every name the run records, traced
    once from shapes (no FLOPs), for the run fingerprint and the early-stopping metric check."""
    def shapes(xy: Batch, size: int) -> tuple:
        return tuple(jax.ShapeDtypeStruct((min(size, a.shape[0]), *a.shape[1:]), a.dtype) for a in xy)

    train_jaxpr, (_, metrics) = jax.make_jaxpr(train_step, return_shape=True)(ts, shapes(data, batch_size))
    names, evals = list(metrics), {}
    for name, xy in sets.items():
        evals[name], out = jax.make_jaxpr(eval_step, return_shape=True)(ts, shapes(xy, 4 * batch_size))
        names += [f"{name}_{k}" for k in out]
    if recorders:
        names += list(jax.eval_shape(recorders_fn(tuple(recorders.items()), False), _one_row(ts)))
    return train_jaxpr, evals, names


def _one_row(ts: TrainState) -> Rows:
    return Rows(ts, {}, jnp.int32(-1), jnp.bool_(False))


def check_data(data: Any, name: str, num_classes: int | None = None) -> tuple[jax.Array, jax.Array]:
    """``data`` as a pair of device arrays with the same number of examples and values fit to train on.

    ``fit``, ``evaluate`` and ``sweep.run`` call it before they train or evaluate: NaN or infinite inputs or
    float targets would otherwise be reported as a diverged run, and an out-of-range integer label trains on a
    NaN loss. The values are checked where they are: NumPy arrays on the host before one copy to the device,
    device arrays on the device in one compiled reduction (only bad data is copied back, to find its first bad
    entry).

    Args:
        data: ``(x, y)`` arrays or a ``jaxnn.data`` ``Split``, examples on axis 0.
        name: what the data is called in the messages (``"data"``, ``"eval_data"``).
        num_classes: K, when known: integer labels must lie in ``[0, K)``; otherwise they must be ``>= 0``.

    Returns:
        ``(x, y)`` as JAX arrays.

    Raises:
        TypeError: ``data`` is not a pair.
        ValueError: ``x`` and ``y`` differ in length, or a value is bad (the message names the array, the index
            of its first bad entry and the value, see :func:`jaxnn.data.check_split`).

    Example::

        x, y = train.check_data((x_train, y_train), "data", num_classes=10)
    """
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be a pair (x, y) of arrays (or a jaxnn.data Split), got {type(data).__name__}."
        ) from None
    on_host = isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
    x, y = (_as_jax_dtype(x), _as_jax_dtype(y)) if on_host else (jnp.asarray(x), jnp.asarray(y))
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: x and y must have the same number of examples on axis 0, got x.shape={x.shape} "
                         f"and y.shape={y.shape}.")
    if num_classes is not None and not (isinstance(num_classes, int | np.integer) and num_classes >= 1
                                        and not isinstance(num_classes, bool)):
        raise ValueError(f"{name}: num_classes={num_classes!r} is not allowed: it must be None or an int >= 1.")
    if on_host:  # checked where the data is: NumPy here, then one copy to the device and no program compiled
        data_checks.check_split(x, y, name, num_classes)
        return jax.device_put(x), jax.device_put(y)
    if not bool(_values_ok(x, y, num_classes)):
        data_checks.check_split(np.asarray(x), np.asarray(y), name, num_classes)
    return x, y


def check_remainder(ts: TrainState, train_step: TrainStep, data: Batch, batch_size: int, drop_last: bool) -> None:
    """Traces ``train_step`` on the last, partial minibatch an epoch would train on, before anything trains.

    With ``drop_last=False`` and ``len(x) % batch_size`` examples left over, every epoch ends with one step on
    a smaller batch, which a layer may refuse (BatchNorm in training on a batch of one). The step is traced
    with :func:`jax.eval_shape` (no FLOPs, once per run), so such a run fails at the start, not after an epoch.

    Args:
        ts: the state the run starts from.
        train_step: the step ``fit`` will run.
        data: the training ``(x, y)`` (only shapes and dtypes are read).
        batch_size: the minibatch size.
        drop_last: ``fit``'s ``drop_last``; with True there is no partial batch and nothing is traced.

    Raises:
        ValueError: the step refuses the partial batch; the message says how many examples it holds and what
            to change, and carries the step's own error.

    Example::

        train.check_remainder(ts, step, (x_train, y_train), batch_size=64, drop_last=False)
    """
    x, y = data
    rest = x.shape[0] % batch_size
    if drop_last or rest == 0:
        return
    batch = tuple(jax.ShapeDtypeStruct((rest, *a.shape[1:]), a.dtype) for a in (x, y))
    try:
        jax.eval_shape(train_step, ts, batch)
    except ValueError as error:
        raise ValueError(
            f"drop_last=False: the last minibatch of every epoch holds {rest} example(s) ({x.shape[0]} examples, "
            f"batch_size={batch_size}), and the train step refuses it: {error}\nPass drop_last=True, or a "
            f"batch_size that leaves a larger remainder (or none)."
        ) from error


def _as_jax_dtype(array: np.ndarray) -> np.ndarray:
    # The dtype the device will hold (float64 -> float32 without x64), so a value out of its range checks as Inf.
    with np.errstate(over="ignore"):
        return array.astype(jax.dtypes.canonicalize_dtype(array.dtype), copy=False)


@functools.partial(jax.jit, static_argnames="num_classes")
def _values_ok(x: jax.Array, y: jax.Array, num_classes: int | None) -> jax.Array:
    # The device-side twin of data.check_split's conditions, which then locates what this finds.
    ok = jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(y))
    if jnp.issubdtype(y.dtype, jnp.integer):
        ok &= jnp.all(y >= 0) & (jnp.all(y < num_classes) if num_classes is not None else True)
    return ok


def _check_flags(**flags: Any) -> None:
    # A truthy string ("no", "false") would silently switch the option on.
    for name, value in flags.items():
        if not isinstance(value, bool | np.bool_):
            raise TypeError(f"fit: {name}={value!r} is not allowed: it must be True or False.")


def _check_args(n: int, epochs: int, batch_size: int, sets: Mapping[str, Any], eval_step: Any, checkpoint_dir: Any,
                checkpoint_every: Any, resume: bool, resume_hparams: str, on_nonfinite: str,
                devices: Sequence[Any] | None) -> None:
    if not (isinstance(batch_size, int | np.integer) and 1 <= batch_size <= n):
        raise ValueError(f"fit: batch_size={batch_size!r} is not allowed: it must be an int in [1, {n}] "
                         f"(the number of training examples).")
    if not (isinstance(epochs, int | np.integer) and epochs >= 0):
        raise ValueError(f"fit: epochs={epochs!r} is not allowed: it must be an int >= 0.")
    if sets and eval_step is None:
        raise ValueError("fit: eval_data was given without eval_step; pass eval_step=train.make_eval_step(model).")
    if not (isinstance(checkpoint_every, int) and checkpoint_every >= 1):
        raise ValueError(f"fit: checkpoint_every={checkpoint_every!r} is not allowed: it must be an int >= 1.")
    if checkpoint_dir is not None and os.path.exists(checkpoint_dir) and not os.path.isdir(checkpoint_dir):
        raise ValueError(f"fit: checkpoint_dir={str(checkpoint_dir)!r} is a file, not a folder; pass a folder "
                         f"path (it is created if missing).")
    if on_nonfinite not in NONFINITE:
        raise ValueError(f"fit: on_nonfinite={on_nonfinite!r} is not allowed: use 'stop', 'warn' or 'continue'.")
    if resume and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs checkpoint_dir, the folder the interrupted run wrote to.")
    if devices is not None and not (len(devices) >= 1 and batch_size % len(devices) == 0):
        raise ValueError(f"fit: devices has {len(devices)} devices, which do not split batch_size={batch_size} "
                         f"evenly: pass a batch_size that is a multiple of the device count (or devices=None).")
    if resume_hparams not in checkpointing.RESUME_HPARAMS:
        raise ValueError(f"fit: resume_hparams={resume_hparams!r} is not allowed: use 'error', 'checkpoint' or "
                         f"'current'.")
