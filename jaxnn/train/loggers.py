"""Loggers: callbacks that write every recorded value, one row per epoch and run-row.

- :class:`JsonLinesLogger`: one JSON object a line.
- :class:`CsvLogger`: a CSV table.
- :class:`TensorBoardLogger`: TensorBoard event files (optional extra ``jaxnn[tensorboard]``).

A row holds ``epoch``, then ``row`` (the run's index) for stacked runs, then every value of that epoch's record.
A record is stacked when ``info["rows"] > 1`` (or when every value is an array of one row): each NumPy array
with one value per row gives row ``i`` its ``i``-th value, anything else is the same in every row.

The file loggers append each epoch and close the file again, so a crash keeps every finished epoch. A fresh run
(``info["start_epoch"] == 0``) starts a new file; a resumed one keeps the rows up to ``start_epoch`` and appends,
dropping rows of epochs the checkpoint had not reached (they are trained and written again). With several
processes only process 0 writes.

Example::

    logs = [train.JsonLinesLogger("run/log.jsonl"), train.CsvLogger("run/log.csv")]
    train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100, callbacks=logs)
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jaxnn import multihost
from jaxnn.data.storage import atomic_write
from jaxnn.train.callbacks import Callback


def record_rows(epoch: int, record: Mapping[str, Any], rows: int = 1) -> list[dict[str, Any]]:
    """``record`` as one dict per run-row, with NumPy values turned into Python numbers and lists.

    Args:
        epoch: the 1-based epoch number, the first entry of every row.
        record: ``name -> value`` for one epoch (floats for one run, arrays with one value per row when stacked).
        rows: the number of stacked rows (``info["rows"]``).

    Returns:
        ``[{"epoch": epoch, **values}]`` for one run; for stacked runs one dict a row, ``{"epoch", "row", ...}``.

    Example::

        train.record_rows(2, {"loss": np.array([0.5, 0.25])}, rows=2)
        # [{"epoch": 2, "row": 0, "loss": 0.5}, {"epoch": 2, "row": 1, "loss": 0.25}]
    """
    values = {k: _host(v) for k, v in record.items()}
    per_row = {k for k, v in values.items() if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == rows}
    if not (rows > 1 or (values and len(per_row) == len(values))):
        return [{"epoch": epoch, **{k: _plain(v) for k, v in values.items()}}]
    return [{"epoch": epoch, "row": i, **{k: _plain(v[i] if k in per_row else v) for k, v in values.items()}}
            for i in range(rows)]


def _host(value: Any) -> Any:
    """Python scalars and strings as they are; NumPy and JAX values as a NumPy array."""
    return value if isinstance(value, str | int | float | list | dict | None) else np.asarray(value)


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray | np.generic) else value


class _FileLogger(Callback):
    """What both file loggers share: the path, process 0 only, a new file or a resumed one, one append an epoch."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._rows, self._started = 1, False

    def on_train_begin(self, info: Mapping[str, Any]) -> None:
        self._rows, self._started = int(info.get("rows", 1)), True
        if not multihost.is_main():
            return
        start = int(info.get("start_epoch", 0))
        kept = self._kept(start) if start > 0 and self.path.exists() else None
        self._begin(kept)

    def on_epoch_end(self, epoch: int, record: Mapping[str, Any]) -> None:
        if not self._started:  # driven by hand without on_train_begin: a fresh single run
            self.on_train_begin({})
        if multihost.is_main():
            self._append(record_rows(epoch, record, self._rows))

    def _kept(self, start: int) -> Any:
        """What the file holds up to epoch ``start``, in the form ``_begin`` takes."""
        raise NotImplementedError

    def _begin(self, kept: Any) -> None:
        """Starts the file: empty for a fresh run (``kept`` None), else with what ``_kept`` returned."""
        raise NotImplementedError

    def _append(self, rows: list[dict[str, Any]]) -> None:
        raise NotImplementedError


def _write(path: Path, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text.encode())


class JsonLinesLogger(_FileLogger):
    """Writes each epoch's values as JSON lines: ``{"epoch": 3, "row": 0, "loss": 0.41, "val_loss": 0.52}``.

    Non-finite numbers (a diverged row's NaN) are written as ``null``, since JSON has no NaN; values that are
    arrays become lists. See the module docstring for rows, resuming and crashes.

    Args:
        path: the file to write (its folder is created).

    Example::

        train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                  callbacks=[train.JsonLinesLogger("log.jsonl")])
        import json

        rows = [json.loads(line) for line in open("log.jsonl")]
    """

    def _kept(self, start: int) -> list[str]:
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # the last line of a run killed while writing it
                continue
            if row.get("epoch", math.inf) <= start:
                kept.append(line + "\n")
        return kept

    def _begin(self, kept: list[str] | None) -> None:
        _write(self.path, "".join(kept or []))

    def _append(self, rows: list[dict[str, Any]]) -> None:
        with open(self.path, "a") as f:
            f.writelines(json.dumps(_finite_or_none(row), allow_nan=False) + "\n" for row in rows)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


