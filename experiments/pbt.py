"""Population-based training against random search at equal compute on MNIST-1D.

Both searches train the same population (``--population`` settings of the learning rate, log-uniform in
[1e-4, 1e-1], and Adam's (coupled L2) weight decay, log-uniform in [1e-6, 1e-2], drawn by
``space.sample(seed, population)``) of the MNIST-1D paper's MLP (40-100-100-10, ReLU, He init, batch 100) for
the same ``--epochs``, on 80% of the training set, scored on the held-out 20% (``data.split``): random search
with ``jaxnn.sweep.run``, PBT with ``jaxnn.sweep.pbt`` (every ``--interval`` epochs the worst quarter copies
the best quarter and perturbs the copies' hyperparameters by x0.8 or x1.2, or resamples them). So both spend
``population x epochs`` row-epochs. For each of ``--seeds`` seeds the JSON ``pbt.json`` holds each search's best
row by final validation accuracy, its validation and test accuracy, PBT's discovered schedules (the
hyperparameters the best row's weights were trained with, epoch by epoch, through the copies), every row's
curves and hyperparameters over time, and the cost of exploit/explore against an epoch. ``pbt.png`` compares
the searches; ``pbt_population.png`` is the first seed's population and discovered schedules.

    python experiments/pbt.py --out results
    python experiments/pbt.py --quick --out results   # 4 rows, 4 epochs, one seed: a smoke test
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import parse_args, write_json
from experiments._models import mnist1d_mlp
from jaxnn import data, optim, sweep

BATCH_SIZE = 100
VAL_FRACTION = 0.2
METRIC = "val_accuracy"
SPACE = sweep.Space(lr=sweep.log_uniform(1e-4, 1e-1), weight_decay=sweep.log_uniform(1e-6, 1e-2))


def build(hp: dict) -> sweep.Trial:
    """The paper's MLP with ``adam(lr, weight_decay)`` (``hp`` values are traced)."""
    return sweep.Trial(mnist1d_mlp(), optim.adam(hp["lr"], weight_decay=hp["weight_decay"]))


def best_row(result: sweep.SweepResult) -> dict[str, Any]:
    """The best row by final validation accuracy: its index, hyperparameters and final metrics."""
    row = result.best(1, METRIC)[0]
    return {"index": row["index"], **{name: row[name] for name in (*SPACE.fields, METRIC, "test_accuracy")}}


