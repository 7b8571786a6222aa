"""Early stopping per row, on the host between epochs: each row stops after ``patience`` epochs without
improvement of ``metric``; its best epoch is kept for restore-best.

Example::

    stopper = train.EarlyStopping("val_loss", mode="min", patience=3, rows=4)
    improved, stopped = stopper.update(epoch=1, record={"val_loss": np.array([0.5, 0.4, np.nan, 0.6])})
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

MODES = ("min", "max")


def check(metric: Any, mode: Any, patience: Any, caller: str) -> None:
    """Raises ValueError naming the argument, its value and what is allowed."""
    if patience is not None and not (isinstance(patience, int) and not isinstance(patience, bool) and patience >= 1):
        raise ValueError(f"{caller}: patience={patience!r} is not allowed: it must be None or an int >= 1.")
    if mode not in MODES:
        raise ValueError(f"{caller}: mode={mode!r} is not allowed: use 'min' or 'max'.")
    if not isinstance(metric, str):
        raise ValueError(f"{caller}: metric={metric!r} is not allowed: it must be a recorded name such as 'val_loss'.")


class EarlyStopping:
    """Per-row patience counters over one recorded ``metric``.

    Args:
        metric: the watched record name (``val_loss``, ``val_accuracy``, ``loss``...).
        mode: ``"min"`` or ``"max"``: whether lower or higher values of ``metric`` are better.
        patience: epochs without improvement after which a row stops, an int >= 1.
        rows: the number of rows (1 for a single run).
    """

    def __init__(self, metric: str, mode: str, patience: int, rows: int):
        check(metric, mode, patience, "EarlyStopping")
        self.metric, self.mode, self.patience = metric, mode, patience
        self.best_value = np.full(rows, np.nan)
        self.best_epoch = np.zeros(rows, np.int64)
        self.stopped_epoch = np.zeros(rows, np.int64)
        self.wait = np.zeros(rows, np.int64)

    def update(self, epoch: int, record: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Takes epoch ``epoch``'s record; returns per-row masks (improved, stopped at this epoch).

        A non-finite value (a diverged row) never improves. Rows already stopped do not change.

        Raises:
            ValueError: ``metric`` is not in ``record``.
        """
        if self.metric not in record:
            raise ValueError(f"early stopping: metric={self.metric!r} is not recorded; the records are "
                             f"{sorted(record)}. Pass an evaluation set for <set>_* metrics or pick one of these.")
        value = np.asarray(record[self.metric], np.float64).reshape(-1)
        live = self.stopped_epoch == 0
        better = value < self.best_value if self.mode == "min" else value > self.best_value
        improved = live & np.isfinite(value) & (np.isnan(self.best_value) | better)
        self.best_value[improved], self.best_epoch[improved] = value[improved], epoch
        self.wait = np.where(improved, 0, self.wait + live)
        stopped = live & (self.wait >= self.patience)
        self.stopped_epoch[stopped] = epoch
        return improved, stopped

    def state(self) -> dict[str, list]:
        """The counters as JSON-ready lists (for checkpoints)."""
        return {name: getattr(self, name).tolist() for name in ("best_value", "best_epoch", "stopped_epoch", "wait")}

    def load(self, state: Mapping[str, list]) -> None:
        """Restores counters written by :meth:`state`."""
        for name, value in state.items():
            setattr(self, name, np.asarray(value, getattr(self, name).dtype))
