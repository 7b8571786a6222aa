"""``pbt``: Population-Based Training (Jaderberg et al. 2017) with the whole population as one compiled program.

The population is the rows of one static group of :class:`~jaxnn.sweep.engine.Sweep`: it trains through the
same stacked epoch as :func:`~jaxnn.sweep.run` (``train.run_rows``), and every ``perturbation_interval`` epochs
one jitted function of ``(rows, key, scores)`` exploits and explores on the device; nothing compiles again after
the first interval.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnn import multihost, optim
from jaxnn.sweep import engine
from jaxnn.sweep.program import Program, Row
from jaxnn.sweep.result import SweepResult, minimised
from jaxnn.sweep.space import Choice, Configs, Fixed, IntUniform, LogUniform, Space, Uniform, is_number
from jaxnn.sweep.validate import validate_configs

if TYPE_CHECKING:  # matplotlib costs ~0.4 s to import: only plot() loads it
    from matplotlib.figure import Figure

Rule = tuple[str, str, Any, Any, tuple]
"""How explore moves one field: ``(name, kind, low, high, options)``, kind ``"scale"``, ``"int"`` or ``"choice"``."""


@dataclass
class PBTResult(SweepResult):
    """What :func:`pbt` measured: a :class:`SweepResult` with one "config" per row of the population.

    ``configs[i]`` holds the values row ``i`` ended with, ``history[name][i, 0]`` its curve (``seeds`` is 1).

    Attributes:
        lineage: per row, the ``(epoch, source)`` events: after ``epoch`` epochs the row copied row
            ``source``'s state (its weights then carry ``source``'s history up to that epoch).
        hparams: ``field -> (rows, epochs)``, the value each row trained with during each epoch.
        train_seconds: seconds of each interval's training (the first includes compiling).
        explore_seconds: seconds of each exploit/explore step, run to completion, with the host's draw of the
            resampling candidates (the first includes compiling).
    """

    lineage: list[list[tuple[int, int]]]
    hparams: dict[str, np.ndarray]
    train_seconds: np.ndarray
    explore_seconds: np.ndarray

    def ancestors(self, row: int) -> np.ndarray:
        """``(epochs,)``: the row whose weights became ``row``'s final weights, epoch by epoch (its weights'
        ancestry through the exploits)."""
        owner = np.empty(self._epochs, np.int64)
        current = row
        for epoch in range(self._epochs - 1, -1, -1):
            owner[epoch] = current
            current = next((source for at, source in self.lineage[current] if at == epoch), current)
        return owner

    def schedule(self, row: int) -> dict[str, np.ndarray]:
        """``field -> (epochs,)``: the hyperparameters ``row``'s final weights were trained with, epoch by epoch,
        following :meth:`ancestors`: the schedule PBT discovered for that row."""
        owner = self.ancestors(row)
        epochs = np.arange(self._epochs)
        return {name: values[owner, epochs] for name, values in self.hparams.items()}

    @property
    def _epochs(self) -> int:  # the epochs the hyperparameters were recorded for
        return next(iter(self.hparams.values())).shape[1]

    def plot(self, path: str | os.PathLike | None = None, metric: str = "val_loss") -> Figure:
        """Every row's ``metric`` curve (grey) with the curve of the best row's weights through its copies
        (:meth:`ancestors`) and, per searched field, every row's values (grey) with the schedule discovered for
        the best row (:meth:`schedule`). Saves to ``path`` if given.

        Example::

            space = sweep.Space(lr=sweep.log_uniform(1e-4, 1e-2), weight_decay=sweep.log_uniform(1e-8, 1e-4),
                                dropout=sweep.uniform(0.0, 0.5), optimizer=sweep.fixed("adam"))
            found = sweep.pbt(build, space, ds, population=4, epochs=2, batch_size=100, progress=False)
            figure = found.plot("pbt.png", metric="val_accuracy")   # build, ds: as in jaxnn.sweep
        """
        from matplotlib.figure import Figure

        best = self.best(1, metric)[0]["index"] if np.isfinite(self.summary(metric)[0]).any() else 0
        epochs = np.arange(1, self._epochs + 1)
        fig = Figure(figsize=(4.5 * (1 + len(self.hparams)), 3.5), layout="constrained")
        axes = fig.subplots(1, 1 + len(self.hparams), squeeze=False)[0]
        curves = self.history[self._check(metric)][:, 0]
        for curve in curves:
            axes[0].plot(epochs, curve, color="0.75", lw=0.8)
        # A row's own curve jumps where it copied another row; its weights' curve follows the copies back.
        axes[0].plot(epochs, curves[self.ancestors(best), epochs - 1], color="C0", lw=2, label=f"row {best}'s weights")
        axes[0].set(xlabel="epoch", ylabel=metric, title=f"population of {len(curves)} rows (grey)")
        axes[0].legend(fontsize="small")
        found = self.schedule(best)
        for ax, (name, values) in zip(axes[1:], self.hparams.items()):
            for row in values:
                ax.step(epochs, row, where="post", color="0.8", lw=0.8)
            ax.step(epochs, found[name], where="post", color="C3", lw=2, label=f"row {best}'s schedule")
            ax.set_yscale("log" if self.configs.specs[name].log else "linear")
            ax.set(xlabel="epoch", ylabel=name, title=f"{name}: discovered schedule")
            ax.legend(fontsize="small")
        if path is not None:
            fig.savefig(path)
        return fig


def pbt(
    build: Callable[[dict], Any],
    space: Space,
    data: Any,
    *,
    population: int,
    epochs: int,
    batch_size: int,
    perturbation_interval: int = 1,
    quantile_fraction: float = 0.25,
    resample_probability: float = 0.25,
    perturbation_factors: Sequence[float] = (1.2, 0.8),
    metric: str = "val_loss",
    mode: str | None = None,
    key: jax.Array | int = 0,
    **sweep_kwargs: Any,
) -> PBTResult:
    """Population-Based Training: ``population`` rows train together; every ``perturbation_interval`` epochs the
    worst rows copy the best and perturb their hyperparameters.

    The rule, after each interval but the last (``n = population``, ``q = quantile_fraction``):

    - **rank** the rows on ``metric`` after the interval's last epoch (NaN, e.g. a diverged row, ranks last;
      ties by row index); ``k = min(ceil(q·n), floor(n/2))`` rows form the top and ``k`` the bottom quantile.
    - **exploit**: each bottom row copies a top row drawn uniformly: its whole :class:`~jaxnn.train.Rows` row
      (params, BatchNorm state, optimizer moments, step counts, hyperparameters and ``diverged_at``, so a
      diverged row is revived) except ``ts.key``. Keeping its own key keeps the row's own dropout stream
      (dropout keys are ``fold_in(key, step)``), so a copy and its source stop drawing identical masks;
      with ``shared_order`` (default) both walk the same minibatches anyway.
    - **explore**: each searched field of the copy, independently: with probability ``resample_probability``
      a fresh draw from its distribution in ``space``; otherwise a perturbation by a factor ``f`` drawn uniformly
      from ``perturbation_factors``: ``v' = clip(v·f, low, high)`` for ``log_uniform`` and ``uniform`` fields,
      ``clip(round(v·f), low, high)`` for a traced ``int_uniform``, and for a numeric ``choice`` the next
      larger option when ``f > 1``, the next smaller when ``f < 1`` (clipped at the ends). For a log field the
      product is a step of ``ln f`` in log space, ``ln v' = ln v + ln f``: the same relative change at every scale
      (with (1.2, 0.8), +0.182 or -0.223: a slight downward drift); a uniform field is multiplied alike, so a
      value of 0 stays 0 until resampled.
    - both places the hyperparameters live change together: the row's traced ``hp`` (what ``build`` sees:
      ``l2``, dropout) and its optimizer state's hyperparameter leaves (lr, momentum, schedule parameters),
      which are set to what ``build(new hp)``'s optimizer would start with (``optim.set_hparams``; the moments
      are untouched).

    Defaults and names follow Ray Tune's ``PopulationBasedTraining`` (``perturbation_interval``,
    ``quantile_fraction=0.25``, ``resample_probability=0.25``, ``perturbation_factors=(1.2, 0.8)``). Where we
    differ: the interval counts epochs (Ray: 60 s of ``time_total_s``), so a run is reproducible from ``key``;
    the population is synchronous (Ray's ``synch=True``); perturbed values are clipped to the space's bounds
    (Ray leaves them unbounded); a numeric choice moves in the factor's direction (Ray: up or down with
    probability 1/2, the same with the default factors); ints are rounded (Ray truncates); and exploit copies
    the whole training state as one device operation (Ray restores the source trial's checkpoint into the
    target's process). Every row is one row of one program, so the whole search is one process on one device
    (or sharded over several).

    Args:
        build: ``build(hp) -> Trial``, as for :func:`~jaxnn.sweep.run`.
        space: the searched distributions. Its numeric traced fields (``log_uniform``, ``uniform``, traced
            ``int_uniform`` and ``choice``) are explored; static fields must be constant (``fixed``), since
            the population is one program. The initial population is ``space.sample(key, population)``, the
            configs a random search with the same key would train.
        data: a Dataset or ``((x_train, y_train), (x_eval, y_eval))``, as for ``run``.
        population: rows, an int >= 2 (a multiple of the device count); all of them train as one chunk.
        epochs: epochs in all.
        batch_size: minibatch size.
        perturbation_interval: epochs between exploit/explore steps, an int >= 1.
        quantile_fraction: the fraction ``q`` in ``(0, 0.5]``.
        resample_probability: in ``[0, 1]``.
        perturbation_factors: positive finite factors, drawn uniformly.
        metric: the recorded name rows are ranked on (``val_loss``, ``val_accuracy``, ``test_loss`` with
            ``eval_sets={"test": ...}``).
        mode: ``"min"`` or ``"max"``; default: minimise names containing "loss", maximise others.
        key: the root key (or int seed): initial population, init keys and minibatch order as in ``run``;
            interval ``j``'s explore draws from ``fold_in`` of the halves of ``split(split(key, 3)[2])``.
        sweep_kwargs: ``shared_order``, ``chunk_size``, ``memory_budget``, ``eval_batch_size``, ``devices``,
            ``progress``, ``eval_sets``, ``recorders``, as for ``run`` (one seed per row: no ``seeds``).

    Returns:
        A :class:`PBTResult`.

    Raises:
        ValueError: naming the argument, before anything trains: an out-of-range argument, a static field that
            is not constant, a space without searchable fields, an unknown ``metric``, a population that does
            not fit one chunk, or a ``build`` that refuses a field's bounds (explore can reach them).
        TypeError: ``space`` is not a :class:`Space`.

    Example::

        def build(hp):
            model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
            return sweep.Trial(model, optim.sgd(hp["lr"], momentum=0.9), l2=hp["l2"])

        space = sweep.Space(lr=sweep.log_uniform(1e-3, 0.3), l2=sweep.log_uniform(1e-6, 1e-3))
        ds = data.split(data.load("mnist1d"), 0.2, 0)
        result = sweep.pbt(build, space, ds, population=8, epochs=4, batch_size=100, perturbation_interval=2,
                           progress=False)
        result.lineage[0], result.schedule(result.best(1)[0]["index"])["lr"]
    """
    _check_args(space, population, epochs, perturbation_interval, quantile_fraction, resample_probability,
                perturbation_factors, mode, sweep_kwargs)
    start, compiled = time.perf_counter(), engine.compile_seconds()
    rules = _rules(space)
    _check_bounds(build, space, rules)
    root = engine.root_key(key)
    sweep = engine.Sweep(build, space.sample(root, population), data, batch_size=batch_size, key=root, **sweep_kwargs)
    (group,) = sweep.groups
    _check_sweep(sweep, group, population, metric)
    minimise = minimised(metric) if mode is None else mode == "min"
    step = _exploit_explore(sweep.programs[group], rules, _quantile(population, quantile_fraction),
                            float(resample_probability), tuple(float(f) for f in perturbation_factors), minimise)
    bounds = list(range(0, epochs, perturbation_interval)) + [epochs]
    resample_key, explore_key = jax.random.split(jax.random.split(root, 3)[2])
    hp = {name: np.array([c[name] for c in sweep.configs], space.fields[name].dtype) for name, *_ in rules}
    ids = np.arange(population)
    state, history, lineage = None, {}, [[] for _ in ids]
    trajectory: dict[str, list] = {name: [] for name in hp}
    train_seconds, explore_seconds = [], []
    for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        tick = time.perf_counter()
        trained = sweep.train(ids, hi - lo, lo, state, keep_states=hi < epochs)
        train_seconds.append(time.perf_counter() - tick)
        for name, values in trained.history.items():
            history.setdefault(name, []).append(values)
        for name, values in hp.items():
            trajectory[name].append(np.repeat(values[:, None], hi - lo, axis=1))
        if hi == epochs:
            break
        tick = time.perf_counter()
        (chunk,) = trained.states  # the whole population, unpadded (_check_sweep)
        rows, source, hp = step(chunk.rows, jax.random.fold_in(explore_key, j),
                                jnp.asarray(trained.history[metric][:, -1]),
                                _candidates(space, jax.random.fold_in(resample_key, j), population, list(hp)))
        source, hp = jax.device_get(multihost.gather((source, hp)))  # rows may span processes
        explore_seconds.append(time.perf_counter() - tick)
        state = [chunk._replace(rows=rows)]
        for row in np.flatnonzero(source != ids):
            lineage[row].append((hi, int(source[row])))
    final = {name: np.concatenate(parts, axis=1) for name, parts in history.items()}
    hparams = {name: np.concatenate(parts, axis=1) for name, parts in trajectory.items()}
    configs = Configs([{**sweep.configs[i], **{name: hp[name][i].item() for name in hp}} for i in ids], space.fields)
    return PBTResult(configs, {n: v[:, None] for n, v in final.items()}, trained.diverged_at[:, None],
                     np.full(population, epochs), time.perf_counter() - start, engine.compile_seconds() - compiled,
                     lineage, hparams, np.array(train_seconds), np.array(explore_seconds))


def _candidates(space: Space, key: jax.Array, population: int, names: list[str]) -> dict[str, np.ndarray]:
    """One resampling candidate per row and field, drawn by the space itself (one sampling mechanism) and of the
    same shape every interval, so nothing recompiles."""
    draws = space.sample(key, population)
    return {name: np.array([c[name] for c in draws], space.fields[name].dtype) for name in names}


def _quantile(n: int, fraction: float) -> int:
    """Rows in each of the top and bottom quantiles, as Ray Tune counts them."""
    return min(math.ceil(n * fraction), n // 2)


def _rules(space: Space) -> tuple[Rule, ...]:
    """How explore moves each searched field; refuses static fields that vary (they would split the program)."""
    rules = []
    for name, spec in space.fields.items():
        if spec.static:
            if not (isinstance(spec, Fixed) or (isinstance(spec, Choice) and len(spec.options) == 1)):
                raise ValueError(f"pbt: space field {name!r} is static and varies ({spec!r}); a population is one "
                                 f"compiled program, so static fields must be constant: use sweep.fixed(value), "
                                 f"or run one pbt per value.")
        elif isinstance(spec, LogUniform | Uniform):
            rules.append((name, "scale", spec.low, spec.high, ()))
        elif isinstance(spec, IntUniform):
            rules.append((name, "int", spec.low, spec.high, ()))
        elif isinstance(spec, Choice):
            options = tuple(sorted(spec.options))
            rules.append((name, "choice", options[0], options[-1], options))
    if not rules:
        raise ValueError(f"pbt: space {space!r} has no field to explore; give at least one traced numeric field "
                         f"(sweep.log_uniform, sweep.uniform, sweep.int_uniform or a numeric sweep.choice).")
    return tuple(rules)


def _check_bounds(build: Callable[[dict], Any], space: Space, rules: tuple[Rule, ...]) -> None:
    """``build`` must accept every value explore can reach, whose extremes are each field's bounds (checked on
    the host with concrete values, once): inside the program a refused value would train unchecked."""
    base = space.sample(0, 1)[0]
    rows = [{**base, name: value} for name, kind, low, high, options in rules
            for value in (options if kind == "choice" else (low, high))]
    try:
        validate_configs(build, Configs(rows, space.fields))
    except (ValueError, TypeError) as error:
        error.add_note("pbt: explore can move every field to the ends of its range (these configs set one field "
                       "to an end): narrow the space to values build accepts.")
        raise


def _check_sweep(sweep: engine.Sweep, group: tuple, population: int, metric: str) -> None:
    names = sweep.record_names(group)
    if metric not in names:
        raise ValueError(f"pbt: metric={metric!r} is not recorded; this population records {sorted(names)}.")
    devices = len(sweep.devices)
    if population % devices:
        raise ValueError(f"pbt: population={population} must be a multiple of the {devices} devices, so that "
                         f"no padding row takes part in the ranking.")
    if sweep._chunk_rows(group, population) < population:
        raise ValueError(f"pbt: population={population} does not fit one chunk (chunk_size or memory_budget "
                         f"holds {sweep._chunk_rows(group, population)} rows); the population must train "
                         f"together: raise chunk_size/memory_budget or shrink the population.")


def _check_args(space: Any, population: Any, epochs: Any, interval: Any, quantile: Any, resample: Any,
                factors: Any, mode: Any, sweep_kwargs: dict) -> None:
    if not isinstance(space, Space):
        raise TypeError(f"pbt: space must be a sweep.Space (explore resamples from it), got {type(space).__name__}.")
    factors = tuple(factors) if isinstance(factors, Sequence) else ()
    checks = [
        ("population", population, _count(population) >= 2, "an int >= 2"),
        ("epochs", epochs, _count(epochs) >= 1, "an int >= 1"),
        ("perturbation_interval", interval, _count(interval) >= 1, "an int >= 1 (epochs)"),
        ("quantile_fraction", quantile, is_number(quantile) and 0 < quantile <= 0.5, "a number in (0, 0.5]"),
        ("resample_probability", resample, is_number(resample) and 0 <= resample <= 1, "a number in [0, 1]"),
        ("perturbation_factors", factors, bool(factors) and all(
            is_number(f) and math.isfinite(f) and f > 0 for f in factors), "a non-empty sequence of numbers > 0"),
        ("mode", mode, mode in (None, "min", "max"), "None, 'min' or 'max'"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ValueError(f"pbt: {name}={value!r} is not allowed: it must be {allowed}.")
    if "seeds" in sweep_kwargs or "checkpoint_dir" in sweep_kwargs:
        raise ValueError("pbt: seeds and checkpoint_dir are not supported: each row is one run, and the "
                         "population is trained in one go.")


def _count(value: Any) -> float:
    return value if isinstance(value, int | np.integer) and not isinstance(value, bool) else -math.inf


@functools.cache
def _exploit_explore(program: Program, rules: tuple[Rule, ...], k: int, resample: float, factors: tuple,
                     minimise: bool) -> Callable:
    """The jitted ``(rows, key, scores, candidates) -> (rows, source, hp)`` of one population's settings (cached:
    every interval, and every run with the same settings, reuses one compilation)."""

    def step(rows: Row, key: jax.Array, scores: jax.Array, candidates: dict) -> tuple[Row, jax.Array, dict]:
        n = scores.shape[0]
        score = jnp.where(jnp.isnan(scores), jnp.inf, scores if minimise else -scores)
        order = jnp.argsort(score, stable=True)
        bottom = jnp.zeros(n, bool).at[order[n - k:]].set(True)
        pick_key, field_key = jax.random.split(key)
        source = jnp.where(bottom, order[jax.random.randint(pick_key, (n,), 0, k)], jnp.arange(n))
        copied = jax.tree.map(lambda a: a[source], rows)
        copied = copied._replace(ts=copied.ts._replace(key=rows.ts.key))
        hp = dict(copied.hp)
        for i, rule in enumerate(rules):
            name = rule[0]
            resample_key, factor_key = jax.random.split(jax.random.fold_in(field_key, i))
            factor = jnp.asarray(factors, jnp.float32)[jax.random.randint(factor_key, (n,), 0, len(factors))]
            moved = jnp.where(jax.random.uniform(resample_key, (n,)) < resample, candidates[name],
                              _perturb(rule, hp[name], factor))
            hp[name] = jnp.where(bottom, moved, hp[name])
        explored = copied._replace(hp=hp)
        opt_state = jax.vmap(functools.partial(_fresh_hparams, program))(explored)
        mask = lambda a: bottom.reshape(-1, *[1] * (a.ndim - 1))  # noqa: E731
        opt_state = jax.tree.map(lambda new, old: jnp.where(mask(new), new, old), opt_state, copied.ts.opt_state)
        return explored._replace(ts=explored.ts._replace(opt_state=opt_state)), source, hp

    return jax.jit(step)


def _perturb(rule: Rule, value: jax.Array, factor: jax.Array) -> jax.Array:
    """``value`` moved by ``factor`` as the docstring of :func:`pbt` says, within the field's bounds."""
    _, kind, low, high, options = rule
    if kind == "choice":
        table = jnp.asarray(options, value.dtype)
        index = jnp.argmin(jnp.abs(table[None, :] - value[:, None]), axis=1)
        index = index + jnp.where(factor > 1, 1, 0) - jnp.where(factor < 1, 1, 0)
        return table[jnp.clip(index, 0, len(options) - 1)]
    moved = value.astype(jnp.float32) * factor
    if kind == "int":
        return jnp.clip(jnp.round(moved), low, high).astype(value.dtype)
    return jnp.clip(moved, jnp.float32(low), jnp.float32(high))


def _fresh_hparams(program: Program, row: Row) -> Any:
    """``row``'s optimizer state with the hyperparameter leaves ``build(row.hp)``'s optimizer starts with."""
    fresh = program.trial(row.hp).optimizer.init(row.ts.params)
    return optim.set_hparams(row.ts.opt_state, **optim.hparams(fresh))
