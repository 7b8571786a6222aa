"""``hyperband``: brackets of successive halving with different starting budgets (Li et al. 2017) in one sweep.

All brackets' configs form one :class:`~jaxnn.sweep.engine.Sweep`; each bracket is a successive halving of its
own configs (:func:`~jaxnn.sweep.search._halve`), and every rung of every bracket trains in chunks of one size
per static group, so the whole search compiles each group's programs once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from jaxnn.sweep import engine
from jaxnn.sweep.result import SweepResult
from jaxnn.sweep.search import _check_eta, _check_metric, _halve, _log_floor, _rung_work, _Runs
from jaxnn.sweep.space import Space


def hyperband_brackets(max_epochs: int, eta: int = 3) -> list[list[tuple[int, int]]]:
    """Hyperband's plan for a budget of ``max_epochs`` (R) epochs per config and reduction factor ``eta``.

    With ``s_max = floor(log_eta R)``, bracket ``s = s_max, ..., 0`` starts
    ``n = ceil((s_max + 1) / (s + 1) * eta**s)`` configs at ``r = R * eta**-s`` epochs; its rung ``i`` trains
    ``floor(n / eta**i)`` configs to ``floor(R / eta**(s - i))`` epochs (``r * eta**i`` when R is a power of
    ``eta``), so every bracket's last rung ends at R.

    Returns:
        One list per bracket, ``s_max`` first, of ``(configs, epochs at the rung's end)`` per rung.

    Raises:
        ValueError: ``max_epochs`` not an int >= 1, or ``eta`` not an int >= 2.

    Example::

        sweep.hyperband_brackets(81, 3)[1]   # [(34, 3), (11, 9), (3, 27), (1, 81)]
    """
    _check_max_epochs("hyperband_brackets", max_epochs)
    _check_eta("hyperband_brackets", eta)
    s_max = _log_floor(max_epochs, eta)
    plan = []
    for s in range(s_max, -1, -1):
        n = -(-(s_max + 1) * eta**s // (s + 1))  # ceil in integers
        plan.append([(n // eta**i, max_epochs // eta ** (s - i)) for i in range(s + 1)])
    return plan


@dataclass
class HyperbandResult:
    """What :func:`hyperband` measured.

    Attributes:
        sweep: every config of every bracket (bracket ``s_max``'s first); ``sweep.epochs`` says how far each got.
        rungs: one dict per rung of every bracket: ``bracket`` (s), ``rung``, ``configs`` it trained, ``epochs``
            at its end, ``survivors`` it promoted (0 after the last rung).
        metric: what survivors and the best config were chosen by.
    """

    sweep: SweepResult
    rungs: list[dict[str, int]]
    metric: str

    def best(self) -> dict[str, Any]:
        """The best config, as a table row (see :meth:`SweepResult.rows`): by ``metric`` among those that trained
        longest (every bracket's last rung reaches ``max_epochs``), diverged ones never.

        Raises:
            ValueError: every config diverged.
        """
        best = self.sweep.best(1, self.metric)
        if not best:
            raise ValueError("hyperband: every config diverged; lower the learning rates of the space.")
        return best[0]

    @property
    def config_epochs(self) -> int:
        """The epochs trained, summed over every config and seed: the search's compute budget."""
        return int(self.sweep.epochs.sum()) * self.sweep.seeds

    def table(self) -> str:
        """The brackets and rungs as text, one line per rung."""
        header = ["bracket", "rung", "configs", "epochs", "survivors"]
        lines = [header] + [[str(row[name]) for name in header] for row in self.rungs]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in lines)


def hyperband(
    build: Callable[[dict], Any],
    space: Space,
    data: Any,
    *,
    batch_size: int,
    max_epochs: int,
    eta: int = 3,
    key: jax.Array | int = 0,
    metric: str = "val_loss",
    checkpoint_dir: str | os.PathLike | None = None,
    **sweep_kwargs: Any,
) -> HyperbandResult:
    """Hyperband (Li et al. 2017): successive halving in brackets that trade many configs on a small budget
    against few on a large one, the brackets of :func:`hyperband_brackets`.

    The configs are ``space.sample(key, total)`` (bracket ``s_max`` takes the first ``n``, and so on); each
    bracket halves its own, keeping the best ``1/eta`` by ``metric`` at every rung, survivors continuing from
    their states (as in :func:`~jaxnn.sweep.successive_halving`). All brackets are one sweep trained with
    ``key``; chunks have one size per static group for every rung of every bracket, so after the first chunk of
    each group only the survivors' state gather compiles, once.

    Args:
        build, data, batch_size: as for :func:`~jaxnn.sweep.run`.
        space: the :class:`Space` the configs are sampled from.
        max_epochs: R, the most epochs any config trains (every bracket's last rung).
        eta: the reduction factor, an int >= 2 (the paper's default 3).
        key: samples the configs and is the sweep's root key (init, dropout, minibatch order).
        metric: what survivors and the best config are chosen by (``mode`` from its name: losses minimised).
        checkpoint_dir: checkpoint each rung in ``bracket_<s>/rung_<i>`` (see ``run``).
        sweep_kwargs: ``seeds``, ``shared_order``, ``chunk_size``, ``eval_sets``, ... as for ``run``.

    Returns:
        A :class:`HyperbandResult`: every config's history, the table of brackets and rungs, and ``best()``.

    Raises:
        ValueError: ``max_epochs`` or ``eta`` out of range, ``space`` not a Space, or an unknown ``metric``, all
            before anything trains; whatever :func:`~jaxnn.sweep.run` raises for the other arguments.

    Example::

        result = sweep.hyperband(build, space, ds, batch_size=100, max_epochs=3)   # as in jaxnn.sweep
        result.best()["lr"]; print(result.table())
    """
    _check_max_epochs("hyperband", max_epochs)
    _check_eta("hyperband", eta)
    if not isinstance(space, Space):
        raise ValueError(f"hyperband: space={space!r} must be a sweep.Space to sample configs from.")
    plan = hyperband_brackets(max_epochs, eta)
    start, compiled = time.perf_counter(), engine.compile_seconds()
    configs = space.sample(key, sum(bracket[0][0] for bracket in plan))
    sweep = engine.Sweep(build, configs, data, batch_size=batch_size, key=key, **sweep_kwargs)
    _check_metric("hyperband", sweep, metric)
    ends = [[epochs for _, epochs in bracket] for bracket in plan]
    sizes = sweep.chunk_sizes([w for bracket, e in zip(plan, ends) for w in _rung_work(bracket[0][0], e, eta)])
    runs, rungs, first = _Runs.empty(sweep, max_epochs), [], 0
    for s, (bracket, e) in zip(range(len(plan) - 1, -1, -1), zip(plan, ends)):
        configs_of = np.arange(first, first + bracket[0][0])
        first += bracket[0][0]
        folder = None if checkpoint_dir is None else os.path.join(checkpoint_dir, f"bracket_{s}")
        rungs += [{"bracket": s, **row} for row in _halve(sweep, runs, configs_of, e, eta, metric, folder, sizes)]
    result = sweep.result(engine.Trained(runs.history, runs.diverged_at, []), runs.epochs,
                          time.perf_counter() - start, engine.compile_seconds() - compiled)
    return HyperbandResult(result, rungs, metric)


def _check_max_epochs(caller: str, max_epochs: Any) -> None:
    if not (isinstance(max_epochs, int) and not isinstance(max_epochs, bool) and max_epochs >= 1):
        raise ValueError(f"{caller}: max_epochs={max_epochs!r} must be an int >= 1.")
