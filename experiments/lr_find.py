"""The learning-rate range test for SGD, Momentum and Adam on MNIST-1D, against the best lr of a grid of short runs.

MNIST-1D (Greydanus 2020, generated locally) with 20% of the training set held out for validation; the paper's
MLP 40-100-100-10 (ReLU, He init), batch 100. ``jaxnn.sweep.lr_find`` runs the range test (Smith 2017) for the
three optimizers at once: plain SGD and SGD with momentum 0.9 are rows of one program (momentum is traced),
Adam is a second one. Each row raises its lr geometrically from ``--low`` to ``--high`` over ``--steps`` steps;
its suggestion is the lr at the steepest descent of its fastai-smoothed loss (``jaxnn.sweep.lr_find`` states the
rule). The reference is a full grid of short runs: ``sweep.run`` over ``--grid`` log-spaced learning rates from
``--grid-low`` to ``--grid-high`` for each optimizer, ``--epochs`` epochs each, the best lr being the one with the
lowest final validation loss. The range test runs under ``--keys`` keys (each its own init and minibatch order;
one compiled program serves them all), and the suggestion compared is their median. Prints, per optimizer, the
suggestions, the grid's best lr and how many times apart they are, and writes ``lr_find.png`` (the first key's
smoothed range-test curves with their suggestions; the grid's final validation loss against the lr with the
suggestions marked) and ``lr_find.json`` (all of it).

    python experiments/lr_find.py --out results
    python experiments/lr_find.py --quick --out results   # fewer steps, a 4-point grid, one epoch
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import parse_args, write_json
from experiments._models import mnist1d_mlp
from experiments._plots import finish
from jaxnn import data, optim, sweep

BATCH_SIZE = 100
VAL_FRACTION = 0.2
METRIC = "val_loss"
OPTIMIZERS = {"SGD": {"optimizer": "sgd", "momentum": 0.0}, "Momentum": {"optimizer": "sgd", "momentum": 0.9},
              "Adam": {"optimizer": "adam", "momentum": 0.0}}
"""The compared settings; Adam ignores ``momentum`` (it keeps its default betas)."""


def build(hp: dict[str, Any]) -> sweep.Trial:
    """The MLP with SGD (momentum ``hp["momentum"]``, traced) or Adam at learning rate ``hp["lr"]``."""
    opt = optim.adam(hp["lr"]) if hp["optimizer"] == "adam" else optim.sgd(hp["lr"], momentum=hp["momentum"])
    return sweep.Trial(mnist1d_mlp(), opt)


def grid_search(dataset: data.Dataset, lrs: np.ndarray, epochs: int, seed: int) -> sweep.SweepResult:
    """Every optimizer at every lr of ``lrs``, trained together for ``epochs`` epochs (config ``o * len(lrs) + j``
    is optimizer ``o`` at ``lrs[j]``)."""
    configs = [{**setting, "lr": float(lr)} for setting in OPTIMIZERS.values() for lr in lrs]
    return sweep.run(build, configs, dataset, epochs=epochs, batch_size=BATCH_SIZE, key=seed, progress=False)


def compare(found: list[sweep.LRFindResult], grid: sweep.SweepResult, lrs: np.ndarray) -> dict[str, dict[str, Any]]:
    """Per optimizer: its suggestion under every key and their median, the grid's best lr, the factor between the
    median and the best, and the grid's curve."""
    final = grid.final[METRIC][:, 0].reshape(len(OPTIMIZERS), len(lrs))
    accuracy = grid.final["val_accuracy"][:, 0].reshape(len(OPTIMIZERS), len(lrs))
    out = {}
    for o, name in enumerate(OPTIMIZERS):
        best = int(np.argmin(np.where(np.isfinite(final[o]), final[o], np.inf)))
        suggestions = [float(f.suggested[o]) for f in found]
        median = float(np.median(suggestions))
        nearest = int(np.argmin(np.abs(np.log(lrs) - np.log(median))))
        out[name] = {"suggested_lr": median, "suggestions": suggestions, "grid_best_lr": float(lrs[best]),
                     "factor": float(max(median / lrs[best], lrs[best] / median)),
                     "factors": [float(max(s / lrs[best], lrs[best] / s)) for s in suggestions],
                     "grid_best_val_loss": float(final[o, best]), "grid_best_val_accuracy": float(accuracy[o, best]),
                     "nearest_grid_lr": float(lrs[nearest]), "nearest_val_loss": float(final[o, nearest]),
                     "nearest_val_accuracy": float(accuracy[o, nearest]),
                     "stopped_at": [int(f.stopped_at[o]) for f in found],
                     "diverged_at": [int(f.diverged_at[o]) for f in found],
                     "smoothed": [_finite(f.smoothed[o]) for f in found],
                     "grid_val_loss": _finite(final[o]), "grid_val_accuracy": _finite(accuracy[o])}
    return out


def _finite(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in values]


