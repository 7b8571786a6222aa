"""Learning-rate schedules on one task: constant vs step decay vs exponential decay vs 1/t decay.

The MNIST-1D baseline MLP (40-100-100-10, ReLU, He init) trains with plain SGD (batch 100) from
the same initialisation under each schedule, all starting at lr0 = 0.5 (a large rate, so that annealing
has something to anneal):

- constant: ``lr = 0.5``;
- step decay: ``lr0 · factor^⌊t / every⌋``, halving every quarter of the run, or ÷10 at the half;
- exponential: ``lr0 · exp(−k·t)``, ending at lr0·e⁻³ or lr0·e⁻¹;
- 1/t: ``lr0 / (1 + k·t)``, ending at lr0/10 or lr0/2.

A schedule's parameters are float32 leaves of the optimizer state, so the settings of one kind are rows of
one vmapped program; the kinds are different functions and so different programs (four here). The learning
rate plotted is read back from each run's optimizer state (its schedule parameters and step count) after
every epoch. The textbooks' claim it tests: a constant rate stalls at a noise floor that decaying rates get
under, and decaying too fast freezes the loss early (what it measured: ``docs/gallery.md``).

Writes ``lr_schedules.png`` (training loss, test accuracy and lr per epoch) and ``lr_schedules.json``.

    python experiments/lr_schedules.py --out results
    python experiments/lr_schedules.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, load, parse_args, write_json
from experiments._models import mnist1d_mlp
from jaxnn import optim, train

LR0 = 0.5
BATCH_SIZE = 100


def schedules(total_steps: int) -> dict[str, dict[str, dict[str, float]]]:
    """kind -> {label: schedule parameters}, scaled to a run of ``total_steps`` updates."""
    return {
        "constant": {"constant": {"lr0": LR0}},
        "step_decay": {"step ×0.5 every T/4": {"lr0": LR0, "factor": 0.5, "every": total_steps / 4},
                       "step ×0.1 at T/2": {"lr0": LR0, "factor": 0.1, "every": total_steps / 2}},
        "exponential_decay": {"exp, e⁻³ at T": {"lr0": LR0, "k": 3.0 / total_steps},
                              "exp, e⁻¹ at T": {"lr0": LR0, "k": 1.0 / total_steps}},
        "inverse_time_decay": {"1/t, ÷10 at T": {"lr0": LR0, "k": 9.0 / total_steps},
                               "1/t, ÷2 at T": {"lr0": LR0, "k": 1.0 / total_steps}},
    }


def plot(runs: dict[str, dict], out: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for i, (label, run) in enumerate(runs.items()):
        style = {"color": f"C{i}", "linestyle": "-" if i % 2 else "--"}
        epochs = np.arange(1, len(run["loss"]) + 1)
        axes[0].plot(epochs, run["loss"], label=label, **style)
        axes[1].plot(epochs, run["test_accuracy"], label=label, **style)
        axes[2].plot(np.arange(len(run["lr"])), run["lr"], label=label, **style)
    axes[0].set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="training loss")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="test accuracy")
    axes[2].set(yscale="log", xlabel="epochs completed", ylabel="lr",
                title="learning rate (from the optimizer state)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv, **DATA_OPTIONS,
        epochs=(100, 2),
    )
    epochs = args.epochs
    dataset = load(args)
    steps_per_epoch = dataset.train.x.shape[0] // BATCH_SIZE
    model = mnist1d_mlp(classes=int(dataset.train.y.max()) + 1)
    shape = dataset.train.x.shape[1:]
    key = jax.random.key(args.seed)  # every run starts from the same weights: only the schedule differs
    runs = {}
    for kind, settings in schedules(epochs * steps_per_epoch).items():
        schedules_of_kind = [getattr(optim, kind)(**params) for params in settings.values()]
        optimizers = [optim.sgd(lr=schedule) for schedule in schedules_of_kind]
        states = train.create_stacked(model, optimizers, key, shape)
        first_lr = optim.current_hparams(states.opt_state)["lr"]
        # One step per kind (its schedule function); the rows' schedule parameters live in their states.
        _, history = train.fit_stack(states, train.make_train_step(model, optimizers[0]), dataset.train, epochs,
                                     BATCH_SIZE, eval_sets={"test": dataset.test},
                                     eval_step=train.make_eval_step(model), eval_batch_size=len(dataset.test.x),
                                     order_key=key, recorders={"hparams": train.record_hparams}, progress=False)
        for row, (label, params) in enumerate(settings.items()):
            runs[label] = {
                "kind": kind, "params": params,
                "loss": history["loss"][row].tolist(),
                "test_accuracy": history["test_accuracy"][row].tolist(),
                # lr[e]: the rate of the first update of epoch e + 1, at step e · steps_per_epoch
                "lr": [float(first_lr[row]), *history["hparams_lr"][row, :-1].tolist()],
            }
    summary = {
        **describe(args, dataset),
        "model": "MLP in-100-100-classes, ReLU, He init; sgd, batch 100",
        "epochs": epochs,
        "steps_per_epoch": steps_per_epoch,
        "runs": runs,
        "final": {label: {"loss": run["loss"][-1], "test_accuracy": run["test_accuracy"][-1]}
                  for label, run in runs.items()},
    }
    plot(runs, args.out / "lr_schedules.png")
    write_json(args.out / "lr_schedules.json", summary)
    for label, row in summary["final"].items():
        print(f"{label:<22} final train loss {row['loss']:.4f}  test accuracy {row['test_accuracy']:.3f}")
    print(f"wrote {args.out / 'lr_schedules.png'} and {args.out / 'lr_schedules.json'}")
    return summary


if __name__ == "__main__":
    main()
