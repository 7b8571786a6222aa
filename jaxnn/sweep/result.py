"""``SweepResult``: per-config histories and final metrics, ranking, tables (text, CSV, JSON) and plots."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxnn.sweep.space import Configs, is_number

if TYPE_CHECKING:  # matplotlib costs ~0.4 s to import: only plot() loads it
    from matplotlib.figure import Figure


def minimised(metric: str) -> bool:
    """Metrics with "loss" in their name are minimised, the others (accuracy) maximised, as in ``train.fit``."""
    return "loss" in metric


@dataclass
class SweepResult:
    """What a sweep measured.

    Attributes:
        configs: the configurations, in the order given (``configs[i]`` is config ``i``).
        history: ``name -> (n_configs, seeds, epochs)`` float32, per epoch: ``loss``, ``<metric>``
            (means over the epoch's steps), ``val_loss``, ``val_<metric>`` (on ``data.val``, or ``data.test``
            when there is no val split). NaN from the epoch a run diverged in, and past a config's ``epochs``.
        diverged_at: ``(n_configs, seeds)``, the number of updates a run had made when its loss or params
            became non-finite (it stopped there), -1 for runs that stayed finite.
        epochs: ``(n_configs,)`` epochs each config trained (all equal except after successive halving).
        wall_time: seconds the whole sweep took, compilation included.
        compile_time: seconds of that spent tracing, lowering and compiling.
    """

    configs: Configs
    history: dict[str, np.ndarray]
    diverged_at: np.ndarray
    epochs: np.ndarray
    wall_time: float
    compile_time: float

    @property
    def seeds(self) -> int:
        return self.diverged_at.shape[1]

    @property
    def diverged(self) -> np.ndarray:
        """``(n_configs,)`` True where any seed of the config diverged."""
        return (self.diverged_at >= 0).any(axis=1)

    @property
    def final(self) -> dict[str, np.ndarray]:
        """``name -> (n_configs, seeds)``: each metric after the config's last epoch."""
        last = np.maximum(self.epochs - 1, 0)[:, None, None]
        return {name: np.take_along_axis(h, last, axis=2)[..., 0] for name, h in self.history.items()}

    def summary(self, metric: str = "val_loss") -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over seeds of ``metric``'s final value, each ``(n_configs,)``."""
        values = self.final[self._check(metric)]
        return values.mean(axis=1), values.std(axis=1)

    def ranking(self, metric: str = "val_loss") -> np.ndarray:
        """Config indices, best first: the longest-trained first, then by ``metric``; diverged configs last."""
        mean, _ = self.summary(metric)
        score = mean if minimised(metric) else -mean
        ok = ~self.diverged & np.isfinite(mean)
        return np.lexsort((score, -self.epochs, ~ok))  # the last key sorts first

    def best(self, k: int = 1, metric: str = "val_loss") -> list[dict[str, Any]]:
        """The ``k`` best configs that did not diverge, as table rows (see :meth:`rows`).

        Raises:
            ValueError: for an unknown metric (the message lists the known ones) or ``k < 1``.

        Example::

            result.best(3, "val_accuracy")[0]   # e.g. {"rank": 1, "index": 7, "lr": 0.0021, ..., "val_accuracy": 0.41}
        """
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"best: k={k!r} must be an int >= 1.")
        ok = ~self.diverged & np.isfinite(self.summary(metric)[0])
        return [row for row in self.rows(metric) if ok[row["index"]]][:k]

    def rows(self, metric: str = "val_loss") -> list[dict[str, Any]]:
        """One dict per config in ranking order: rank, index, hyperparameters, the mean final value of every
        metric (and its ``_std`` over seeds when seeds > 1), epochs and ``diverged_at`` (None if finite)."""
        means = {name: self.summary(name) for name in self.history}
        out = []
        for rank, i in enumerate(self.ranking(metric), 1):
            row: dict[str, Any] = {"rank": rank, "index": int(i), **self.configs[i]}
            for name, (mean, std) in means.items():
                row[name] = float(mean[i])
                if self.seeds > 1:
                    row[f"{name}_std"] = float(std[i])
            row["epochs"] = int(self.epochs[i])
            steps = self.diverged_at[i][self.diverged_at[i] >= 0]
            row["diverged_at"] = int(steps.min()) if steps.size else None
            out.append(row)
        return out

    def table(self, metric: str = "val_loss", format: str = "text") -> str:
        """All configs ranked by ``metric`` (diverged ones last, marked), as ``"text"``, ``"csv"`` or ``"json"``."""
        rows = [{name: _plain(value) for name, value in row.items()} for row in self.rows(metric)]
        if format == "json":
            return json.dumps(rows, indent=1)
        if format == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            return buffer.getvalue()
        if format != "text":
            raise ValueError(f"table: format={format!r} must be 'text', 'csv' or 'json'.")
        cells = [[_cell(name, row[name]) for name in rows[0]] for row in rows]
        header = list(rows[0])
        widths = [max(len(c) for c in column) for column in zip(header, *cells)]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [header, *cells])

    def save(self, path: str | os.PathLike, metric: str = "val_loss") -> None:
        """Writes :meth:`table` to ``path`` as CSV (``.csv``), JSON (``.json``) or text (anything else)."""
        suffix = os.path.splitext(os.fspath(path))[1].lower()
        fmt = {".csv": "csv", ".json": "json"}.get(suffix, "text")
        with open(path, "w") as f:
            f.write(self.table(metric, fmt))

    def plot(self, path: str | os.PathLike | None = None, metric: str = "val_loss", top_k: int = 5) -> Figure:
        """``metric`` against each numeric hyperparameter (log axes for log-space fields; diverged configs as
        red crosses at the worst value), and the ``top_k`` configs' learning curves. Saves to ``path`` if given."""
        from matplotlib.figure import Figure

        mean, _ = self.summary(metric)
        numeric = [name for name in self.configs.names if all(is_number(row[name]) for row in self.configs)]
        panels = len(numeric) + 1
        cols = min(panels, 3)
        fig = Figure(figsize=(4.5 * cols, 3.5 * math.ceil(panels / cols)), layout="constrained")
        axes = fig.subplots(math.ceil(panels / cols), cols, squeeze=False).ravel()
        ok = ~self.diverged & np.isfinite(mean)
        worst = (np.max if minimised(metric) else np.min)(mean[ok]) if ok.any() else 0.0
        for ax, name in zip(axes, numeric):
            x = np.array([row[name] for row in self.configs], float)
            ax.scatter(x[ok], mean[ok], s=14)
            ax.scatter(x[~ok], np.full((~ok).sum(), worst), marker="x", color="red", label="diverged")
            ax.set_xscale("log" if self.configs.specs[name].log else "linear")
            ax.set(xlabel=name, ylabel=metric)
        curves = axes[len(numeric)]
        for row in self.best(top_k, metric) if ok.any() else []:
            i = row["index"]
            curve = self.history[metric][i].mean(axis=0)[: self.epochs[i]]
            curves.plot(np.arange(1, len(curve) + 1), curve, label=f"#{i}")
        curves.set(xlabel="epoch", ylabel=metric, title=f"top {top_k}")
        curves.legend(fontsize="small")
        for ax in axes[panels:]:
            ax.set_visible(False)
        if path is not None:
            fig.savefig(path)
        return fig

    def _check(self, metric: str) -> str:
        if metric not in self.history:
            raise ValueError(f"unknown metric {metric!r}; this sweep recorded {sorted(self.history)}.")
        return metric


def _plain(value: Any) -> Any:
    """A JSON/CSV-friendly value: numbers and strings as they are, NaN as None, other objects by name."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | bool) or is_number(value):
        return value.item() if isinstance(value, np.generic) else value
    return getattr(value, "__name__", repr(value))


def _cell(name: str, value: Any) -> str:
    if name == "diverged_at":
        return "" if value is None else f"diverged@{value}"
    if value is None:
        return "nan"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
