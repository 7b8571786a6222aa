"""``lr_find``: the learning-rate range test (Smith 2017) for every config of a sweep at once.

Each config is a row that trains for ``steps`` minibatches while its learning rate rises geometrically from
``low`` to ``high``, ``lr_t = low · (high/low)^(t/(steps−1))``. The ramp is
:func:`jaxnn.optim.exponential_ramp`, passed to ``build`` in place of the config's learning rate; its parameters
are float32 leaves of each row's optimizer state (as all of jaxnn's hyperparameters are), so one compiled
program per static group serves every row and every range, whatever the optimizer, and each row keeps its other
hyperparameters (momentum, betas, weight decay, dropout). The rows train with the sweep's own machinery: the
group's :class:`~jaxnn.sweep.program.Program`, its init keys (``config_key``), the shared minibatch order
(``order_key``) and the stacked trainer's vmapped, guarded step (:func:`jaxnn.train.guarded_step`) scanned
over all ``steps`` minibatches at once, which returns every step's loss.

Then, on the host, per row (the rule of fastai's ``LRFinder`` and its ``steep`` suggestion):

- **smoothed loss** ``s_t = a_t / (1 − β^(t+1))`` with ``a_t = β·a_(t−1) + (1 − β)·loss_t``, ``a_(−1) = 0``,
  ``β = 0.98``: fastai's exponential moving average with bias correction.
- **counted range** ``[0, end)``: ``end`` is the first step whose smoothed loss exceeds ``k ×`` the smallest
  smoothed loss up to it (fastai's ``stop_div``, ``k = 4``) or is not finite (the row diverged), else ``steps``.
  ``smoothed`` is NaN from ``end`` on; ``losses`` keeps every step (the rows are one program and all train
  ``steps`` steps), NaN only from the step a row diverged.
- **suggestion**: the learning rate at the steepest descent of the smoothed loss against log lr,
  ``lr_t*`` with ``t* = argmin_t (s_(t+1) − s_t) / (ln lr_(t+1) − ln lr_t)`` over
  ``⌊steps/10⌋ <= t`` and ``t + 1 < end`` (both points counted; the first tenth skipped, as fastai does,
  because there the lr is too small to move the loss and the bias-corrected average is still noisy; fastai
  also drops the last 5 recorded steps, here only the stopping step is left out). NaN when that window is
  empty. Why this rule and not fastai's default ``valley`` or ``minimum/10``: it is where the loss falls
  fastest per factor of lr, a function of the smoothed curve alone; ``valley`` is a heuristic about the longest
  decreasing stretch, and the minimum moves with the noise just before the blow-up (:meth:`LRFindResult.rows`
  reports ``lr_at_min`` for those who want ``minimum/10``).

fastai's ``lr_find`` and Lightning's ``Tuner.lr_find`` run the test for one model at a time; here "the best lr
for each of these 8 optimizer settings" is one call.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import multihost, optim, train
from jaxnn._compile_time import compile_seconds
from jaxnn.sweep.engine import Sweep, order_key
from jaxnn.sweep.program import Hyperparameters
from jaxnn.sweep.space import Configs, choice
from jaxnn.train.epoch import row_step

if TYPE_CHECKING:  # matplotlib costs ~0.4 s to import: only plot() loads it
    from matplotlib.figure import Figure

BETA = 0.98
"""fastai's smoothing factor of the loss (``AvgSmoothLoss``)."""

_RAMP = ("lr_find.low", "lr_find.high", "lr_find.total_steps")
"""Traced fields lr_find adds to every config: the ramp's ends and length, read by the wrapped build."""


