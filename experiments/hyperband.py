"""Hyperband against successive halving and random search at equal budget, on MNIST-1D.

The MNIST-1D MLP (40-100-100-10, ReLU, He init) trains with Adam, batch 100, on 80% of the training set and is
ranked by accuracy on the held-out 20% (``data.split``); the space is the learning rate (log-uniform in
[1e-4, 1e-1]) and Adam's decoupled weight decay (log-uniform in [1e-6, 1e-2]). For each seed:

- ``sweep.hyperband`` with R = ``--max-epochs`` and ``--eta``; its config-epochs (epochs trained, summed over
  configs) are the budget B;
- ``sweep.successive_halving`` (``min_epochs=1``, the same ``eta``, rungs up to R epochs) of the most configs
  whose halving spends at most B;
- random search, ``sweep.run`` of ``floor(B / R)`` configs for R epochs each.

Every method chooses by validation accuracy (survivors and the final pick). The figure shows the best
validation accuracy seen so far against config-epochs spent (after every rung, or every epoch of the random
search), and each run's chosen accuracy against its wall time (compilation included). ``hyperband.json`` holds
every run's chosen config, accuracy, budget, times, curve and ranked table.

    python experiments/hyperband.py --out results
    python experiments/hyperband.py --quick --out results   # R = 3, one seed: a smoke test
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
METRIC = "val_accuracy"
SPACE = sweep.Space(lr=sweep.log_uniform(1e-4, 1e-1), weight_decay=sweep.log_uniform(1e-6, 1e-2))
MODEL = mnist1d_mlp()


def build(hp: dict) -> sweep.Trial:
    # Module-level: the three searches share its compiled programs wherever their chunk sizes agree.
    return sweep.Trial(MODEL, optim.adam(hp["lr"], weight_decay=hp["weight_decay"]))


def rung_ends(max_epochs: int, eta: int) -> list[int]:
    """The epochs at which successive halving's rungs end: 1, eta, ..., up to ``max_epochs``."""
    ends = [1]
    while ends[-1] * eta <= max_epochs:
        ends.append(ends[-1] * eta)
    return ends


