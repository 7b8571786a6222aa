"""Random search for the learning rate and weight decay, 100 trials as one vmapped program (Deep Learning from
Scratch, §6.5).

The textbook's setting: 500 training images split 400 train / 100 validation, a ReLU network with six hidden
layers of 100 units and He initialisation, plain SGD with lr = 10^U(−6, −2) and weight decay (the L2 penalty
½·λ·Σ‖W‖², ``sweep.Trial.l2``) λ = 10^U(−8, −4), 50 epochs of batch 100 (200 updates), 100 trials, ranked by
validation accuracy. Here the 100 trials train together in one ``jit(vmap(...))`` program (``jaxnn.sweep``).
The default data set is MNIST-1D (generated locally), whose inputs are 40 wide: the network is 40-100×6-10,
not the book's 784-100×6-10 (``--dataset mnist --data-dir DIR`` for the latter).

What it does:

1. Round 1: the 100 trials. ``hyperparameter_search_curves.png`` shows the top 20's learning curves as a 4×5
   grid (validation accuracy solid, training accuracy dashed; the training value is the mean over the epoch's
   minibatches, measured while training), ``hyperparameter_search_scatter.png`` the validation accuracy over
   (lr, weight decay) on log axes.
2. Round 2: ``sweep.coarse_to_fine`` narrows each range to the span of round 1's best 20% and samples 100 new
   trials there (the narrowed box is drawn on the scatter).
3. Random versus grid search (Bergstra & Bengio 2012) with the same budget of 9 trials, on the same task:
   weight decay barely matters in 200 updates, so the 3×3 grid tries only 3 distinct learning rates where
   random search tries 9 (``hyperparameter_search_random_vs_grid.png``).
4. The time the round-1 trials would take one after another with the same code: ``sweep.run`` on one config
   at a time, timed on the first few trials and extrapolated to all of them. On a CPU the vmapped program
   does the same arithmetic as the sequential runs and saves only per-run overhead (dispatch, set-up), so
   it need not win there; the gain to expect is on an accelerator, where one small run leaves most of the
   device idle. The JSON keeps the load average next to the times.

What it measured, on MNIST-1D and on the MNIST subset: ``docs/gallery.md``.

Writes the figures, the ranked tables ``hyperparameter_search_round{1,2}.csv`` / ``.json`` (from
``SweepResult.save``) and ``hyperparameter_search.json`` (summary with histories) to ``--out``.

    python experiments/hyperparameter_search.py --out results
    python experiments/hyperparameter_search.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from experiments._cli import DATA_OPTIONS, load, parse_args, write_json
from experiments._models import mlp
from jaxnn import data, nn, optim, sweep

LR_RANGE = (1e-6, 1e-2)
WEIGHT_DECAY_RANGE = (1e-8, 1e-4)
TRAIN_SIZE = 500
VAL_FRACTION = 0.2
KEEP = 0.2  # round 2 samples the span of round 1's best 20%
METRIC = "val_accuracy"
Build = Callable[[dict], sweep.Trial]
# name -> (trials, epochs, hidden width, hidden layers, grid side of the random-versus-grid comparison,
# sequential trials timed)
SETTINGS = {"full": (100, 50, 100, 6, 3, 5), "quick": (8, 2, 16, 1, 2, 2)}


def make_build(width: int, depth: int, classes: int = 10) -> Build:
    """``build(hp)`` for ``sweep.run``: the He-initialised ReLU MLP, SGD with ``hp["lr"]`` and the L2 penalty
    ``hp["weight_decay"]``.

    Make it once and reuse it: the sweep caches compiled programs per build function.
    """
    model = mlp(depth, classes, nn.init.he_normal(), hidden=width)

    def build(hp: dict) -> sweep.Trial:
        return sweep.Trial(model, optim.sgd(hp["lr"]), l2=hp["weight_decay"])

    return build


def space() -> sweep.Space:
    """lr = 10^U(−6, −2), weight decay = 10^U(−8, −4)."""
    return sweep.Space(lr=sweep.log_uniform(*LR_RANGE), weight_decay=sweep.log_uniform(*WEIGHT_DECAY_RANGE))


def span(spec: sweep.Distribution) -> list[float]:
    """``[low, high]`` of a narrowed range (a range that collapsed to one value is ``fixed``)."""
    return [spec.low, spec.high] if hasattr(spec, "low") else [spec.value, spec.value]


def histories(result: sweep.SweepResult) -> dict[str, list[list[float]]]:
    """Per config (in config order), the per-epoch train and validation accuracy of its only seed."""
    return {name: result.history[name][:, 0].tolist() for name in ("accuracy", "val_accuracy")}


def time_sequential(build: Build, configs: sweep.Configs, dataset: data.Dataset, trials: int, **run_kwargs: Any
                    ) -> dict[str, Any]:
    """Times ``sweep.run`` on one config at a time for the first ``trials`` configs and extrapolates to all.

    The first call compiles the one-config program, the others reuse it, so the estimate for all configs is
    the first call plus the mean of the others for each remaining config.
    """
    seconds = []
    for row in configs[:trials]:
        start = time.perf_counter()
        sweep.run(build, sweep.Configs([row], configs.specs), dataset, progress=False, **run_kwargs)
        seconds.append(time.perf_counter() - start)
    return {"trials_timed": trials, "seconds_each": seconds,
            "extrapolated_seconds": seconds[0] + (len(configs) - 1) * float(np.mean(seconds[1:]))}


def cell_centres(bounds: tuple[float, float], side: int) -> list[float]:
    """``side`` log-spaced values at the centres of ``side`` equal cells of ``bounds`` in log space (a grid
    on the ends would spend trials on the edges of the space)."""
    lo, hi = np.log10(bounds)
    return (10 ** (lo + (hi - lo) * (np.arange(side) + 0.5) / side)).tolist()


def padded(bounds: tuple[float, float]) -> tuple[float, float]:
    """Log-axis limits a little wider than ``bounds``, so that points on the ends stay visible."""
    return bounds[0] / 1.6, bounds[1] * 1.6


def random_vs_grid(build: Build, dataset: data.Dataset, side: int, key: int, **run_kwargs: Any) -> dict[str, Any]:
    """``side``² grid trials against as many random trials over the same ranges, trained in one sweep."""
    grid = sweep.grid(lr=cell_centres(LR_RANGE, side), weight_decay=cell_centres(WEIGHT_DECAY_RANGE, side))
    rand = space().sample(key, side * side)
    result = sweep.run(build, list(grid) + list(rand), dataset, key=key, progress=False, **run_kwargs)
    accuracy = result.summary(METRIC)[0]
    # The grid's mean accuracy per value of each parameter: how much each one matters on this task.
    table = accuracy[: len(grid)].reshape(side, side)  # grid order: lr slowest, weight decay fastest
    out: dict[str, Any] = {"grid_mean_by_lr": table.mean(axis=1).tolist(),
                           "grid_mean_by_weight_decay": table.mean(axis=0).tolist()}
    for name, configs, acc in (("grid", grid, accuracy[: len(grid)]), ("random", rand, accuracy[len(grid):])):
        best = int(np.nanargmax(acc))
        out[name] = {"lr": [c["lr"] for c in configs], "weight_decay": [c["weight_decay"] for c in configs],
                     METRIC: acc.tolist(), "distinct_lr": len({c["lr"] for c in configs}),
                     "distinct_weight_decay": len({c["weight_decay"] for c in configs}),
                     "best": {**configs[best], METRIC: float(acc[best])}}
    return out


def plot_curves(result: sweep.SweepResult, path: Path, top: int = 20) -> None:
    rows = result.best(top, METRIC)
    n_rows = math.ceil(len(rows) / 5)
    fig, axes = plt.subplots(n_rows, 5, figsize=(15, 2.6 * n_rows), sharex=True, sharey=True, squeeze=False)
    for ax, row in zip(axes.ravel(), rows):
        i = row["index"]
        epochs = np.arange(1, result.history[METRIC].shape[2] + 1)
        ax.plot(epochs, result.history["val_accuracy"][i, 0], color="C0", label="validation")
        ax.plot(epochs, result.history["accuracy"][i, 0], color="C1", linestyle="--", label="train")
        ax.set_title(f"Best-{row['rank']} (val acc {row[METRIC]:.2f})\n"
                     f"lr {row['lr']:.2e}, wd {row['weight_decay']:.2e}", fontsize=8)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(rows):]:
        ax.set_visible(False)
    axes[0, 0].legend(fontsize=7)
    fig.supxlabel("epoch")
    fig.supylabel("accuracy")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_scatter(rounds: list[sweep.SweepResult], narrowed: dict[str, list[float]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    accuracy = np.concatenate([result.summary(METRIC)[0] for result in rounds])
    # Colours span the accuracies reached (MNIST-1D's stay far below 1); chance-level trials are the dark ones.
    limits = {"vmin": np.nanmin(accuracy), "vmax": np.nanmax(accuracy)}
    for result, marker, label in zip(rounds, ("o", "^"), ("round 1", "round 2 (narrowed)")):
        lr = [c["lr"] for c in result.configs]
        wd = [c["weight_decay"] for c in result.configs]
        points = ax.scatter(lr, wd, c=result.summary(METRIC)[0], cmap="viridis", marker=marker, s=30,
                            edgecolors="k", linewidths=0.3, label=label, **limits)
    (lr_lo, lr_hi), (wd_lo, wd_hi) = narrowed["lr"], narrowed["weight_decay"]
    ax.add_patch(Rectangle((lr_lo, wd_lo), lr_hi - lr_lo, wd_hi - wd_lo, fill=False, edgecolor="red",
                           label=f"round 2's ranges (span of round 1's best {KEEP:.0%})"))
    ax.add_patch(Rectangle((LR_RANGE[0], WEIGHT_DECAY_RANGE[0]), LR_RANGE[1] - LR_RANGE[0],
                           WEIGHT_DECAY_RANGE[1] - WEIGHT_DECAY_RANGE[0], fill=False, edgecolor="0.6",
                           linestyle=":", label="round 1's ranges"))
    best = rounds[0].best(1, METRIC)[0]
    ax.scatter([best["lr"]], [best["weight_decay"]], marker="*", s=250, color="red", label="round 1's best")
    ax.set(xscale="log", yscale="log", xlim=padded(LR_RANGE), ylim=padded(WEIGHT_DECAY_RANGE),
           xlabel="learning rate", ylabel="weight decay λ", title="validation accuracy over the search space")
    fig.colorbar(points, ax=ax, label="validation accuracy")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_random_vs_grid(comparison: dict[str, Any], path: Path) -> None:
    fig = plt.figure(figsize=(13, 5.2))
    grid_spec = fig.add_gridspec(2, 3, height_ratios=(1, 2.5), width_ratios=(1, 1, 1.2))
    accuracy = comparison["grid"][METRIC] + comparison["random"][METRIC]
    limits = {"vmin": np.nanmin(accuracy), "vmax": np.nanmax(accuracy)}
    acc_axis = (0, 1.1 * limits["vmax"])
    for column, name in enumerate(("grid", "random")):
        layout = comparison[name]
        ax = fig.add_subplot(grid_spec[1, column])
        top = fig.add_subplot(grid_spec[0, column], sharex=ax)
        points = ax.scatter(layout["lr"], layout["weight_decay"], c=layout[METRIC], cmap="viridis", s=50,
                            edgecolors="k", **limits)
        # The projection onto the axis that matters: what each layout learns about the learning rate.
        top.scatter(layout["lr"], layout[METRIC], color="C0" if name == "grid" else "C2")
        top.set(ylim=acc_axis, ylabel="val acc",
                title=f"{name} search: {layout['distinct_lr']} distinct lr\nbest val acc {layout['best'][METRIC]:.2f}")
        top.tick_params(labelbottom=False)
        ax.set(xscale="log", yscale="log", xlim=padded(LR_RANGE), ylim=padded(WEIGHT_DECAY_RANGE),
               xlabel="learning rate", ylabel="weight decay λ")
    fig.colorbar(points, ax=ax, label="validation accuracy")
    ax = fig.add_subplot(grid_spec[:, 2])
    for name, color in (("grid", "C0"), ("random", "C2")):
        layout = comparison[name]
        ax.scatter(layout["lr"], layout[METRIC], color=color, label=f"{name} ({len(layout['lr'])} trials)")
    ax.set(xscale="log", xlim=padded(LR_RANGE), ylim=acc_axis, xlabel="learning rate",
           ylabel="validation accuracy", title="validation accuracy against the learning rate")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv,
        trials={"type": int, "default": None, "help": "trials per round (default 100, 8 with --quick)"},
        epochs=(SETTINGS["full"][1], SETTINGS["quick"][1]),
        batch_size={"type": int, "default": 100},
        **DATA_OPTIONS,
    )
    trials, _, width, depth, side, timed = SETTINGS["quick" if args.quick else "full"]
    trials = args.trials if args.trials is not None else trials
    epochs = args.epochs
    for name, value, low in (("trials", trials, 2), ("epochs", epochs, 1)):
        if value < low:
            raise ValueError(f"--{name}={value} must be an int >= {low}.")
    # The book's 500 training images, 20% of them moved to validation.
    dataset = data.split(load(args, TRAIN_SIZE), VAL_FRACTION, args.seed)
    classes = int(dataset.train.y.max()) + 1
    build = make_build(width, depth, classes)
    run_kwargs = {"epochs": epochs, "batch_size": args.batch_size}

    print(f"{args.dataset}: {len(dataset.train.x)} train / {len(dataset.val.x)} validation, "
          f"{trials} trials × {epochs} epochs, MLP {dataset.train.x.shape[1]}-{width}×{depth}-{classes}", flush=True)
    load_before = os.getloadavg()[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rounds = sweep.coarse_to_fine(space(), build, dataset, rounds=2, n=trials, keep=KEEP, key=args.seed,
                                      metric=METRIC, progress=False, **run_kwargs)
    edge_warnings = [str(w.message) for w in caught]
    first, second = rounds
    narrowed = {name: span(spec) for name, spec in second.configs.specs.items()}
    for r, result in enumerate(rounds, 1):
        result.save(args.out / f"hyperparameter_search_round{r}.csv", METRIC)
        result.save(args.out / f"hyperparameter_search_round{r}.json", METRIC)
    sequential = time_sequential(build, first.configs, dataset, min(timed, trials), key=args.seed, **run_kwargs)
    comparison = random_vs_grid(build, dataset, side, args.seed + 1, **run_kwargs)

    plot_curves(first, args.out / "hyperparameter_search_curves.png")
    plot_scatter(rounds, narrowed, args.out / "hyperparameter_search_scatter.png")
    plot_random_vs_grid(comparison, args.out / "hyperparameter_search_random_vs_grid.png")

    summary = {
        "dataset": args.dataset,
        "train_examples": int(len(dataset.train.x)),
        "val_examples": int(len(dataset.val.x)),
        "model": f"MLP {dataset.train.x.shape[1]}-{width}x{depth}-{classes}, ReLU, He init",
        "config": {"trials": trials, "epochs": epochs, "batch_size": args.batch_size, "optimizer": "sgd",
                   "lr_range": list(LR_RANGE), "weight_decay_range": list(WEIGHT_DECAY_RANGE), "keep": KEEP,
                   "metric": METRIC, "seed": args.seed},
        "round1": {"top": first.best(min(20, trials), METRIC), "history": histories(first)},
        "narrowed_ranges": narrowed,
        "edge_warnings": edge_warnings,
        "round2": {"configs": list(second.configs), "top": second.best(min(5, trials), METRIC),
                   "history": histories(second)},
        "timing": {"vmapped_seconds": first.wall_time, "vmapped_compile_seconds": first.compile_time,
                   "sequential": sequential, "speedup": sequential["extrapolated_seconds"] / first.wall_time,
                   "load_average_1min": [load_before, os.getloadavg()[0]], "cpus": os.cpu_count(),
                   "note": f"sequential: sweep.run on one config at a time, {sequential['trials_timed']} trials "
                           f"timed and extrapolated to {trials}"},
        "random_vs_grid": comparison,
    }
    write_json(args.out / "hyperparameter_search.json", summary)

    print(first.table(METRIC).splitlines()[0])
    print("\n".join(first.table(METRIC).splitlines()[1:6]))
    print("narrowed ranges (round 2): " + ", ".join(f"{k} [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in narrowed.items()))
    best2 = second.best(1, METRIC)[0]
    print(f"round 2 best: lr {best2['lr']:.3g}, weight decay {best2['weight_decay']:.3g}, "
          f"val acc {best2[METRIC]:.3f}")
    for message in edge_warnings:
        print(f"note: {message}")
    print(f"{trials} trials vmapped: {first.wall_time:.1f} s ({first.compile_time:.1f} s compiling); one after "
          f"another: ~{sequential['extrapolated_seconds']:.1f} s ({sequential['trials_timed']} timed, "
          f"extrapolated), {summary['timing']['speedup']:.1f}x")
    for name in ("grid", "random"):
        layout = comparison[name]
        print(f"{name:6s} search, {len(layout['lr'])} trials: {layout['distinct_lr']} distinct lr, best val acc "
              f"{layout['best'][METRIC]:.3f} at lr {layout['best']['lr']:.3g}")
    print("grid's mean val acc per lr: " + ", ".join(f"{v:.3f}" for v in comparison["grid_mean_by_lr"])
          + "; per weight decay: " + ", ".join(f"{v:.3f}" for v in comparison["grid_mean_by_weight_decay"]))
    print(f"wrote {args.out}/hyperparameter_search*.png, *.csv, *.json")
    return summary


if __name__ == "__main__":
    main()
