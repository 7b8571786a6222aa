"""Searches built on :func:`~jaxnn.sweep.run`: coarse-to-fine random search and successive halving."""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnn.sweep import engine
from jaxnn.sweep.result import SweepResult, minimised
from jaxnn.sweep.space import Configs, Space


def shrink(space: Space, result: SweepResult, keep: float = 0.2, metric: str = "val_loss") -> Space:
    """``space`` narrowed to the best ``keep`` fraction of ``result``'s configs (at least one).

    Each numeric range becomes the span (min to max) of the kept configs' values; log-uniform fields stay
    log-uniform, so the next round samples the new span in log space. A choice keeps the options the kept
    configs used; a field whose kept values are all equal becomes :func:`~jaxnn.sweep.fixed`.

    Raises:
        ValueError: ``keep`` outside (0, 1], an unknown metric, or no config that did not diverge.
    """
    if not 0 < keep <= 1:
        raise ValueError(f"shrink: keep={keep!r} must be a fraction in (0, 1].")
    finite = ~result.diverged & np.isfinite(result.summary(metric)[0])
    if not finite.any():
        raise ValueError("shrink: every config diverged; widen the space towards smaller learning rates.")
    kept = result.best(max(1, math.ceil(keep * finite.sum())), metric)
    return Space(**{name: spec.narrow([row[name] for row in kept]) for name, spec in space.fields.items()})


def warn_edges(space: Space, result: SweepResult, metric: str = "val_loss") -> None:
    """Warns for every field whose best value sits at the low or high end of its range in ``space``: the
    optimum may lie outside the range."""
    best = result.best(1, metric)
    for name, spec in space.fields.items():
        side = spec.edge(best[0][name]) if best else None
        if side:
            warnings.warn(f"the best {name}={best[0][name]!r} sits at the {side} edge of {spec!r}; the optimum "
                          f"may lie outside it, widen the range.", stacklevel=3)


def coarse_to_fine(space: Space, build: Callable[[dict], Any], data: Any, rounds: int, n: int, keep: float = 0.2,
                   *, key: jax.Array | int = 0, metric: str = "val_loss", **run_kwargs: Any) -> list[SweepResult]:
    """Random search in ``rounds`` rounds of ``n`` configs, each round sampling the previous round's best
    ``keep`` fraction's span (see :func:`shrink`); warns when a round's best value is at the edge of its range.

    Round ``r`` samples with ``fold_in(key, r)`` and trains with ``key`` (so config ``i`` of every round starts
    from the same init). ``run_kwargs`` go to :func:`~jaxnn.sweep.run` (``epochs`` and ``batch_size`` at
    least); with ``checkpoint_dir`` each round checkpoints in its subfolder ``round_<r>``.

    Returns:
        One :class:`SweepResult` per round; ``results[r].configs.specs`` is the space round ``r`` sampled.

    Raises:
        Exception: whatever a round raises, with the finished rounds' results attached as its ``results``
            attribute (and a note saying so), so that an error in a later round loses none of them.

    Example::

        def build(hp):
            return sweep.Trial(nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)]), optim.adam(hp["lr"]))

        space = sweep.Space(lr=sweep.log_uniform(1e-4, 1e-1))
        ds = data.split(data.load("mnist1d"), 0.2, 0)
        results = sweep.coarse_to_fine(space, build, ds, rounds=2, n=8, epochs=2, batch_size=100)
        results[-1].best(1)
    """
    for name, value in (("rounds", rounds), ("n", n)):
        if not (isinstance(value, int) and value >= 1):
            raise ValueError(f"coarse_to_fine: {name}={value!r} must be an int >= 1.")
    if not 0 < keep <= 1:
        raise ValueError(f"coarse_to_fine: keep={keep!r} must be a fraction in (0, 1].")
    if not run_kwargs.get("all_processes", True):
        raise ValueError("coarse_to_fine: all_processes=False is not supported: every process needs each round's "
                         "results to narrow the ranges the same way. Drop the argument.")
    directory = run_kwargs.pop("checkpoint_dir", None)
    results = []
    for r in range(rounds):
        configs = space.sample(jax.random.fold_in(engine.root_key(key), r), n)
        folder = None if directory is None else os.path.join(directory, f"round_{r}")
        try:
            results.append(engine.run(build, configs, data, key=key, checkpoint_dir=folder, **run_kwargs))
            warn_edges(space, results[-1], metric)
            if r + 1 < rounds:
                space = shrink(space, results[-1], keep, metric)
        except Exception as error:
            error.results = results
            error.add_note(f"coarse_to_fine: round {r} failed; the {len(results)} finished round(s) are in this "
                           f"exception's .results.")
            raise
    return results