def halving_configs(budget: int, ends: list[int], eta: int) -> int:
    """The most configs whose halving over rungs ``ends`` spends at most ``budget`` config-epochs."""
    def cost(n: int) -> int:
        return sum(max(1, n // eta**r) * (end - (ends[r - 1] if r else 0)) for r, end in enumerate(ends))

    n = 1
    while cost(n + 1) <= budget:
        n += 1
    return n


def curve(result: sweep.SweepResult, steps: list[tuple[np.ndarray, int, int]]) -> dict[str, list[float]]:
    """Best validation accuracy so far against config-epochs spent, after each step ``(configs, start, end)``
    (the configs that trained epochs ``start + 1 .. end``, in the order they ran)."""
    spent, best, out = 0, -np.inf, {"config_epochs": [], METRIC: []}
    for ids, start, end in steps:
        spent += int(np.sum(np.clip(result.epochs[ids], start, end) - start))
        seen = result.history[METRIC][ids, :, start:end]
        best = max(best, float(np.nanmax(seen)) if np.isfinite(seen).any() else best)
        out["config_epochs"].append(spent)
        out[METRIC].append(best)
    return out


def record(result: sweep.SweepResult, steps: list, seed: int) -> dict[str, Any]:
    """What the JSON keeps of one search."""
    best = result.best(1, METRIC)[0]
    return {"seed": seed, "best_val_accuracy": best[METRIC], "best": {name: best[name] for name in SPACE.fields},
            "configs": len(result.configs), "config_epochs": int(result.epochs.sum()),
            "wall_s": result.wall_time, "compile_s": result.compile_time, "curve": curve(result, steps),
            "ranking": result.rows(METRIC)}


def search(dataset: data.Dataset, max_epochs: int, eta: int, seed: int) -> dict[str, dict[str, Any]]:
    """The three searches of one seed at Hyperband's budget."""
    hb = sweep.hyperband(build, SPACE, dataset, batch_size=BATCH_SIZE, max_epochs=max_epochs, eta=eta, key=seed,
                         metric=METRIC, progress=False)
    hb_steps, first, ids, start = [], 0, np.arange(0), 0
    for row in hb.rungs:  # bracket after bracket, each taking the next configs of the sample
        if row["rung"] == 0:
            ids, start, first = np.arange(first, first + row["configs"]), 0, first + row["configs"]
        hb_steps.append((ids, start, row["epochs"]))
        start = row["epochs"]
    budget = hb.config_epochs
    ends = rung_ends(max_epochs, eta)
    n_sh = halving_configs(budget, ends, eta)
    sh = sweep.successive_halving(build, SPACE.sample(seed, n_sh), dataset, batch_size=BATCH_SIZE, min_epochs=1,
                                  eta=eta, rungs=len(ends), metric=METRIC, key=seed, progress=False)
    sh_steps = [(np.arange(n_sh), ends[r - 1] if r else 0, end) for r, end in enumerate(ends)]
    n_rs = max(1, budget // max_epochs)
    rs = sweep.run(build, SPACE.sample(seed, n_rs), dataset, epochs=max_epochs, batch_size=BATCH_SIZE, key=seed,
                   progress=False)
    rs_steps = [(np.arange(n_rs), e, e + 1) for e in range(max_epochs)]
    return {"hyperband": record(hb.sweep, hb_steps, seed) | {"rungs": hb.rungs},
            "successive halving": record(sh, sh_steps, seed), "random search": record(rs, rs_steps, seed)}


def plot(runs: dict[str, list[dict]], path: Path, max_epochs: int, eta: int) -> None:
    """Best validation accuracy so far against config-epochs, and each run's chosen accuracy against wall time."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for color, (name, seeds) in zip(("C3", "C0", "0.4"), runs.items()):
        for i, run in enumerate(seeds):
            c = run["curve"]
            left.step(c["config_epochs"], c[METRIC], where="post", color=color, alpha=0.8,
                      label=name if i == 0 else None)
            right.plot(run["wall_s"], run["best_val_accuracy"], "o", color=color, label=name if i == 0 else None)
    left.set(xlabel="config-epochs spent", ylabel="best validation accuracy so far",
             title=f"equal budget (R = {max_epochs}, eta = {eta})")
    right.set(xlabel="wall time, s (compilation included)", ylabel="chosen config's validation accuracy",
              title="what each run picked")
    finish(fig, (left, right), path)


def main(argv: list[str] | None = None) -> dict:
    """Runs the comparison; returns what it writes to ``hyperband.json``."""
    args = parse_args(
        __doc__.splitlines()[0], argv,
        max_epochs={"type": int, "default": None, "help": "R, the most epochs a config trains (27; 3 with --quick)"},
        eta={"type": int, "default": 3, "help": "the reduction factor (3)"},
        seeds={"type": int, "default": None, "help": "seeds per method (3; 1 with --quick)"},
        seed={"type": int, "default": 0, "help": "the first seed (0)"},
    )
    max_epochs = (3 if args.quick else 27) if args.max_epochs is None else args.max_epochs
    seeds = (1 if args.quick else 3) if args.seeds is None else args.seeds
    for name, value, low in (("--max-epochs", max_epochs, 1), ("--seeds", seeds, 1), ("--eta", args.eta, 2)):
        if value < low:
            raise ValueError(f"{name}={value} is not allowed: it must be an int >= {low}.")
    dataset = data.split(data.load("mnist1d"), VAL_FRACTION, args.seed)
    runs: dict[str, list[dict]] = {"hyperband": [], "successive halving": [], "random search": []}
    for seed in range(args.seed, args.seed + seeds):
        for name, run in search(dataset, max_epochs, args.eta, seed).items():
            runs[name].append(run)
    summary = {"max_epochs": max_epochs, "eta": args.eta, "seeds": seeds, "metric": METRIC,
               "model": "MLP 40-100-100-10, He init; adam(lr, weight_decay), batch 100",
               "train_examples": int(dataset.train.x.shape[0]), "val_examples": int(dataset.val.x.shape[0]),
               "loadavg": Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else None,
               "runs": runs}
    plot(runs, args.out / "hyperband.png", max_epochs, args.eta)
    write_json(args.out / "hyperband.json", summary)
    for name, seeds_runs in runs.items():
        accs = [r["best_val_accuracy"] for r in seeds_runs]
        print(f"{name:20s} configs {seeds_runs[0]['configs']:4d}  config-epochs {seeds_runs[0]['config_epochs']:5d}  "
              f"chosen val accuracy {np.mean(accs):.3f} (seeds {min(accs):.3f}-{max(accs):.3f})  "
              f"wall {np.mean([r['wall_s'] for r in seeds_runs]):.1f} s")
    print(f"wrote {args.out / 'hyperband.png'} and {args.out / 'hyperband.json'}")
    return summary


if __name__ == "__main__":
    main()
