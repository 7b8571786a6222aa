"""Optuna's samplers and pruners on stacked rows: :func:`optimize` asks an ``optuna.Study`` for a batch of
trials, trains the batch as the rows of one compiled program, reports every row's metric to the study after
each epoch so that its pruner can stop rows, and tells the results; batch after batch.

The study stays the user's: its sampler chooses the configurations, its pruner decides which rows stop, and
its storage and dashboard see every trial as if ``study.optimize`` had run it. What changes is where the trials
run: not one after another, but ``batch`` at a time, vmapped, like :func:`~jaxnn.sweep.run`. Needs the
``optuna`` extra (``pip install jaxnn[optuna]``); ``import jaxnn`` does not import optuna.

Example::

    import optuna

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    result = sweep.optuna.optimize(study, build, ds, space=space, n_trials=4, batch=4, epochs=1, batch_size=100)
    study.best_params, result.best(1)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import numpy as np

from jaxnn._compile_time import compile_seconds
from jaxnn.sweep import engine
from jaxnn.sweep.result import SweepResult, minimised
from jaxnn.sweep.space import (
    Choice,
    Configs,
    Distribution,
    Fixed,
    IntUniform,
    LogUniform,
    Space,
    Uniform,
    choice,
    is_number,
)
from jaxnn.train import early_stopping

if TYPE_CHECKING:  # optuna is an optional extra, imported only when the bridge runs
    import optuna

_UNSUPPORTED = {
    "seeds": "one trial is one run; run the study's best configs again with sweep.run(..., seeds=n)",
    "progress": "Optuna logs every finished trial; per-epoch bars would print once per epoch and batch",
    "checkpoint_dir": "the study's storage is the record of finished trials; an unfinished batch is told FAIL",
    "all_processes": "one process asks and tells the study",
}


def optimize(
    study: optuna.Study,
    build: Callable[[dict], Any],
    data: Any,
    *,
    epochs: int,
    batch_size: int,
    space: Space | None = None,
    suggest: Callable[[optuna.Trial], Mapping[str, Any]] | None = None,
    n_trials: int | None = None,
    timeout: float | None = None,
    batch: int = 8,
    metric: str = "val_loss",
    mode: str | None = None,
    key: jax.Array | int = 0,
    **sweep_kwargs: Any,
) -> SweepResult:
    """Runs ``study``'s trials ``batch`` at a time as rows of one program, until ``n_trials`` or ``timeout``.

    Each batch: ``batch`` trials are asked (the last batch fewer, to end at ``n_trials``); their configs,
    grouped by static values as in :func:`~jaxnn.sweep.run`, are padded with frozen copies to ``batch`` rows
    per group, so every batch of a study reuses the same compiled programs. Then for epoch ``e = 1 ..
    epochs`` every live row trains one epoch, and each live trial gets ``trial.report(value, e)`` with
    ``value`` its ``metric`` after epoch ``e``, then ``trial.should_prune()``:

    - pruned: the row freezes (``Rows.stopped``: the guarded step keeps its state as it is) and the trial is
      told ``PRUNED`` (Optuna records its last reported value);
    - diverged (non-finite loss or params): the row is frozen by the guard and the trial is told ``FAIL``, as
      Optuna does for an objective that returns NaN;
    - after the last epoch: the trial is told its final ``metric`` (``COMPLETE``).

    A batch ends early when none of its rows is live. ``timeout`` is checked between batches, as Optuna checks
    it between trials (the first batch always runs). Trial number ``n`` starts from
    ``sweep.config_key(key, n)`` and all trials share the minibatch order of ``key``, so a trial trains
    exactly as config ``n`` of ``sweep.run(configs, key=key)``; a pruner compares rows that saw the same
    minibatches. Optuna's pruners compare a trial with *finished* trials, so the first batch is never pruned,
    and samplers learn only from told trials: a larger ``batch`` runs more rows per step, a smaller one
    lets the sampler and pruner act on more results (``TPESampler(constant_liar=True)``, Optuna's default,
    spreads the trials of one batch apart).

    Args:
        study: a single-objective ``optuna.Study``; its direction must agree with ``mode``.
        build: ``build(hp) -> Trial``, as for :func:`~jaxnn.sweep.run`.
        data: a ``jaxnn.data`` Dataset or ``((x_train, y_train), (x_eval, y_eval))``, as for ``run``.
        epochs: epochs per trial (an int >= 1); the reports' steps are 1 .. epochs.
        batch_size: minibatch size.
        space: a :class:`~jaxnn.sweep.Space`: ``log_uniform`` / ``uniform`` become Optuna float distributions
            (log or not), ``int_uniform`` an int distribution, ``choice`` a categorical one (options None,
            bool, int, float or str); ``fixed`` fields are passed to ``build`` without asking.
        suggest: instead of ``space``, ``suggest(trial) -> dict`` calling ``trial.suggest_*``; every trial must
            return the same names. Numeric values are traced and others static, as in
            :meth:`Configs.from_dicts`; a value from no ``suggest_*`` call (a derived one) is taken as given.
        n_trials: trials to run in this call (an int >= 1), or None to run until ``timeout``.
        timeout: seconds after which no new batch starts, or None.
        batch: trials per batch (an int >= 1).
        metric: the recorded name reported and told (``val_loss``, ``val_accuracy``, ...).
        mode: ``"min"`` or ``"max"``; default ``"min"`` for names containing "loss", else ``"max"``.
        key: the root key: init keys and the shared minibatch order (see :func:`~jaxnn.sweep.config_key`).
        sweep_kwargs: ``shared_order``, ``chunk_size``, ``memory_budget``, ``eval_batch_size``, ``devices``,
            ``eval_sets``, ``recorders``, as for ``run``.

    Returns:
        A :class:`~jaxnn.sweep.SweepResult` over this call's trials in the order they were asked
        (``result.configs[i]`` is their params); ``epochs`` say how far each trained (a pruned trial stopped
        after its last report) and histories are NaN past that.

    Raises:
        ValueError: before any trial is asked, for an out-of-range ``n_trials``, ``timeout``, ``batch``,
            ``epochs``, ``mode``, a ``mode`` the study's direction contradicts, a multi-objective study, a
            ``space`` field Optuna cannot express, neither or both of ``space`` and ``suggest``, or an
            unsupported keyword; before a batch trains, for an unknown ``metric``, a ``suggest`` whose trials
            return different names or kinds of values, or what :func:`~jaxnn.sweep.run` refuses. The asked
            trials of a batch that raises are told ``FAIL``.
        TypeError: ``study`` is not an ``optuna.Study``; ``suggest`` does not return a dict.

    Example::

        import optuna

        def suggest(trial):
            return {"lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True), "optimizer": "adam",
                    "weight_decay": 0.0, "dropout": trial.suggest_float("dropout", 0.0, 0.5)}

        study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=2))
        result = sweep.optuna.optimize(study, build, ds, suggest=suggest, n_trials=4, batch=2, epochs=2,
                                       batch_size=100)
        [t.state.name for t in study.trials]   # COMPLETE for the first batch; the second may be PRUNED
    """
    import optuna

    _check(study, space, suggest, n_trials, timeout, batch, epochs, metric, mode, sweep_kwargs)
    distributions = None if space is None else {name: _distribution(name, spec) for name, spec in space.fields.items()
                                                if not isinstance(spec, Fixed)}
    start, compiled = time.perf_counter(), compile_seconds()
    done: list[_Outcome] = []
    specs = None if space is None else space.fields
    while n_trials is None or len(done) < n_trials:
        size = batch if n_trials is None else min(batch, n_trials - len(done))
        trials: list[optuna.Trial] = []
        try:
            for _ in range(size):  # one by one, so that a failing ask leaves no asked trial untold
                trials.append(study.ask(distributions))
            configs, specs = _configs(trials, space, suggest, specs)
            done += _run_batch(study, build, data, trials, configs, specs, batch, epochs, batch_size, metric, key,
                               sweep_kwargs)
        except BaseException:
            for trial in trials:
                study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
            raise
        if timeout is not None and time.perf_counter() - start >= timeout:
            break
    return _result(done, specs, time.perf_counter() - start, compile_seconds() - compiled)


class _Outcome(NamedTuple):
    """One trial's params and what its row recorded: ``history[name]`` per epoch, NaN after it stopped."""

    config: dict
    history: dict[str, np.ndarray]
    diverged_at: int
    epochs: int