def searches(dataset: data.Dataset, population: int, epochs: int, interval: int, seed: int
             ) -> tuple[dict[str, Any], sweep.PBTResult]:
    """One seed: random search and PBT from the same population, with what the JSON keeps of each."""
    common = dict(epochs=epochs, batch_size=BATCH_SIZE, key=seed, eval_sets={"test": dataset.test}, progress=False)
    start = time.perf_counter()
    random = sweep.run(build, SPACE.sample(seed, population), dataset, **common)
    middle = time.perf_counter()
    found = sweep.pbt(build, SPACE, dataset, population=population, perturbation_interval=interval, metric=METRIC,
                      **common)
    end = time.perf_counter()
    pbt_best = best_row(found)
    steady = found.train_seconds[1:-1] if len(found.train_seconds) > 2 else found.train_seconds
    epoch_seconds = float(np.median(steady)) / interval
    explore_seconds = float(np.median(found.explore_seconds[1:] if len(found.explore_seconds) > 1
                                      else found.explore_seconds))
    return {
        "seed": seed,
        "random": {**best_row(random), "seconds": middle - start,
                   "val_accuracy_curves": random.history[METRIC][:, 0].tolist(),
                   "configs": [{name: c[name] for name in SPACE.fields} for c in random.configs]},
        "pbt": {**pbt_best, "seconds": end - middle,
                "schedule": {name: v.tolist() for name, v in found.schedule(pbt_best["index"]).items()},
                "ancestors": found.ancestors(pbt_best["index"]).tolist(),
                "hparams": {name: v.tolist() for name, v in found.hparams.items()},
                "lineage": found.lineage,
                "val_accuracy_curves": found.history[METRIC][:, 0].tolist(),
                "test_accuracy_curves": found.history["test_accuracy"][:, 0].tolist(),
                "epoch_seconds": epoch_seconds, "explore_seconds": explore_seconds,
                "explore_fraction_of_epoch": explore_seconds / epoch_seconds},
    }, found


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    """Per seed, the best validation accuracy in the population after each epoch, PBT against random search;
    and both searches' best rows on the test set."""
    fig, (curves, tests) = plt.subplots(1, 2, figsize=(11, 4))
    for i, run in enumerate(runs):
        for name, style in (("random", ":"), ("pbt", "-")):
            best = np.nanmax(np.asarray(run[name]["val_accuracy_curves"]), axis=0)
            curves.plot(np.arange(1, len(best) + 1), best, style, color=f"C{i}",
                        label=f"{'PBT' if name == 'pbt' else 'random search'}, seed {run['seed']}")
    curves.set(xlabel="epoch", ylabel="best validation accuracy in the population")
    curves.legend(fontsize="small")
    for x, name in enumerate(("random", "pbt")):
        values = [run[name]["test_accuracy"] for run in runs]
        tests.plot(np.full(len(values), x), values, "o", color="0.4")
        tests.plot([x - 0.2, x + 0.2], [np.mean(values)] * 2, color="C3", lw=2)
    tests.set(xticks=[0, 1], xticklabels=["random search", "PBT"], ylabel="test accuracy of the best row",
              xlim=(-0.6, 1.6), title="best row by validation accuracy (red: mean)")
    fig.suptitle(f"PBT vs random search at equal compute: {len(runs[0]['pbt']['val_accuracy_curves'])} rows x "
                 f"{len(runs[0]['pbt']['val_accuracy_curves'][0])} epochs, {len(runs)} seed(s)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    """Runs both searches for every seed; returns what it writes to ``pbt.json``."""
    args = parse_args(
        __doc__.splitlines()[0], argv,
        epochs=(30, 4),
        population={"type": int, "default": None, "help": "rows in both searches (default 16, 4 with --quick)"},
        interval={"type": int, "default": None, "help": "PBT's perturbation interval in epochs (3, 2 with --quick)"},
        seeds={"type": int, "default": None, "help": "seeds 0..n-1 (default 3, 1 with --quick)"},
    )
    population = (4 if args.quick else 16) if args.population is None else args.population
    interval = (2 if args.quick else 3) if args.interval is None else args.interval
    seeds = (1 if args.quick else 3) if args.seeds is None else args.seeds
    for name, value, least in (("--population", population, 2), ("--interval", interval, 1),
                               ("--seeds", seeds, 1), ("--epochs", args.epochs, 1)):
        if value < least:
            raise ValueError(f"{name}={value} is not allowed: it must be an int >= {least}.")
    start = time.perf_counter()
    dataset = data.load("mnist1d")
    runs, first = [], None
    for seed in range(seeds):
        run, found = searches(data.split(dataset, VAL_FRACTION, seed), population, args.epochs, interval, seed)
        runs.append(run)
        first = first or found
    means = {f"{name}_mean_{metric}": float(np.mean([run[name][metric] for run in runs]))
             for name in ("random", "pbt") for metric in (METRIC, "test_accuracy")}
    summary = {
        **means,
        "pbt_beats_random_on_test": means["pbt_mean_test_accuracy"] >= means["random_mean_test_accuracy"],
        "population": population, "epochs": args.epochs, "interval": interval, "seeds": seeds,
        "space": {name: [spec.low, spec.high] for name, spec in SPACE.fields.items()},
        "model": "MLP 40-100-100-10, ReLU, He init; adam(lr, weight_decay), batch 100",
        "explore_fraction_of_epoch": float(np.median([run["pbt"]["explore_fraction_of_epoch"] for run in runs])),
        "seconds": time.perf_counter() - start,
        "loadavg": Path("/proc/loadavg").read_text().strip() if os.path.exists("/proc/loadavg") else None,
        "runs": runs,
    }
    plot(runs, args.out / "pbt.png")
    first.plot(metric=METRIC).savefig(args.out / "pbt_population.png", dpi=80)
    write_json(args.out / "pbt.json", summary)
    for name in ("random", "pbt"):
        print(f"{name:>6}: best-row validation accuracy {means[f'{name}_mean_{METRIC}']:.3f}, test accuracy "
              f"{means[f'{name}_mean_test_accuracy']:.3f} (mean of {seeds} seed(s))")
    print(f"exploit/explore costs {summary['explore_fraction_of_epoch']:.1%} of an epoch; "
          f"wrote {args.out / 'pbt.png'}, {args.out / 'pbt_population.png'} and {args.out / 'pbt.json'}")
    return summary


if __name__ == "__main__":
    main()