class CsvLogger(_FileLogger):
    """Writes each epoch's values as CSV rows under a header ``epoch,row,<names in first-seen order>``.

    Columns are stable: a column keeps its position for the whole file. A name that first appears in a later
    epoch becomes a new column on the right (the file is rewritten once, atomically, with that column empty in
    earlier rows); a name missing from an epoch leaves its cell empty. NaN and infinities are written as
    ``nan``/``inf`` (``float()`` reads them back); array values as JSON lists.

    Args:
        path: the file to write (its folder is created).

    Example::

        train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100, callbacks=[train.CsvLogger("log.csv")])
        import csv

        rows = list(csv.DictReader(open("log.csv")))
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__(path)
        self._columns: list[str] = []

    def _kept(self, start: int) -> tuple[list[str], list[dict[str, str]]]:
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            rows = [row for row in reader if row.get("epoch", "").isdigit() and int(row["epoch"]) <= start]
            return list(reader.fieldnames or []), rows

    def _begin(self, kept: tuple[list[str], list[dict[str, str]]] | None) -> None:
        self._columns, rows = kept or ([], [])
        self._rewrite(rows)

    def _append(self, rows: list[dict[str, Any]]) -> None:
        new = [name for row in rows for name in row if name not in self._columns]
        if new:
            with open(self.path, newline="") as f:
                earlier = list(csv.DictReader(f))
            self._columns += list(dict.fromkeys(new))
            self._rewrite(earlier)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self._columns).writerows({k: _cell(v) for k, v in row.items()} for row in rows)

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        text = io.StringIO(newline="")
        if self._columns:
            writer = csv.DictWriter(text, self._columns)
            writer.writeheader()
            writer.writerows(rows)
        _write(self.path, text.getvalue())


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, list | dict) else value


class TensorBoardLogger(Callback):
    """Writes each epoch's numeric values as TensorBoard scalars (step = epoch), with ``tensorboardX``.

    A single run writes into ``logdir``; stacked runs write row ``i`` into ``logdir/row_<i>`` (zero-padded), so
    that TensorBoard draws the rows as runs on shared charts. Array values of one run are written as histograms;
    non-numeric values are skipped. A resumed run (``info["start_epoch"] > 0``) hides the events of epochs after
    ``start_epoch`` that an interrupted run had written. Only process 0 writes.

    Needs the optional extra: ``pip install 'jaxnn[tensorboard]'`` (``tensorboardX`` is imported only here).

    Args:
        logdir: the folder of the event files.

    Raises:
        ImportError: ``tensorboardX`` is not installed.

    Example::

        train.fit(ts, step, (x_train, y_train), epochs=3, batch_size=100,
                  callbacks=[train.TensorBoardLogger("runs/mlp")])
        # then: tensorboard --logdir runs
    """

    def __init__(self, logdir: str | os.PathLike):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError("TensorBoardLogger needs tensorboardX: pip install 'jaxnn[tensorboard]'") from e
        self.logdir = Path(logdir)
        self._writer_class = SummaryWriter
        self._writers: dict[int | None, Any] = {}
        self._rows, self._purge = 1, None

    def on_train_begin(self, info: Mapping[str, Any]) -> None:
        self.on_train_end({})
        self._rows = int(info.get("rows", 1))
        start = int(info.get("start_epoch", 0))
        self._purge = start + 1 if start > 0 else None

    def on_epoch_end(self, epoch: int, record: Mapping[str, Any]) -> None:
        if not multihost.is_main():
            return
        for row in record_rows(epoch, record, self._rows):
            writer = self._writer(row.pop("row", None))
            for name, value in row.items():
                if name == "epoch" or not _numeric(value):
                    continue
                if isinstance(value, list):
                    writer.add_histogram(name, np.asarray(value, np.float64), epoch)
                else:
                    writer.add_scalar(name, float(value), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, history: Mapping[str, Any]) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def _writer(self, row: int | None) -> Any:
        if row not in self._writers:
            folder = self.logdir if row is None else self.logdir / f"row_{row:0{len(str(self._rows - 1))}d}"
            self._writers[row] = self._writer_class(str(folder), purge_step=self._purge)
        return self._writers[row]


def _numeric(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        return np.issubdtype(np.asarray(value).dtype, np.number) and np.asarray(value).size > 0
    except (ValueError, TypeError):  # ragged lists
        return False