def _check(study: Any, space: Any, suggest: Any, n_trials: Any, timeout: Any, batch: Any, epochs: Any,
           metric: Any, mode: Any, sweep_kwargs: Mapping[str, Any]) -> None:
    """Raises for every argument the docstring forbids, naming it."""
    import optuna

    if not isinstance(study, optuna.Study):
        raise TypeError(f"optimize: study={study!r:.100} must be an optuna.Study (optuna.create_study(...)).")
    if len(study.directions) != 1:
        raise ValueError(f"optimize: the study has {len(study.directions)} objectives; optimize tells one value per "
                         f"trial and Optuna prunes single-objective studies only. Create it with one direction.")
    if (space is None) == (suggest is None):
        raise ValueError("optimize: pass exactly one of space=sweep.Space(...) and suggest=fn(trial) -> dict.")
    if space is not None and not isinstance(space, Space):
        raise ValueError(f"optimize: space={space!r:.100} must be a sweep.Space.")
    if suggest is not None and not callable(suggest):
        raise ValueError(f"optimize: suggest={suggest!r:.100} must be a function trial -> dict of params.")
    counts = [("batch", batch, False), ("epochs", epochs, False), ("n_trials", n_trials, True)]
    for name, value, optional in counts:
        if not ((optional and value is None) or engine._int(value) >= 1):
            allowed = "None or an int >= 1" if optional else "an int >= 1"
            raise ValueError(f"optimize: {name}={value!r} is not allowed: it must be {allowed}.")
    if timeout is not None and not (is_number(timeout) and 0 < timeout < math.inf):
        raise ValueError(f"optimize: timeout={timeout!r} is not allowed: it must be None or seconds > 0.")
    if n_trials is None and timeout is None:
        raise ValueError("optimize: n_trials and timeout are both None, so it would never end; give one of them.")
    for name in sweep_kwargs:
        if name in _UNSUPPORTED:
            raise ValueError(f"optimize: {name}= is not supported: {_UNSUPPORTED[name]}.")
    mode = mode if mode is not None else ("min" if isinstance(metric, str) and minimised(metric) else "max")
    early_stopping.check(metric, mode, None, "optimize")
    wanted = "minimize" if mode == "min" else "maximize"
    if study.direction.name.lower() != wanted:
        raise ValueError(f"optimize: metric={metric!r} with mode={mode!r} should be {wanted}d, but the study "
                         f"{study.direction.name.lower()}s; create it with optuna.create_study(direction={wanted!r}) "
                         f"or pass the mode of your metric.")


