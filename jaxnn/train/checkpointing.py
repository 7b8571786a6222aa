"""``fit``'s checkpoints: save the state, the best state and the loop's counters; resume bitwise.

A resumed run is bitwise identical to an uninterrupted one because shuffles derive from (key, epoch) and
dropout from (key, step); what a checkpoint must add is the history, the early-stopping counters and the best
state. Hyperparameters that differ between the checkpoint and the caller's state are never applied silently.

Example::

    saver = train.checkpointing.Checkpointer("runs/a", every=1, epochs=10)
    restored = train.checkpointing.resume(ts, "runs/a", "error")   # None when the folder has no checkpoint
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from jaxnn import checkpoint, multihost
from jaxnn.optim import hparams, set_hparams
from jaxnn.train.state import TrainState

RESUME_HPARAMS = ("error", "checkpoint", "current")


class Checkpointer:
    """Writes a checkpoint every ``every`` epochs, at the last epoch and when training stops early; only
    process 0 writes, and every process waits for the file so that a resume finds the same newest one."""

    def __init__(self, directory: str | os.PathLike, every: int, epochs: int):
        self.directory, self.every, self.epochs = directory, every, epochs

    def __call__(self, epoch: int, ts: TrainState, best: TrainState, history: dict[str, Any],
                 stopper: Any) -> None:
        stopped = stopper is not None and bool(stopper.stopped_epoch.all())
        if epoch % self.every and epoch != self.epochs and not stopped:
            return
        if multihost.is_main():
            checkpoint.save_step(self.directory, epoch, {"ts": ts, "best": best},
                                 {"epoch": epoch, "history": history, "hparams": hparams_json(ts),
                                  "early_stopping": None if stopper is None else stopper.state()})
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


def resume(ts: TrainState, directory: Any, resume_hparams: str) -> tuple | None:
    """``(ts, best, history, early_stopping_state, epochs_done)`` from the newest checkpoint, or None.

    Raises:
        CheckpointError: the newest file is damaged or holds another model or optimizer.
        ValueError: the hyperparameters differ and ``resume_hparams`` is ``"error"``.
    """
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
        loaded = loaded._replace(opt_state=set_hparams(loaded.opt_state, **hparams(ts.opt_state)))
    return loaded, best, meta["history"], meta["early_stopping"], meta["epoch"]