def successive_halving(
    build: Callable[[dict], Any],
    configs: Configs | Sequence[dict],
    data: Any,
    *,
    batch_size: int,
    min_epochs: int = 1,
    eta: int = 3,
    rungs: int | None = None,
    metric: str = "val_loss",
    checkpoint_dir: str | os.PathLike | None = None,
    **sweep_kwargs: Any,
) -> SweepResult:
    """Successive halving: train every config for ``min_epochs``, keep the best ``1/eta``, train the survivors
    on to ``eta`` times the budget from their current states, and repeat.

    Rung ``r`` ends after ``min_epochs * eta**r`` epochs in all. Survivors continue exactly where they stopped:
    their states, and the epoch numbering of their minibatch order, carry over, so a survivor's history equals
    an uninterrupted run's. Every rung trains its configs together, vmapped, like :func:`~jaxnn.sweep.run`, in
    chunks of one size for the whole call (:meth:`~jaxnn.sweep.engine.Sweep.chunk_sizes`), so the rungs after
    the first compile nothing.

    Args:
        build, configs, data, batch_size: as for :func:`~jaxnn.sweep.run`.
        min_epochs: the first rung's budget.
        eta: the reduction factor, an int >= 2: each rung keeps ``max(1, n // eta)`` configs.
        rungs: the number of rungs; default enough to end with one config.
        metric: what survivors are chosen by (mean over seeds of its value at the end of the rung; configs that
            diverged never survive).
        checkpoint_dir: checkpoint each rung's chunks in its subfolder ``rung_<r>`` (see ``run``).
        sweep_kwargs: ``seeds``, ``key``, ``shared_order``, ``chunk_size``, ``eval_sets``, ``recorders``, ... as
            for ``run``.

    Returns:
        A :class:`SweepResult` whose ``epochs`` say how far each config got; histories are NaN past that, and
        :meth:`~SweepResult.best` ranks the configs that trained longest first.

    Raises:
        ValueError: ``eta``, ``min_epochs`` or ``rungs`` out of range, or a ``metric`` the sweep does not record
            (before anything trains); whatever :func:`~jaxnn.sweep.run` raises for the other arguments.

    Example::

        result = sweep.successive_halving(build, configs, ds, batch_size=100, min_epochs=1, eta=2)
        result.best(1)
    """
    _check_eta("successive_halving", eta)
    if not (isinstance(min_epochs, int) and min_epochs >= 1):
        raise ValueError(f"successive_halving: min_epochs={min_epochs!r} must be an int >= 1.")
    start, compiled = time.perf_counter(), engine.compile_seconds()
    sweep = engine.Sweep(build, configs, data, batch_size=batch_size, **sweep_kwargs)
    n = len(sweep.configs)
    if rungs is None:
        rungs = 1 + _log_floor(n, eta)
    if not (isinstance(rungs, int) and rungs >= 1):
        raise ValueError(f"successive_halving: rungs={rungs!r} must be None or an int >= 1.")
    _check_metric("successive_halving", sweep, metric)
    ends = [min_epochs * eta**r for r in range(rungs)]
    runs = _Runs.empty(sweep, ends[-1])
    _halve(sweep, runs, np.arange(n), ends, eta, metric, checkpoint_dir,
           sweep.chunk_sizes(_rung_work(n, ends, eta)))
    return sweep.result(engine.Trained(runs.history, runs.diverged_at, []), runs.epochs, time.perf_counter() - start,
                        engine.compile_seconds() - compiled)


def _check_eta(caller: str, eta: Any) -> None:
    """Raises unless ``eta`` is an int >= 2 (not a bool)."""
    if not (isinstance(eta, int) and not isinstance(eta, bool) and eta >= 2):
        raise ValueError(f"{caller}: eta={eta!r} must be an int >= 2.")