def _distribution(name: str, spec: Distribution) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of a ``Space`` field."""
    from optuna import distributions as od

    if isinstance(spec, LogUniform | Uniform):
        return od.FloatDistribution(float(spec.low), float(spec.high), log=spec.log)
    if isinstance(spec, IntUniform):
        return od.IntDistribution(int(spec.low), int(spec.high))
    if isinstance(spec, Choice):
        options = [o.item() if isinstance(o, np.generic) else o for o in spec.options]
        if not all(o is None or isinstance(o, bool | int | float | str) for o in options):
            raise ValueError(f"optimize: space field {name!r} is {spec!r:.200}; Optuna's categorical options must "
                             f"be None, bool, int, float or str. Choose by name (choice(['small', 'large'])) and "
                             f"map the name to the object inside build.")
        return od.CategoricalDistribution(options)
    raise ValueError(f"optimize: space field {name!r} is {spec!r:.200}, which has no Optuna distribution; use "
                     f"log_uniform, uniform, int_uniform, choice or fixed.")


def _spec(distribution: Any, value: Any) -> Distribution:
    """The ``Space`` field an Optuna distribution stands for (a value from no distribution: as given)."""
    from optuna import distributions as od

    if isinstance(distribution, od.FloatDistribution) and distribution.low < distribution.high:
        return LogUniform(distribution.low, distribution.high) if distribution.log else \
            Uniform(distribution.low, distribution.high)
    if isinstance(distribution, od.IntDistribution) and distribution.low < distribution.high:
        return IntUniform(distribution.low, distribution.high)
    if isinstance(distribution, od.CategoricalDistribution):
        return choice(list(distribution.choices))
    return choice([value])  # derived, or a range of one value


def _kind(spec: Distribution) -> tuple[bool, str]:
    """What the engine does with a field: static or traced, and the traced dtype."""
    return spec.static, np.dtype(spec.dtype).name


def _configs(trials: Sequence[optuna.Trial], space: Space | None, suggest: Callable | None,
             specs: Mapping[str, Distribution] | None) -> tuple[list[dict], Mapping[str, Distribution]]:
    """The batch's configs and their specs; with ``suggest``, checked against the specs of earlier trials."""
    if space is not None:
        fixed = {name: spec.value for name, spec in space.fields.items() if isinstance(spec, Fixed)}
        params = [{**trial.params, **fixed} for trial in trials]
        return [{name: p[name] for name in space.fields} for p in params], space.fields
    configs = []
    for trial in trials:
        config = suggest(trial)
        if not isinstance(config, Mapping):
            raise TypeError(f"optimize: suggest(trial) returned {config!r:.100}; it must return a dict of params.")
        config = dict(config)
        mine = {name: _spec(trial.distributions.get(name), value) for name, value in config.items()}
        specs = mine if specs is None else specs
        if set(mine) != set(specs):
            raise ValueError(f"optimize: suggest returned {sorted(mine)} for trial {trial.number} but {sorted(specs)} "
                             f"before; every trial must return the same names (give a conditional param a value "
                             f"in every branch).")
        for name in specs:
            if _kind(mine[name]) != _kind(specs[name]):
                raise ValueError(f"optimize: suggest returned {name}={config[name]!r} for trial {trial.number}, a "
                                 f"{_describe(mine[name])} value, but {_describe(specs[name])} values before; a "
                                 f"field keeps one kind (cast it, e.g. float(...)).")
        configs.append(config)
    return configs, specs


