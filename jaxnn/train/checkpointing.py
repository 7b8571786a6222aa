"""``fit``'s checkpoints: save the state, the best state and the loop's counters; resume bitwise.

A resumed run is bitwise identical to an uninterrupted one because shuffles derive from (key, epoch) and
dropout from (key, step); what a checkpoint must add is the history, the early-stopping counters and the best
state. Hyperparameters that differ between the checkpoint and the caller's state are never applied silently,
and every checkpoint records the run's :func:`fingerprint`, so that a folder holding another run (other data,
key, batch size, model, loss or optimizer) is never continued or mixed with this one.

Example::

    kwargs = {"epochs": 2, "batch_size": 100, "checkpoint_dir": "runs/a", "progress": False}
    ts_a, history = train.fit(ts, step, (x_train, y_train), **kwargs)
    ts_a, history = train.fit(ts, step, (x_train, y_train), resume=True, **kwargs)  # ended: nothing trains
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import checkpoint, multihost
from jaxnn.optim import hparams, set_hparams
from jaxnn.train.state import TrainState

RESUME_HPARAMS = ("error", "checkpoint", "current")


class Checkpointer:
    """Writes a checkpoint every ``every`` epochs, at the last epoch and when training stops early; only
    process 0 writes, and every process waits for the file so that a resume finds the same newest one."""

    def __init__(self, directory: str | os.PathLike, every: int, epochs: int, fingerprint: dict[str, Any]):
        self.directory, self.every, self.epochs, self.fingerprint = directory, every, epochs, fingerprint

    def __call__(self, epoch: int, ts: TrainState, best: TrainState, history: dict[str, Any],
                 stopper: Any) -> None:
        stopped = stopper is not None and bool(stopper.stopped_epoch.all())
        if epoch % self.every and epoch != self.epochs and not stopped:
            return
        if multihost.is_main():
            checkpoint.save_step(self.directory, epoch, {"ts": ts, "best": best},
                                 {"epoch": epoch, "history": history, "hparams": hparams_json(ts),
                                  "early_stopping": None if stopper is None else stopper.state(),
                                  "fingerprint": self.fingerprint})
        # A resume must find the same newest checkpoint on every process, or they would run different epochs.
        multihost.barrier("jaxnn.train.fit checkpoint")


def hparams_json(ts: TrainState) -> dict[str, Any]:
    """Every stored hyperparameter of ``ts`` as JSON-ready lists, by flat name."""
    return {name: value.tolist() for name, value in _flat_hparams(ts).items()}


def _flat_hparams(ts: TrainState) -> dict[str, np.ndarray]:
    flat = {}
    for name, value in hparams(ts.opt_state).items():
        for path, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
            flat[name + jax.tree_util.keystr(path)] = np.asarray(leaf)
    return flat


def _show(value: np.ndarray) -> str:
    return np.array2string(value, precision=6, separator=", ")


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_SAMPLE = 64  # rows of each data array hashed whole, strided over the examples

# What each fingerprint entry covers, for the message naming what differs.
_COVERS = {"data": "the training data (shapes, dtypes, a strided sample, sums)", "key": "ts.key (the seed)",
           "batch_size": "batch_size", "drop_last": "drop_last",
           "state": "the model's or optimizer's structure (tree, shapes and dtypes of the TrainState)",
           "train_step": "the train step's traced program (layers, activations, loss, l2, metrics)",
           "eval": "the evaluation sets or the eval step", "early_stopping": "patience, metric or mode"}


def fingerprint(ts: TrainState, data: tuple[jax.Array, jax.Array], batch_size: int, drop_last: bool,
                train_jaxpr: Any, evals: Mapping[str, Any], early_stopping: Any) -> dict[str, Any]:
    """What a run's result depends on besides its epochs and hyperparameter values, as JSON-ready digests.

    Computed once per run on the host (the data's sums over one pass on the host), stored
    in every checkpoint's metadata and compared on resume.

    Args:
        ts: the state the run starts from (its key, tree structure, shapes and dtypes; not its values).
        data: the training ``(x, y)``.
        batch_size, drop_last: as passed to ``fit``.
        train_jaxpr: the train step's jaxpr (``jax.make_jaxpr``), whose text covers the model's functions, the
            loss, ``l2`` and the metrics (the hyperparameters are state values, so they are not part of it).
        evals: ``name -> ((x, y), eval_jaxpr)`` of the evaluation sets.
        early_stopping: ``(patience, metric, mode)``, or None without early stopping.

    Returns:
        ``name -> digest or value``; :func:`resume` names the entries that differ.

    Example::

        jaxpr = jax.make_jaxpr(step)(ts, (x_train[:100], y_train[:100]))
        run = train.checkpointing.fingerprint(ts, (x_train, y_train), 100, True, jaxpr, {}, None)
        run["batch_size"], run["key"]   # 100 and a digest of ts.key
    """
    leaves = [(jnp.shape(leaf), str(getattr(leaf, "dtype", type(leaf).__name__))) for leaf in jax.tree.leaves(ts)]
    return {"data": _data_digest(data), "key": _digest(np.asarray(_key_data(ts.key)).tobytes()),
            "batch_size": int(batch_size), "drop_last": bool(drop_last),
            "state": _digest(repr((str(jax.tree.structure(ts)), leaves)).encode()),
            "train_step": program_digest(train_jaxpr),
            "eval": _digest(repr([(name, _data_digest(xy), program_digest(jaxpr)) for name, (xy, jaxpr) in
                                  sorted(evals.items())]).encode()),
            "early_stopping": None if early_stopping is None else list(early_stopping)}


def program_digest(*jaxprs: Any) -> str:
    """A digest of traced programs' text, the same in every process: object addresses a foreign function's
    repr may print are left out (they differ between processes, and a resume would be refused).

    Example::

        train.checkpointing.program_digest(jax.make_jaxpr(step)(ts, (x_train[:100], y_train[:100])))
    """
    return _digest("".join(_ADDRESS.sub("", str(jaxpr)) for jaxpr in jaxprs).encode())


def _key_data(key: jax.Array) -> jax.Array:
    # Raw uint32 keys (jax.random.PRNGKey) are their own data.
    return jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:32]


def _data_digest(arrays: Any) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        # On the host, once per run: a compiled reduction would cost more to compile than this takes to run.
        rows = np.asarray(a).reshape(a.shape[0], -1)
        values = rows.astype(np.float64)
        # The sums see every value; the position-weighted one also sees the order, which the shuffles depend on.
        sums = [values.sum(), (values * values).sum(), values.sum(1) @ np.arange(a.shape[0], dtype=np.float64)]
        digest.update(repr((a.shape, str(a.dtype))).encode())
        digest.update(np.ascontiguousarray(rows[:: max(1, a.shape[0] // _SAMPLE)][:_SAMPLE]).tobytes())
        digest.update(np.asarray(sums).tobytes())
    return digest.hexdigest()[:32]


def _differences(stored: Mapping[str, Any] | None, current: Mapping[str, Any]) -> str:
    if stored is None:
        return "it records no run fingerprint (written by an older jaxnn)"
    names = [n for n in current if stored.get(n) != current[n]]
    shown = [f"{_COVERS[n]} (checkpoint {stored.get(n)!r}, now {current[n]!r})"
             if n in ("batch_size", "drop_last", "early_stopping") else _COVERS[n] for n in names]
    return "; ".join(shown)


def claim(ts: TrainState, directory: Any, current: Mapping[str, Any], overwrite: bool) -> None:
    """Before a fresh run (``resume=False``) writes to ``directory``: refuses another run's checkpoints there,
    or with ``overwrite`` deletes them (this run's own, from an earlier start, are kept).

    Raises:
        ValueError: the newest checkpoint belongs to another run (or is unreadable) and ``overwrite`` is False.

    Example::

        run = train.checkpointing.fingerprint(ts, (x_train, y_train), 100, True,
                                              jax.make_jaxpr(step)(ts, (x_train[:100], y_train[:100])), {}, None)
        train.checkpointing.claim(ts, "runs/fresh", run, overwrite=False)   # an empty folder: nothing to refuse
    """
    path = checkpoint.latest(directory)
    if path is None:
        return
    try:
        differs = _differences(checkpoint.load(path, like={"ts": ts, "best": ts})[1].get("fingerprint"), current)
    except checkpoint.CheckpointError as error:
        differs = f"it cannot be read as this run's state ({error})"
    if not differs:
        return
    if not overwrite:
        raise ValueError(
            f"fit: checkpoint_dir={str(directory)!r} holds another run's checkpoints ({path}: {differs}). A new "
            f"run there would mix its checkpoints with that run's, and a later resume=True could continue the "
            f"wrong one. Pass a fresh checkpoint_dir, resume=True to continue that run, or overwrite=True to "
            f"delete its checkpoints.")
    while multihost.is_main() and (path := checkpoint.latest(directory)) is not None:
        os.remove(path)
    multihost.barrier("jaxnn.train.fit overwrite")


def _load(path: str, ts: TrainState, directory: Any) -> tuple[dict, dict]:
    try:
        return checkpoint.load(path, like={"ts": ts, "best": ts})
    except checkpoint.CheckpointError as error:
        raise checkpoint.CheckpointError(
            f"fit(resume=True): cannot resume from {path}: {error}\nIf checkpoint_dir={str(directory)!r} holds a run "
            f"of another model or optimizer, pass a fresh checkpoint_dir; if the newest file is damaged, delete it "
            f"to resume from the previous checkpoint."
        ) from error


def _all_finite(ts: TrainState) -> bool:
    return all(np.isfinite(leaf).all() for leaf in jax.tree.leaves(ts)
               if jnp.issubdtype(getattr(leaf, "dtype", np.float32), jnp.inexact))


def resume(ts: TrainState, directory: Any, resume_hparams: str, run: Mapping[str, Any]) -> tuple | None:
    """``(ts, best, history, early_stopping_state, epochs_done)`` from the newest finite checkpoint, or None.

    A newer checkpoint holding NaN or Inf (saved by ``on_nonfinite="warn"`` or ``"continue"``) is passed over,
    with a warning naming both.

    Raises:
        CheckpointError: the checkpoint is damaged or holds another model or optimizer.
        ValueError: the checkpoint's run fingerprint differs from ``run`` (naming what differs), or the
            hyperparameters differ and ``resume_hparams`` is ``"error"``.

    Example::

        run = train.checkpointing.fingerprint(ts, (x_train, y_train), 100, True,
                                              jax.make_jaxpr(step)(ts, (x_train[:100], y_train[:100])), {}, None)
        train.checkpointing.resume(ts, "runs/none", "error", run)   # None: no checkpoint there
    """
    path = checkpoint.latest(directory)
    if path is None:
        return None
    tree, meta = _load(path, ts, directory)
    if not _all_finite(tree["ts"]):
        newest, path = path, checkpoint.latest(directory, finite=True)
        if path is None:
            raise ValueError(f"fit(resume=True): every checkpoint in checkpoint_dir={str(directory)!r} holds NaN or "
                             f"Inf (the newest is {newest}), so there is no state to continue from. Pass "
                             f"resume=False to start over.")
        warnings.warn(f"fit(resume=True): the newest checkpoint {newest} holds NaN or Inf; resuming from the newest "
                      f"finite one, {path}.", RuntimeWarning, stacklevel=4)
        tree, meta = _load(path, ts, directory)
    if differs := _differences(meta.get("fingerprint"), run):
        raise ValueError(
            f"fit(resume=True): {path} is another run's checkpoint: {differs}. Resuming would continue that run "
            f"as if it were this one. Pass the arguments it was started with, a fresh checkpoint_dir, or "
            f"resume=False with overwrite=True to delete its checkpoints and start over.")
    loaded, best = tree["ts"], tree["best"]
    current, stored = _flat_hparams(ts), _flat_hparams(loaded)
    changed = [name for name in current if not np.array_equal(current[name], stored[name])]
    if changed and resume_hparams == "error":
        details = ", ".join(f"{n}: checkpoint {_show(stored[n])} vs now {_show(current[n])}" for n in changed)
        raise ValueError(f"fit(resume=True): the hyperparameters differ from the checkpoint {path} ({details}). "
                         f"Pass resume_hparams='checkpoint' to keep the checkpoint's values or 'current' to "
                         f"continue with the new ones.")
    if changed and resume_hparams == "current":
        loaded = loaded._replace(opt_state=set_hparams(loaded.opt_state, **hparams(ts.opt_state)))
    return loaded, best, meta["history"], meta["early_stopping"], meta["epoch"]
