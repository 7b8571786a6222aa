"""Callbacks: what a training run tells the outside world between epochs.

Every training loop in jaxnn (``fit``, the stacked trainer, sweeps) calls a list of callbacks on the host
between epochs; nothing here runs inside a compiled step. A callback is a :class:`Callback` (override any of
its three methods) or a plain function ``fn(epoch, record)``, which is called as ``on_epoch_end``.

``record`` maps metric names to values: Python floats for a single run, NumPy arrays with one value per row
for stacked runs.

Example::

    class PrintLoss(train.Callback):
        def on_epoch_end(self, epoch, record):
            print(epoch, record["loss"])

    # ts, step, x_train, y_train: as in jaxnn.train
    train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100, callbacks=[PrintLoss()])
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

import numpy as np
from tqdm.auto import tqdm

from jaxnn import multihost
from jaxnn.validation import check_range


class Callback:
    """Base class of callbacks; every method is a no-op to override.

    ``on_train_begin(info)`` receives ``epochs`` (the total, counting epochs a resumed run already ran),
    ``start_epoch`` (epochs already done) and ``rows`` (1 for a single run); ``on_epoch_end(epoch, record)``
    the 1-based epoch number and that epoch's values; ``on_train_end(history)`` the run's history.
    """

    def on_train_begin(self, info: Mapping[str, Any]) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, record: Mapping[str, Any]) -> None:
        """Called after every epoch with that epoch's recorded values."""

    def on_train_end(self, history: Mapping[str, Any]) -> None:
        """Called once after the last epoch (also after early stopping or a stop on non-finite values)."""


class _FunctionCallback(Callback):
    def __init__(self, fn: Callable[[int, Mapping[str, Any]], Any]):
        self.fn = fn

    def on_epoch_end(self, epoch: int, record: Mapping[str, Any]) -> None:
        self.fn(epoch, record)


def as_callbacks(callbacks: Callback | Callable | Iterable[Callback | Callable] | None) -> list[Callback]:
    """``callbacks`` as a list of :class:`Callback`: None, one callback, a function, or a list of them.

    Args:
        callbacks: what a loop's ``callbacks`` argument received; functions become ``on_epoch_end``.

    Returns:
        The callbacks in the given order.

    Raises:
        TypeError: an entry is neither a :class:`Callback` nor callable.

    Example::

        for c in train.as_callbacks([train.Progress(), lambda epoch, record: print(epoch)]):
            c.on_train_begin({"epochs": 1, "start_epoch": 0, "rows": 1})
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or callable(callbacks):
        callbacks = [callbacks]
    out = []
    for c in callbacks:
        if isinstance(c, Callback):
            out.append(c)
        elif callable(c):
            out.append(_FunctionCallback(c))
        else:
            raise TypeError(f"callbacks: {c!r} is neither a train.Callback nor a function fn(epoch, record).")
    return out


class Progress(Callback):
    """Progress on stderr: a tqdm bar on a terminal, else one compact line per epoch.

    Logs, CI jobs and notebooks, whose stderr is no terminal, get ``epoch 3/20  loss 0.512  val_accuracy 0.81
    2.1s`` (time since the start) instead of silence: at most one line every ``interval`` seconds, and always
    the first and the last epoch's. An epoch is one compiled program, so lines come between epochs only. For
    stacked runs each value is the best row's (lowest for names containing "loss", else highest, NaN rows
    ignored). With several processes only process 0 writes.

    Args:
        desc: a label put before each line (and on the bar).
        interval: minimum seconds between two lines when stderr is not a terminal (0: every epoch).
        stream: where to write; default ``sys.stderr``.

    Raises:
        ValueError: ``interval`` is negative or not finite.

    Example::

        train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                  callbacks=[train.Progress("mlp", interval=5.0)])
    """

    def __init__(self, desc: str = "", interval: float = 1.0, stream: TextIO | None = None):
        check_range("interval", interval, lambda v: v >= 0, "a number of seconds >= 0")
        self.desc, self.interval, self.stream = desc, interval, stream
        self._bar: Any = None
        self._quiet = False
        self._total, self._last, self._start = 0, -math.inf, 0.0

    def on_train_begin(self, info: Mapping[str, Any]) -> None:
        stream = self.stream or sys.stderr
        self._total, self._start, self._last = int(info.get("epochs", 0)), time.perf_counter(), -math.inf
        self._quiet = not multihost.is_main()
        if not self._quiet and stream.isatty():
            self._bar = tqdm(total=self._total, initial=int(info.get("start_epoch", 0)), unit="epoch",
                             desc=self.desc or None, file=stream)

    def on_epoch_end(self, epoch: int, record: Mapping[str, Any]) -> None:
        if self._quiet:
            return
        shown = {k: _summary(k, v) for k, v in record.items() if np.size(v) and np.issubdtype(
            np.asarray(v).dtype, np.number)}
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()})
            return
        now = time.perf_counter()
        if now - self._last < self.interval and epoch != self._total:
            return
        self._last = now
        values = "  ".join(f"{k} {v:.4g}" for k, v in shown.items())
        prefix = f"{self.desc}: " if self.desc else ""
        print(f"{prefix}epoch {epoch}/{self._total}  {values}  {now - self._start:.1f}s",
              file=self.stream or sys.stderr, flush=True)

    def on_train_end(self, history: Mapping[str, Any]) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _summary(name: str, value: Any) -> float:
    values = np.asarray(value, np.float64).ravel()
    if values.size == 1:
        return float(values[0])
    if np.isnan(values).all():
        return math.nan
    return float(np.nanmin(values) if "loss" in name else np.nanmax(values))