def _describe(spec: Distribution) -> str:
    static, dtype = _kind(spec)
    return "static" if static else f"traced {dtype}"


def _run_batch(study: optuna.Study, build: Callable, data: Any, trials: Sequence[optuna.Trial], configs: list[dict],
               specs: Mapping[str, Distribution], batch: int, epochs: int, batch_size: int, metric: str,
               key: jax.Array | int, sweep_kwargs: Mapping[str, Any]) -> list[_Outcome]:
    """Trains one batch epoch by epoch, reporting to and telling the study."""
    table, ids, pads = _layout(trials, configs, specs, batch)
    sweep = engine.Sweep(build, Configs(table, specs), data, batch_size=batch_size, key=key, progress=False,
                         **sweep_kwargs)
    recorded = sweep.record_names(next(iter(sweep.groups)))
    if metric not in recorded:
        raise ValueError(f"optimize: metric={metric!r} is not recorded; the sweep records {sorted(recorded)}.")
    rows, n = np.concatenate([ids, pads]), len(ids)
    states = _freeze(sweep.train(rows, 0, keep_states=True).states, pads)
    history: dict[str, np.ndarray] = {}
    live, trained, diverged_at = np.ones(n, bool), np.zeros(n, np.int64), np.full(n, -1, np.int64)
    for epoch in range(epochs):
        out = sweep.train(rows, 1, epoch, states, keep_states=epoch + 1 < epochs)
        for name, values in out.history.items():
            history.setdefault(name, np.full((n, epochs), np.nan, np.float32))[live, epoch] = values[:n][live, 0]
        trained[live] = epoch + 1
        diverged = live & (out.diverged_at[:n] >= 0)
        diverged_at[diverged] = out.diverged_at[:n][diverged]
        live &= ~diverged
        live &= ~_report(study, trials, history[metric][:, epoch], live, epoch + 1)
        for i in np.flatnonzero(diverged):
            study.tell(trials[i], state=_state("FAIL"))
        if not live.any():
            break
        states = _freeze(out.states, ids[~live])
    for i in np.flatnonzero(live):
        study.tell(trials[i], float(history[metric][i, epochs - 1]))
    return [_Outcome(configs[i], {name: h[i] for name, h in history.items()}, int(diverged_at[i]), int(trained[i]))
            for i in range(n)]


def _state(name: str) -> Any:
    import optuna

    return optuna.trial.TrialState[name]


def _layout(trials: Sequence[optuna.Trial], configs: list[dict], specs: Mapping[str, Distribution], batch: int
            ) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The sweep's config table, the rows of the trials and the padding rows.

    Trial ``t`` is row ``t.number`` (so it gets ``config_key(key, t.number)``); rows no trial of the batch uses
    hold a copy of its first config and are not trained. Each static group is padded to ``batch`` rows with
    copies of its first config: every batch has the same chunk shapes, so nothing compiles again."""
    numbers = np.array([trial.number for trial in trials])
    table = [configs[0]] * (int(numbers.max()) + 1)
    for number, config in zip(numbers, configs):
        table[number] = config
    groups: dict[tuple, list[dict]] = {}
    for config in configs:
        groups.setdefault(tuple(repr(config[n]) for n in specs if specs[n].static), []).append(config)
    pads = [members[0] for members in groups.values() for _ in range(batch - len(members))]
    return table + pads, numbers, np.arange(len(table), len(table) + len(pads))


def _freeze(states: list[engine.Chunk], ids: np.ndarray) -> list[engine.Chunk]:
    """``states`` with the rows ``ids`` marked stopped: from then on the guarded step keeps them as they are."""
    return [chunk._replace(rows=chunk.rows._replace(stopped=chunk.rows.stopped | np.isin(chunk.ids, ids)))
            for chunk in states]


def _report(study: optuna.Study, trials: Sequence[optuna.Trial], values: np.ndarray, live: np.ndarray,
            epoch: int) -> np.ndarray:
    """Reports ``values`` of the live trials at step ``epoch``; tells the pruned ones PRUNED and returns them."""
    pruned = np.zeros(len(trials), bool)
    for i in np.flatnonzero(live):
        trials[i].report(float(values[i]), epoch)
        if trials[i].should_prune():
            study.tell(trials[i], state=_state("PRUNED"))
            pruned[i] = True
    return pruned


def _result(done: list[_Outcome], specs: Mapping[str, Distribution], wall: float, compiled: float) -> SweepResult:
    history = {name: np.stack([o.history[name] for o in done])[:, None, :] for name in done[0].history}
    return SweepResult(Configs([o.config for o in done], specs), history,
                       np.array([[o.diverged_at] for o in done], np.int64), np.array([o.epochs for o in done]),
                       wall, compiled)