def plot(found: list[sweep.LRFindResult], lrs: np.ndarray, results: dict[str, dict[str, Any]], path: Path) -> None:
    """Left: each optimizer's smoothed range-test loss under the first key, its suggestion as a dot. Right: the
    grid's final validation loss against the lr, the grid's best as a square, every key's suggestion as a tick
    and their median as a dashed line."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.3))
    first = found[0]
    for o, (name, result) in enumerate(results.items()):
        color = f"C{o}"
        left.plot(first.lrs, first.smoothed[o], color=color, label=name)
        t = int(np.argmin(np.abs(np.log(first.lrs) - np.log(result["suggestions"][0]))))
        left.plot(first.lrs[t], first.smoothed[o, t], "o", color=color)
        curve = np.array([np.nan if v is None else v for v in result["grid_val_loss"]])
        label = f"{name}: suggested {result['suggested_lr']:.2g} (median), grid best {result['grid_best_lr']:.2g}"
        right.plot(lrs, curve, "o-", color=color, label=label)
        right.plot(result["grid_best_lr"], result["grid_best_val_loss"], "s", color=color, markersize=9,
                   fillstyle="none")
        right.axvline(result["suggested_lr"], color=color, linestyle="--", alpha=0.7)
        low = np.nanmin(curve)
        right.plot(result["suggestions"], np.full(len(found), low - 0.05 * (o + 1)), "|", color=color, markersize=10)
    left.set(xscale="log", xlabel="learning rate", ylabel="smoothed training loss",
             title=f"range test, first key: {len(first.lrs)} steps (dot: steepest descent)")
    right.set(xscale="log", xlabel="learning rate", ylabel=f"final {METRIC}",
              title=f"grid: best (square); {len(found)} keys' suggestions (ticks), median (dashed)")
    finish(fig, (left, right), path)


def main(argv: list[str] | None = None) -> dict:
    """Runs the comparison; returns what it writes to ``lr_find.json``."""
    args = parse_args(
        __doc__.splitlines()[0], argv, epochs=(5, 1),
        steps={"type": int, "default": None, "help": "range-test steps (default 100, 30 with --quick)"},
        low={"type": float, "default": 1e-5, "help": "the range test's first lr (1e-5)"},
        high={"type": float, "default": 10.0, "help": "the range test's last lr (10)"},
        grid={"type": int, "default": None, "help": "grid points per optimizer (default 19, 4 with --quick)"},
        grid_low={"type": float, "default": 1e-4, "help": "the grid's smallest lr (1e-4)"},
        grid_high={"type": float, "default": None, "help": "the grid's largest lr (default 10^0.5, 1 with --quick)"},
        keys={"type": int, "default": None, "help": "range tests, with keys seed, seed + 1, ... (5, 2 with --quick)"},
        seed={"type": int, "default": 0, "help": "PRNG seed (0)"},
    )
    steps = (30 if args.quick else 100) if args.steps is None else args.steps
    points = (4 if args.quick else 19) if args.grid is None else args.grid
    keys = (2 if args.quick else 5) if args.keys is None else args.keys
    grid_high = (1.0 if args.quick else 10**0.5) if args.grid_high is None else args.grid_high
    for name, value in (("--grid", points), ("--keys", keys), ("--epochs", args.epochs)):
        if value < 1:
            raise ValueError(f"{name}={value} is not allowed: it must be an int >= 1.")
    if not 0 < args.grid_low < grid_high:
        raise ValueError(f"--grid-low={args.grid_low} and --grid-high={grid_high} are not allowed: they must satisfy "
                         f"0 < grid-low < grid-high.")
    dataset = data.split(data.load("mnist1d"), VAL_FRACTION, args.seed)
    # One program serves every key: only the first call compiles.
    found = [sweep.lr_find(build, list(OPTIMIZERS.values()), dataset, batch_size=BATCH_SIZE, low=args.low,
                           high=args.high, steps=steps, key=key) for key in range(args.seed, args.seed + keys)]
    lrs = np.geomspace(args.grid_low, grid_high, points)
    grid = grid_search(dataset, lrs, args.epochs, args.seed)
    results = compare(found, grid, lrs)
    summary = {
        "optimizers": results,
        "range_test": {"low": args.low, "high": args.high, "steps": steps, "k": found[0].k,
                       "lrs": found[0].lrs.tolist(), "keys": list(range(args.seed, args.seed + keys)),
                       "seconds": [f.wall_time for f in found], "compile_seconds": [f.compile_time for f in found]},
        "grid": {"lrs": lrs.tolist(), "epochs": args.epochs, "metric": METRIC, "seconds": grid.wall_time,
                 "compile_seconds": grid.compile_time, "step_factor": float(lrs[1] / lrs[0]) if points > 1 else None},
        "model": "MLP 40-100-100-10, ReLU, He init; batch 100",
        "train_examples": int(dataset.train.x.shape[0]),
        "val_examples": int(dataset.val.x.shape[0]),
        "seed": args.seed,
    }
    plot(found, lrs, results, args.out / "lr_find.png")
    write_json(args.out / "lr_find.json", summary)
    print(found[0].table())
    for name, r in results.items():
        print(f"{name:>8}: suggested lr {r['suggested_lr']:.3g} (median of {keys} keys: "
              f"{', '.join(f'{v:.2g}' for v in r['suggestions'])}), grid best {r['grid_best_lr']:.3g} "
              f"({METRIC} {r['grid_best_val_loss']:.3f}), {r['factor']:.2g}x apart; at the grid lr nearest the "
              f"median {METRIC} {r['nearest_val_loss']:.3f}")
    seconds, compiling = sum(f.wall_time for f in found), sum(f.compile_time for f in found)
    print(f"range tests {seconds:.1f} s ({compiling:.1f} s compiling), grid of {len(grid.configs)} runs x "
          f"{args.epochs} epochs {grid.wall_time:.1f} s ({grid.compile_time:.1f} s compiling)")
    print(f"wrote {args.out / 'lr_find.png'} and {args.out / 'lr_find.json'}")
    return summary


if __name__ == "__main__":
    main()
