"""Hyperparameter sweeps: many configurations trained together under ``jit(vmap(...))``.

Example::

    from jaxnn import data, nn, optim, sweep

    def build(hp):   # numeric values arrive as traced scalars, static ones as Python values
        model = nn.Sequential([nn.Dense(100), nn.relu, nn.Dropout(hp["dropout"]), nn.Dense(10)])
        opt = optim.adam(hp["lr"]) if hp["optimizer"] == "adam" else optim.sgd(hp["lr"])
        return sweep.Trial(model, opt, l2=hp["weight_decay"])

    space = sweep.Space(lr=sweep.log_uniform(1e-6, 1e-2), weight_decay=sweep.log_uniform(1e-8, 1e-4),
                        dropout=sweep.uniform(0.0, 0.5), optimizer=sweep.choice(["sgd", "adam"]))
    configs = space.sample(jax.random.key(0), 8)          # or sweep.grid(lr=[...], optimizer=[...])
    ds = data.split(data.load("mnist1d"), 0.2, 0)          # train / val / test
    result = sweep.run(build, configs, ds, epochs=3, batch_size=100)
    result.best(5); print(result.table()); result.plot("sweep.png")

Configs with the same static values (here: the optimizer) form one vmapped program; each config has its own
params, BatchNorm state, optimizer state and PRNG key. Groups run in equal-sized chunks (one compilation) that
fit a memory budget, sharded over all devices. A config that diverges is frozen and marked, without touching
the others. See :func:`run`, :func:`coarse_to_fine`, :func:`successive_halving`, :func:`hyperband`,
:func:`pbt` and :func:`lr_find` (the learning-rate range test for every config at once);
:mod:`jaxnn.sweep.optuna` runs an Optuna study's trials as rows of one program (the ``optuna`` extra, imported
only when it runs).
"""

from jaxnn.sweep import optuna  # the module: it imports the optuna package only when optimize runs
from jaxnn.sweep.engine import config_key, order_key, run
from jaxnn.sweep.hyperband import HyperbandResult, hyperband, hyperband_brackets
from jaxnn.sweep.lr_find import LRFindResult, lr_find
from jaxnn.sweep.pbt import PBTResult, pbt
from jaxnn.sweep.result import SweepResult
from jaxnn.sweep.search import coarse_to_fine, shrink, successive_halving, warn_edges
from jaxnn.sweep.space import (
    Configs,
    Distribution,
    Space,
    choice,
    fixed,
    grid,
    int_uniform,
    log_uniform,
    uniform,
)
from jaxnn.sweep.trial import Trial

__all__ = [
    "Configs",
    "Distribution",
    "HyperbandResult",
    "LRFindResult",
    "PBTResult",
    "Space",
    "SweepResult",
    "Trial",
    "choice",
    "coarse_to_fine",
    "config_key",
    "fixed",
    "grid",
    "hyperband",
    "hyperband_brackets",
    "int_uniform",
    "log_uniform",
    "lr_find",
    "optuna",
    "order_key",
    "pbt",
    "run",
    "shrink",
    "successive_halving",
    "uniform",
    "warn_edges",
]
