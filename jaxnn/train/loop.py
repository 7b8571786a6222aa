"""The compiled training loop: each epoch is one ``lax.scan`` on device; the host only runs between epochs.

With ``fit(..., devices=...)`` the loop is data parallel: the state and the data are replicated on a 1-D mesh
and each minibatch's index row is sharded over it, so every device gathers and trains on its slice of the batch
and XLA all-reduces the gradients (the batch mean spans the mesh). After ``jax.distributed.initialize()``,
``jax.devices()`` spans every process and the same code runs on all of them.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

from jaxnn import checkpoint, multihost
from jaxnn.data import dataset as data_checks
from jaxnn.optim import hparams, set_hparams
from jaxnn.train.state import TrainState
from jaxnn.train.steps import Batch, mean_metrics

TrainStep = Callable[[TrainState, Batch], tuple[TrainState, dict[str, jax.Array]]]
EvalStep = Callable[[TrainState, Batch], dict[str, jax.Array]]


# Jitted because it runs on the host between epochs: eagerly, its few small ops cost more than a short epoch.
@functools.partial(jax.jit, static_argnames=("n", "batch_size"))
def epoch_batches(key: jax.Array, epoch: int | jax.Array, n: int, batch_size: int) -> tuple[jax.Array, jax.Array]:
    """Indices of one epoch's full minibatches, ``(n // batch_size, batch_size)``, then the remainder.

    Every epoch is a fresh permutation of ``range(n)`` drawn from ``(key, epoch)``: minibatches without
    replacement, reproducible, and the same on resume. Returns the permutation reshaped to full batches plus
    the leftover indices (possibly empty) as a tuple.
    """
    perm = jax.random.permutation(jax.random.fold_in(_shuffle_stream(key), epoch), n)
    full = n // batch_size
    return perm[: full * batch_size].reshape(full, batch_size), perm[full * batch_size:]


def _shuffle_stream(key: jax.Array) -> jax.Array:
    # A stream apart from the dropout keys, which are fold_in(key, step).
    return jax.random.split(key)[1]


def _epoch(train_step: TrainStep) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    def run(ts: TrainState, x: jax.Array, y: jax.Array, batches: jax.Array) -> tuple[TrainState, dict]:
        return jax.lax.scan(lambda ts, idx: train_step(ts, (x[idx], y[idx])), ts, batches)

    return run


@functools.cache
def scan_epoch(train_step: TrainStep) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """The compiled epoch of ``train_step``: ``(ts, x, y, batches) -> (ts, metrics stacked per step)``.

    ``batches`` holds one row of example indices per step (:func:`epoch_batches`); the whole epoch is one
    ``lax.scan``. Cached per ``train_step`` object, so every epoch (and every ``fit`` call) with the same step
    reuses one compilation. ``train_step`` may be vmapped over configurations (the sweep engine does that).
    """
    return jax.jit(_epoch(train_step))


@functools.cache
def _sharded_epoch(train_step: TrainStep, mesh: Mesh) -> Callable[..., tuple[TrainState, dict[str, jax.Array]]]:
    """:func:`scan_epoch` over ``mesh``: state, data and metrics replicated, each minibatch sharded over devices."""
    replicated, batches = NamedSharding(mesh, P()), NamedSharding(mesh, P(None, "batch"))
    return jax.jit(_epoch(train_step), in_shardings=(replicated, replicated, replicated, batches),
                   out_shardings=replicated)


@functools.cache
def _replicated_step(train_step: TrainStep, mesh: Mesh) -> TrainStep:
    """``train_step`` for a remainder batch, which need not split evenly: computed whole on every device."""
    return jax.jit(train_step, out_shardings=NamedSharding(mesh, P()))


# One jit wrapper per function, so repeated calls with the same step reuse its compilation.
_jit = functools.cache(jax.jit)


@functools.cache
def _map_eval(eval_step: EvalStep) -> Callable[..., dict[str, jax.Array]]:
    def run(ts: TrainState, x: jax.Array, y: jax.Array) -> dict[str, jax.Array]:
        return jax.lax.map(lambda batch: eval_step(ts, batch), (x, y))

    return jax.jit(run)


def split_batches(data: Batch, batch_size: int) -> tuple[Batch, Batch]:
    """``(x, y)`` in order as full batches ``(batches, batch_size, ...)`` plus the remainder ``(rest, ...)``."""
    x, y = data
    full = x.shape[0] // batch_size * batch_size
    as_batches = lambda a: a[:full].reshape(-1, batch_size, *a.shape[1:])  # noqa: E731
    return (as_batches(x), as_batches(y)), (x[full:], y[full:])


def evaluate_batches(ts: TrainState, eval_step: EvalStep, full: Batch, rest: Batch) -> dict[str, jax.Array]:
    """Example-weighted mean metrics of ``eval_step`` over full batches (one compiled ``lax.map``) and a
    remainder, as arrays: works for one run and for a vmapped stack of runs (one value per run)."""
    values = _map_eval(eval_step)(ts, *full)
    weights = jnp.full(full[0].shape[0], full[0].shape[1], jnp.float32)
    if rest[0].shape[0]:
        last = _jit(eval_step)(ts, rest)
        values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
        weights = jnp.concatenate([weights, jnp.full(1, rest[0].shape[0], jnp.float32)])
    return mean_metrics(values, weights)


def evaluate(ts: TrainState, eval_step: EvalStep, data: Batch, batch_size: int | None = None) -> dict[str, float]:
    """Runs ``eval_step`` over ``data = (x, y)`` in batches and returns the example-weighted mean metrics."""
    x, y = check_data(data, "data")
    if x.shape[0] == 0:
        raise ValueError("evaluate: data has no examples; pass at least one (x, y) pair.")
    full, rest = split_batches((x, y), min(batch_size or x.shape[0], x.shape[0]))
    return {name: float(v) for name, v in evaluate_batches(ts, eval_step, full, rest).items()}


def train_epoch(ts: TrainState, train_step: TrainStep, data: Batch, batch_size: int, epoch: int,
                drop_last: bool = True, mesh: Mesh | None = None) -> tuple[TrainState, dict[str, float]]:
    """One epoch: a fresh permutation, every full minibatch in one compiled ``lax.scan``, and the remainder
    batch (when ``drop_last`` is False) as one more step. Returns the new state and the epoch's mean metrics.

    With ``mesh`` (a 1-D mesh with axis ``"batch"``), ``ts`` and ``data`` must be replicated on it; every
    minibatch is then split over its devices (see :func:`fit`'s ``devices``)."""
    x, y = data
    full, rest = epoch_batches(ts.key, epoch, x.shape[0], batch_size)
    if mesh is None:
        ts, values = scan_epoch(train_step)(ts, x, y, full)
    else:
        full = multihost.reshard(full, NamedSharding(mesh, P(None, "batch")))
        ts, values = _sharded_epoch(train_step, mesh)(ts, x, y, full)
    if drop_last or not rest.shape[0]:
        return ts, {name: float(v) for name, v in _jit(mean_metrics)(values).items()}
    ts, last = (_jit(train_step) if mesh is None else _replicated_step(train_step, mesh))(ts, (x[rest], y[rest]))
    values = jax.tree.map(lambda v, l: jnp.concatenate([v, l[None]]), values, last)
    weights = jnp.concatenate([jnp.full(full.shape[0], batch_size, jnp.float32),
                               jnp.full(1, rest.shape[0], jnp.float32)])
    return ts, {name: float(v) for name, v in _jit(mean_metrics)(values, weights).items()}


def fit(
    ts: TrainState,
    train_step: TrainStep,
    data: Batch,
    epochs: int,
    batch_size: int,
    eval_data: Batch | None = None,
    eval_step: EvalStep | None = None,
    *,
    drop_last: bool = True,
    patience: int | None = None,
    monitor: str = "eval_loss",
    restore_best: bool = True,
    progress: bool = True,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
    resume_hparams: str = "error",
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
        eval_data: optional ``(x, y)`` evaluated after every epoch with ``eval_step``.
        eval_step: from :func:`make_eval_step`; required with ``eval_data``.
        drop_last: drop the last partial minibatch of each epoch (default) or train on it as one more step.
        patience: stop after this many epochs without improvement of ``monitor``; None never stops early.
        monitor: a history key, e.g. ``"eval_loss"`` (minimised) or ``"eval_accuracy"`` (maximised: any key
            without "loss" in its name is maximised).
        restore_best: with ``patience``, return the state of the best epoch rather than the last.
        progress: show a tqdm bar (also hidden when stderr is not a terminal).
        callback: ``callback(epoch, record)`` after each epoch, e.g. to print.
        checkpoint_dir: write a checkpoint there every ``checkpoint_every`` epochs (atomic; the last 3 are kept).
        resume: continue from the newest checkpoint in ``checkpoint_dir`` if there is one. The result is bitwise
            identical to an uninterrupted run: shuffles derive from (key, epoch), dropout from (key, step).
        resume_hparams: what to do when the checkpoint's hyperparameters differ from ``ts``'s: ``"error"``
            (default), ``"checkpoint"`` (keep the checkpoint's) or ``"current"`` (apply ``ts``'s values).
        devices: train data parallel over these devices (e.g. ``jax.devices()``, every process's after
            ``jax.distributed.initialize()``): ``ts`` and ``data`` are replicated and every minibatch is split
            evenly over the devices, so ``batch_size`` must be a multiple of their number. The result equals the
            single-device run up to float reassociation of the gradient sums. With several processes, every
            process calls ``fit`` with the same arguments, and only process 0 writes checkpoints (the folder
            must be shared to resume). Evaluation runs replicated. Default None: the default device.

    Returns:
        ``(ts, history)``; history holds per-epoch lists ``epoch``, ``train_<metric>``, ``eval_<metric>``,
        ``time`` (seconds since the start), and ``best_epoch``/``stopped_epoch`` with ``patience``.
    """
    x, y = check_data(data, "data")
    _check_args(x.shape[0], epochs, batch_size, eval_data, eval_step, patience, checkpoint_dir, resume,
                resume_hparams, devices)
    if eval_data is not None:
        eval_data = check_data(eval_data, "eval_data")
    history: dict[str, Any] = {"epoch": [], "time": []}
    best, best_value, wait, done = ts, None, 0, 0
    if resume and (restored := _resume(ts, checkpoint_dir, resume_hparams)) is not None:
        ts, best, history, best_value, wait, done = restored
    mesh = None
    if devices is not None:
        mesh = Mesh(np.array(list(devices)), ("batch",))
        ts, best, x, y = multihost.put((ts, best, x, y), NamedSharding(mesh, P()))
    n = x.shape[0]
    steps_per_epoch = n // batch_size + (0 if drop_last or n % batch_size == 0 else 1)
    first_epoch = int(ts.step) // steps_per_epoch - done
    maximise = "loss" not in monitor
    start = time.perf_counter() - (history["time"][-1] if history["time"] else 0.0)
    shown = progress and sys.stderr.isatty() and multihost.is_main()
    bar = tqdm(total=epochs, initial=done, disable=not shown, unit="epoch")
    stopped = False
    for i in range(done, epochs):
        ts, record = train_epoch(ts, train_step, (x, y), batch_size, first_epoch + i, drop_last, mesh)
        record = {f"train_{k}": v for k, v in record.items()}
        if eval_data is not None:
            record.update({f"eval_{k}": v for k, v in evaluate(ts, eval_step, eval_data, batch_size * 4).items()})
        _append(history, i + 1, time.perf_counter() - start, record)
        if patience is not None:
            value = _monitored(record, monitor)
            if best_value is None or (value > best_value if maximise else value < best_value):
                best, best_value, wait = ts, value, 0
                history["best_epoch"] = i + 1
            else:
                wait += 1
                stopped = wait >= patience
        bar.update(1)
        bar.set_postfix({k: f"{v:.4g}" for k, v in record.items()})
        if callback is not None:
            callback(i + 1, record)
        if checkpoint_dir is not None and ((i + 1) % checkpoint_every == 0 or i + 1 == epochs or stopped):
            if multihost.is_main():
                checkpoint.save_step(checkpoint_dir, i + 1, {"ts": ts, "best": best},
                                     {"epoch": i + 1, "history": history, "best_value": best_value, "wait": wait,
                                      "hparams": _hparams_json(ts)})
            # A resume must find the same newest checkpoint on every process, or they would run different epochs.
            multihost.barrier("jaxnn.train.fit checkpoint")
        if stopped:
            history["stopped_epoch"] = i + 1
            break
    bar.close()
    if patience is not None and restore_best:
        ts = best
    return ts, history


def check_data(data: Any, name: str, num_classes: int | None = None) -> tuple[jax.Array, jax.Array]:
    """``data`` as a pair of device arrays with the same number of examples and values fit to train on.

    ``fit``, ``evaluate`` and ``sweep.run`` call it before they train or evaluate: NaN or infinite inputs or
    float targets would otherwise be reported as a diverged run, and an out-of-range integer label trains on a
    NaN loss. The values are checked on the device in one compiled reduction; only bad data is copied back, to
    find its first bad entry.

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
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim == 0 or y.ndim == 0 or x.shape[0] != y.shape[0]:
        raise ValueError(f"{name}: x and y must have the same number of examples on axis 0, got x.shape={x.shape} "
                         f"and y.shape={y.shape}.")
    if num_classes is not None and not (isinstance(num_classes, int | np.integer) and num_classes >= 1
                                        and not isinstance(num_classes, bool)):
        raise ValueError(f"{name}: num_classes={num_classes!r} is not allowed: it must be None or an int >= 1.")
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


@functools.partial(jax.jit, static_argnames="num_classes")
def _values_ok(x: jax.Array, y: jax.Array, num_classes: int | None) -> jax.Array:
    # The device-side twin of data.check_split's conditions, which then locates what this finds.
    ok = jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(y))
    if jnp.issubdtype(y.dtype, jnp.integer):
        ok &= jnp.all(y >= 0) & (jnp.all(y < num_classes) if num_classes is not None else True)
    return ok


def _check_args(n: int, epochs: int, batch_size: int, eval_data: Any, eval_step: Any, patience: Any,
                checkpoint_dir: Any, resume: bool, resume_hparams: str, devices: Sequence[Any] | None) -> None:
    if not (isinstance(batch_size, int | np.integer) and 1 <= batch_size <= n):
        raise ValueError(f"fit: batch_size={batch_size!r} is not allowed: it must be an int in [1, {n}] "
                         f"(the number of training examples).")
    if not (isinstance(epochs, int | np.integer) and epochs >= 0):
        raise ValueError(f"fit: epochs={epochs!r} is not allowed: it must be an int >= 0.")
    if eval_data is not None and eval_step is None:
        raise ValueError("fit: eval_data was given without eval_step; pass eval_step=train.make_eval_step(model).")
    if patience is not None and not (isinstance(patience, int) and patience >= 1):
        raise ValueError(f"fit: patience={patience!r} is not allowed: it must be None or an int >= 1.")
    if resume and checkpoint_dir is None:
        raise ValueError("fit: resume=True needs checkpoint_dir, the folder the interrupted run wrote to.")
    if devices is not None and not (len(devices) >= 1 and batch_size % len(devices) == 0):
        raise ValueError(f"fit: devices has {len(devices)} devices, which do not split batch_size={batch_size} "
                         f"evenly: pass a batch_size that is a multiple of the device count (or devices=None).")
    if resume_hparams not in ("error", "checkpoint", "current"):
        raise ValueError(f"fit: resume_hparams={resume_hparams!r} is not allowed: use 'error', 'checkpoint' or "
                         f"'current'.")


def _monitored(record: Mapping[str, float], monitor: str) -> float:
    if monitor not in record:
        raise ValueError(f"fit: monitor={monitor!r} is not in this run's metrics {sorted(record)}; "
                         f"pass eval_data for eval_* metrics or pick one of these.")
    return record[monitor]


def _append(history: dict[str, Any], epoch: int, elapsed: float, record: Mapping[str, float]) -> None:
    history["epoch"].append(epoch)
    history["time"].append(elapsed)
    for name, value in record.items():
        history.setdefault(name, []).append(value)


def _hparams_json(ts: TrainState) -> dict[str, Any]:
    return {name: value.tolist() for name, value in _flat_hparams(ts).items()}


def _flat_hparams(ts: TrainState) -> dict[str, np.ndarray]:
    flat = {}
    for name, value in hparams(ts.opt_state).items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
            flat[name + jax.tree_util.keystr(path)] = np.asarray(leaf)
    return flat


def _show(value: np.ndarray) -> str:
    return np.array2string(value, precision=6, separator=", ")


def _resume(ts: TrainState, directory: Any, resume_hparams: str) -> tuple | None:
    path = checkpoint.latest(directory)
    if path is None:
        return None
    try:
        tree, meta = checkpoint.load(path, like={"ts": ts, "best": ts})
    except checkpoint.CheckpointError as error:
        raise checkpoint.CheckpointError(
            f"fit(resume=True): cannot resume from {path}: {error}\nIf checkpoint_dir={str(directory)!r} holds a run "
            f"of another model or optimizer, pass a fresh checkpoint_dir; if the newest file is damaged, delete it "
            f"to resume from the previous checkpoint."
        ) from error
    loaded, best = tree["ts"], tree["best"]
    current, stored = _flat_hparams(ts), _flat_hparams(loaded)
    changed = [name for name in current if not np.array_equal(current[name], stored[name])]
    if changed and resume_hparams == "error":
        details = ", ".join(f"{n}: checkpoint {_show(stored[n])} vs now {_show(current[n])}" for n in changed)
        raise ValueError(f"fit(resume=True): the hyperparameters differ from the checkpoint {path} ({details}). "
                         f"Pass resume_hparams='checkpoint' to keep the checkpoint's values or 'current' to "
                         f"continue with the new ones.")
    if changed and resume_hparams == "current":
        new = hparams(ts.opt_state)
        loaded = loaded._replace(opt_state=set_hparams(loaded.opt_state, **new))
    history = meta["history"]
    return loaded, best, history, meta["best_value"], meta["wait"], meta["epoch"]