def _log_floor(n: int, eta: int) -> int:
    """The largest ``k`` with ``eta**k <= n``, in integers (a float log can round below an exact power)."""
    k = 0
    while eta ** (k + 1) <= n:
        k += 1
    return k


def _rung_work(n: int, ends: Sequence[int], eta: int) -> list[tuple[int, int]]:
    """``(configs, epochs)`` of each rung of a halving of ``n`` configs whose rungs end after ``ends`` epochs."""
    return [(max(1, n // eta**r), end - (ends[r - 1] if r else 0)) for r, end in enumerate(ends)]


class _Runs(NamedTuple):
    """What halving fills in over all the sweep's rows: histories ``(rows, epochs)``, ``diverged_at`` and each
    config's epochs trained."""

    history: dict[str, np.ndarray]
    diverged_at: np.ndarray
    epochs: np.ndarray

    @classmethod
    def empty(cls, sweep: engine.Sweep, total: int) -> _Runs:
        """NaN histories of ``total`` epochs for every name ``sweep`` records, nothing diverged or trained."""
        n, seeds = len(sweep.configs), sweep.seeds
        history = {name: np.full((n * seeds, total), np.nan, np.float32) for name in _recorded(sweep)}
        return cls(history, np.full(n * seeds, -1, np.int64), np.zeros(n, np.int64))


def _recorded(sweep: engine.Sweep) -> list[str]:
    """Every name some group of ``sweep`` records per epoch, in first-seen order."""
    return list(dict.fromkeys(name for group in sweep.groups for name in sweep.record_names(group)))


def _check_metric(caller: str, sweep: engine.Sweep, metric: str) -> None:
    """Raises before anything trains unless ``sweep`` records ``metric``."""
    if metric not in _recorded(sweep):
        raise ValueError(f"{caller}: unknown metric {metric!r}; this sweep records {sorted(_recorded(sweep))}.")


def _halve(sweep: engine.Sweep, runs: _Runs, alive: np.ndarray, ends: Sequence[int], eta: int, metric: str,
           checkpoint_dir: str | os.PathLike | None, sizes: dict[tuple, int]) -> list[dict[str, int]]:
    """Successive halving of the configs ``alive`` of ``sweep``, rung ``r`` ending after ``ends[r]`` epochs,
    every rung in chunks of ``sizes``; fills in ``runs`` and returns one row per rung (``rung``, ``configs``,
    ``epochs`` at its end, ``survivors``)."""
    seeds, done, states, table = sweep.seeds, 0, None, []
    for r, target in enumerate(ends):
        rows = (alive[:, None] * seeds + np.arange(seeds)).ravel()
        folder = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"rung_{r}")
        last = r + 1 == len(ends)
        trained = sweep.train(rows, target - done, done, states, keep_states=not last, checkpoint_dir=folder,
                              sizes=sizes)
        for name, values in trained.history.items():
            runs.history[name][rows, done:target] = values
        runs.diverged_at[rows] = trained.diverged_at
        runs.epochs[alive], done, states = target, target, trained.states
        table.append({"rung": r, "configs": int(alive.size), "epochs": target, "survivors": 0})
        if not last:
            alive = _survivors(alive, runs.history, runs.diverged_at, target, seeds, eta, metric)
            table[-1]["survivors"] = int(alive.size)
            if not alive.size:
                break
    return table


def _survivors(alive: np.ndarray, history: dict[str, np.ndarray], diverged_at: np.ndarray, epoch: int, seeds: int,
               eta: int, metric: str) -> np.ndarray:
    """The best ``max(1, len(alive) // eta)`` of ``alive`` by ``metric`` after ``epoch`` epochs, sorted by index."""
    rows = (alive[:, None] * seeds + np.arange(seeds)).ravel()
    score = history[metric][rows, epoch - 1].reshape(-1, seeds).mean(axis=1)
    score = score if minimised(metric) else -score
    ok = ~(diverged_at[rows] >= 0).reshape(-1, seeds).any(axis=1) & np.isfinite(score)
    ranked = [i for i in np.argsort(score, kind="stable") if ok[i]]
    return np.sort(alive[ranked[: max(1, len(alive) // eta)]])