@dataclass
class LRFindResult:
    """What :func:`lr_find` measured.

    Attributes:
        configs: the configurations, in the order given (row ``i`` is ``configs[i]``).
        lrs: ``(steps,)`` the learning rate of every step, the ramp evaluated in float32 as the rows' optimizers
            evaluate it.
        losses: ``(rows, steps)`` each step's minibatch loss, counted or not; NaN from the step a row diverged.
        smoothed: ``(rows, steps)`` the bias-corrected moving average of ``losses`` (``β = 0.98``) over the
            counted steps, NaN from ``stopped_at`` on.
        suggested: ``(rows,)`` the lr at the steepest descent of ``smoothed`` (see the module docstring); NaN
            where fewer than two steps past the first tenth were counted.
        stopped_at: ``(rows,)`` the first step not counted (``steps`` when all were).
        diverged_at: ``(rows,)`` the step at which a row's loss or params stopped being finite, -1 if never.
        k: the stopping factor used.
        lr_field: the field the ramp replaced (left out of :meth:`rows`: its value in ``configs`` was not used).
        wall_time: seconds the call took, compilation included; ``compile_time`` the part spent compiling.
    """

    configs: Configs
    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested: np.ndarray
    stopped_at: np.ndarray
    diverged_at: np.ndarray
    k: float
    lr_field: str
    wall_time: float
    compile_time: float

    def rows(self) -> list[dict[str, Any]]:
        """One dict per config, in order: index, its fields but ``lr_field``, ``suggested``, the smallest smoothed
        loss and the lr where it was reached (``min_loss``, ``lr_at_min``), ``stopped_at`` and ``diverged_at``
        (None if finite)."""
        out = []
        for i, config in enumerate(self.configs):
            counted = np.isfinite(self.smoothed[i])
            best = int(np.nanargmin(self.smoothed[i])) if counted.any() else None
            fields = {name: value for name, value in config.items() if name != self.lr_field}
            out.append({"index": i, **fields, "suggested": float(self.suggested[i]),
                        "min_loss": float(self.smoothed[i, best]) if best is not None else math.nan,
                        "lr_at_min": float(self.lrs[best]) if best is not None else math.nan,
                        "stopped_at": int(self.stopped_at[i]),
                        "diverged_at": int(self.diverged_at[i]) if self.diverged_at[i] >= 0 else None})
        return out

    def table(self) -> str:
        """:meth:`rows` as aligned text, one line per config."""
        rows = self.rows()
        header = list(rows[0])
        cells = [[_cell(row[name]) for name in header] for row in rows]
        widths = [max(len(c) for c in column) for column in zip(header, *cells)]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in [header, *cells])

    def plot(self, path: Any = None, labels: Sequence[str] | None = None) -> Figure:
        """Every row's smoothed loss against the lr (log axis) over its counted steps, its suggestion marked with a
        dot; ``labels`` name the rows in the legend (default ``#i``). Saves to ``path`` if given."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.2), layout="constrained")
        ax = fig.subplots()
        labels = list(labels) if labels is not None else [f"#{i}" for i in range(len(self.configs))]
        for i, label in enumerate(labels):
            (line,) = ax.plot(self.lrs, self.smoothed[i], label=label)
            if np.isfinite(self.suggested[i]):
                t = int(np.argmin(np.abs(np.log(self.lrs) - np.log(self.suggested[i]))))
                ax.plot(self.lrs[t], self.smoothed[i, t], "o", color=line.get_color())
        ax.set(xscale="log", xlabel="learning rate", ylabel=f"smoothed loss (β = {BETA})",
               title=f"LR range test: dots at the steepest descent, curves end where loss > {self.k:g}× min")
        ax.legend(fontsize="small")
        if path is not None:
            fig.savefig(path)
        return fig


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def lr_find(
    build: Callable[[dict], Any],
    configs: Configs | Sequence[dict],
    data: Any,
    *,
    batch_size: int,
    low: float = 1e-7,
    high: float = 10.0,
    steps: int = 100,
    k: float = 4.0,
    lr_field: str = "lr",
    key: jax.Array | int = 0,
    devices: Sequence[Any] | None = None,
) -> LRFindResult:
    """The learning-rate range test for every config at once: one compiled program per static group.

    Row ``i`` (config ``i``) trains ``steps`` minibatches with ``lr_t = low · (high/low)^(t/(steps−1))`` and its
    other hyperparameters as ``build`` makes them; the suggestion is the lr at the steepest descent of its
    smoothed loss. The exact rules (smoothing, stop, suggestion) are in :mod:`jaxnn.sweep.lr_find`.

    Args:
        build: ``build(hp) -> Trial``, as for :func:`jaxnn.sweep.run`; ``hp[lr_field]`` is an
            :func:`jaxnn.optim.exponential_ramp` schedule here, so ``build`` must pass it straight to the
            optimizer as its learning rate (``optim.adam(hp["lr"])``), not compute with it.
        configs: from :meth:`Space.sample` or :func:`grid`, or a list of dicts (``[{}]`` for one model); a
            ``lr_field`` value in them is ignored (the ramp replaces it).
        data: as for :func:`jaxnn.sweep.run`: a Dataset or ``((x_train, y_train), (x_eval, y_eval))``; the test
            trains on the training split only.
        batch_size: minibatch size; the minibatches are the sweep's (``train.epoch_batches`` of
            ``sweep.order_key(key)``, epoch after epoch as long as ``steps`` needs).
        low: the first step's learning rate, ``> 0`` (fastai's default ``1e-7``).
        high: the last step's learning rate, ``> low`` (fastai's default 10).
        steps: the number of steps, an int ``>= 2`` (fastai's default 100).
        k: a row stops counting once its smoothed loss exceeds ``k`` times its minimum so far, ``k > 1``
            (fastai's ``stop_div`` uses 4). Losses must be positive for this to mean anything (cross-entropy,
            MSE).
        lr_field: the field of ``hp`` that ``build`` passes to the optimizer as its learning rate.
        key: the root key (or int seed): init keys ``config_key(key, i)`` and the minibatch order.
        devices: devices to shard the rows over; default ``jax.devices()``.

    Returns:
        An :class:`LRFindResult`.

    Raises:
        ValueError: ``low``, ``high``, ``steps`` or ``k`` out of range, or ``lr_field`` not a str (named, before
            anything is built or trained); anything :func:`jaxnn.sweep.run` refuses.
        TypeError: ``build`` does not accept a schedule as ``hp[lr_field]`` (it computes with it).

    Example::

        found = sweep.lr_find(build, configs, ds, batch_size=100, low=1e-5, high=1.0, steps=40)
        found.suggested          # one lr per config
        print(found.table())
    """
    _check(low, high, steps, k, lr_field)
    start, compiled = time.perf_counter(), compile_seconds()
    configs = configs if isinstance(configs, Configs) else Configs.from_dicts(list(configs))
    try:
        setup = Sweep(_ramped(build, lr_field), _with_ramp(configs, low, high, steps), data,
                      batch_size=batch_size, key=key, devices=devices, progress=False)
    except TypeError as error:
        error.add_note(f"lr_find passes hp[{lr_field!r}] to build as an optim.Schedule (the lr ramp): build must "
                       f"hand it to the optimizer as is, e.g. optim.sgd(hp[{lr_field!r}]).")
        raise
    losses, diverged_at = _train(setup, steps)
    lrs = np.asarray(optim.exponential_ramp(low, high, steps - 1)(np.arange(steps)), np.float64)
    smoothed = _smooth(losses)
    stopped_at = _counted(smoothed, k)
    smoothed = np.where(np.arange(steps)[None, :] >= stopped_at[:, None], np.nan, smoothed)
    return LRFindResult(configs, lrs, losses, smoothed, _steepest(lrs, smoothed, stopped_at), stopped_at,
                        diverged_at, float(k), lr_field, time.perf_counter() - start, compile_seconds() - compiled)


def _check(low: Any, high: Any, steps: Any, k: Any, lr_field: Any) -> None:
    def number(v: Any) -> bool:
        return isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and math.isfinite(v)

    checks = [("low", low, number(low) and low > 0, "a finite number > 0"),
              ("high", high, number(high) and number(low) and high > low, f"a finite number > low={low!r}"),
              ("steps", steps, isinstance(steps, int | np.integer) and not isinstance(steps, bool) and steps >= 2,
               "an int >= 2"),
              ("k", k, number(k) and k > 1, "a finite number > 1"),
              ("lr_field", lr_field, isinstance(lr_field, str), "the name (a str) of the learning-rate field")]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ValueError(f"lr_find: {name}={value!r} is not allowed: it must be {allowed}.")


@functools.cache
def _ramped(build: Callable[[dict], Any], lr_field: str) -> Callable[[dict], Any]:
    """``build`` with ``hp[lr_field]`` replaced by the ramp read from the rows' ramp fields; one function per
    ``(build, lr_field)``, so the sweep's program cache serves every later call."""

    def ramped(hp: dict) -> Any:
        ramp = optim.exponential_ramp(*(hp[name] for name in _RAMP))
        return build(Hyperparameters({**{n: v for n, v in hp.items() if n not in _RAMP}, lr_field: ramp}))

    return ramped


def _with_ramp(configs: Configs, low: float, high: float, steps: int) -> Configs:
    """``configs`` with the ramp's parameters as traced fields, the same in every row."""
    clash = [name for name in _RAMP if name in configs.names]
    if clash:
        raise ValueError(f"lr_find: the config fields {clash} are reserved for the lr ramp; rename them.")
    ramp = dict(zip(_RAMP, (float(low), float(high), float(steps - 1))))
    return Configs([{**config, **ramp} for config in configs],
                   {**configs.specs, **{name: choice([value]) for name, value in ramp.items()}})


def _train(setup: Sweep, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Every group's rows through ``steps`` guarded, vmapped steps in one scan: ``(rows, steps)`` losses and
    ``(rows,)`` divergence steps."""
    x, y = setup.train_xy
    batches = multihost.reshard(_batches(setup.key, x.shape[0], setup.batch_size, steps), setup.replicated)
    losses = np.full((len(setup.configs), steps), np.nan)
    diverged_at = np.full(len(setup.configs), -1, np.int64)
    for group, ids in setup.groups.items():
        ids = np.asarray(ids)
        padded = np.pad(ids, (0, -ids.size % len(setup.devices)), "edge")  # rows split evenly over the devices
        rows = setup._initial(group, padded)
        epoch = train.scan_epoch(row_step(setup.programs[group].step_for, True, False))
        rows, metrics = epoch(rows, x, y, batches)
        loss, diverged = setup.placement.to_host((metrics["loss"], rows.diverged_at))
        losses[ids], diverged_at[ids] = loss.T[: ids.size], diverged[: ids.size]
    return losses, diverged_at


def _batches(key: jax.Array, n: int, batch_size: int, steps: int) -> jax.Array:
    """The first ``steps`` minibatches of the sweep's shared order, epoch after epoch (full batches only)."""
    epochs = math.ceil(steps / (n // batch_size))
    return jnp.concatenate([train.epoch_batches(order_key(key), e, n, batch_size)[0] for e in range(epochs)])[:steps]


def _smooth(losses: np.ndarray, beta: float = BETA) -> np.ndarray:
    """fastai's smoothed loss along the last axis: ``a_t = β·a_(t−1) + (1 − β)·loss_t`` from ``a_(−1) = 0``,
    debiased as ``a_t / (1 − β^(t+1))``; NaN from a non-finite loss on."""
    losses = np.asarray(losses, np.float64)
    average, out = np.zeros(losses.shape[:-1]), np.empty_like(losses)
    for t in range(losses.shape[-1]):
        average = beta * average + (1 - beta) * losses[..., t]
        out[..., t] = average / (1 - beta ** (t + 1))
    return out


def _counted(smoothed: np.ndarray, k: float) -> np.ndarray:
    """Per row, the first step whose smoothed loss is not finite or exceeds ``k`` × the minimum up to and
    including it (fastai's ``stop_div``); the number of steps where there is none."""
    smoothed = np.asarray(smoothed, np.float64)
    finite = np.isfinite(smoothed)
    best = np.minimum.accumulate(np.where(finite, smoothed, np.inf), axis=-1)
    stop = ~finite | (smoothed > k * best)
    return np.where(stop.any(axis=-1), stop.argmax(axis=-1), smoothed.shape[-1])


def _steepest(lrs: np.ndarray, smoothed: np.ndarray, stopped_at: np.ndarray) -> np.ndarray:
    """Per row, ``lrs[t*]`` with ``t*`` the argmin of ``(s_(t+1) − s_t) / (ln lrs_(t+1) − ln lrs_t)`` over
    ``len(lrs) // 10 <= t`` and ``t + 1 < stopped_at``; NaN where that window is empty."""
    lrs, smoothed = np.asarray(lrs, np.float64), np.asarray(smoothed, np.float64)
    slope = np.diff(smoothed, axis=-1) / np.diff(np.log(lrs))
    t = np.arange(slope.shape[-1])
    window = (t >= len(lrs) // 10) & (t[None, :] + 1 < np.asarray(stopped_at)[:, None])
    slope = np.where(window, slope, np.inf)
    return np.where(window.any(axis=-1), lrs[slope.argmin(axis=-1)], np.nan)
