"""AdaGrad's vanishing step size against RMSprop on a long run, and AdaGrad at several learning rates.

AdaGrad divides each parameter's step by √h, the root of the **sum** of all its squared gradients, so its
effective step ``lr/(√h + eps)`` can only shrink, roughly like 1/√t while the gradients keep their size.
RMSprop replaces the sum by a leaky average (decay 0.9), so its effective step follows the recent gradient
size and does not vanish. Both train the MNIST-1D baseline MLP (40-100-100-10, ReLU, He init,
batch 100) from the same initialisation for a long run (200 epochs, 8,000 updates); AdaGrad at lr 0.003,
0.01, 0.03 and 0.1 is one vmapped program and RMSprop at lr 1e-4, 3e-4 and 1e-3 another. After every epoch
the median over all parameters of the effective step is read from each run's optimizer state. Writes
``adaptive_lr.png`` (training loss, test accuracy and effective step per epoch) and ``adaptive_lr.json``; what
it measured is in ``docs/gallery.md``.

    python experiments/adaptive_lr.py --out results
    python experiments/adaptive_lr.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, load, parse_args, write_json
from experiments._models import mnist1d_mlp
from jaxnn import optim, train

BATCH_SIZE = 100
OPTIMIZERS = {  # name -> (constructor, learning rates vmapped together, accumulator field of the state)
    "AdaGrad": (optim.adagrad, [0.003, 0.01, 0.03, 0.1], "sum_sq"),
    "RMSprop": (lambda lr: optim.rmsprop(lr, decay=0.9), [1e-4, 3e-4, 1e-3], "nu"),
}
RECORDED = ("loss", "test_accuracy", "effective_step")  # per epoch and run, in the JSON


def effective_step(opt_state: Any, accumulator: str) -> jax.Array:
    """The median over all parameters of ``lr / (√h + eps)``, the step a unit gradient would get now."""
    hp = optim.hparams(opt_state)
    h = jnp.concatenate([leaf.ravel() for leaf in jax.tree.leaves(getattr(opt_state, accumulator))])
    return jnp.median(hp["lr"] / (jnp.sqrt(h) + hp["eps"]))


def plot(runs: dict[str, dict], out: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    shades = {"AdaGrad": plt.cm.Blues, "RMSprop": plt.cm.Oranges}
    for name in OPTIMIZERS:
        labels = [label for label, run in runs.items() if run["optimizer"] == name]
        for j, label in enumerate(labels):
            run, color = runs[label], shades[name](0.4 + 0.6 * j / max(len(labels) - 1, 1))
            epochs = np.arange(1, len(run["loss"]) + 1)
            axes[0].plot(epochs, run["loss"], color=color, label=label)
            axes[1].plot(epochs, run["test_accuracy"], color=color, label=label)
            axes[2].plot(epochs, run["effective_step"], color=color, label=label)
    axes[0].set(xscale="log", yscale="log", xlabel="epoch", ylabel="cross-entropy", title="training loss")
    axes[1].set(xscale="log", xlabel="epoch", ylabel="accuracy", title="test accuracy")
    axes[2].set(xscale="log", yscale="log", xlabel="epoch", ylabel="median lr / (√h + eps)",
                title="effective step size")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv, **DATA_OPTIONS,
        epochs=(200, 2),
    )
    epochs = args.epochs
    dataset = load(args)
    model = mnist1d_mlp(classes=int(dataset.train.y.max()) + 1)
    shape = dataset.train.x.shape[1:]
    key = jax.random.key(args.seed)  # every run starts from the same weights
    runs = {}
    for name, (make, lrs, accumulator) in OPTIMIZERS.items():
        optimizers = [make(lr) for lr in lrs]
        states = train.create_stacked(model, optimizers, key, shape)

        def record(ts: train.TrainState, accumulator: str = accumulator) -> jax.Array:
            return effective_step(ts.opt_state, accumulator)

        # The rows' learning rates live in their states: one step (of the first optimizer) serves them all.
        _, history = train.fit_stack(states, train.make_train_step(model, optimizers[0]), dataset.train, epochs,
                                     BATCH_SIZE, eval_sets={"test": dataset.test},
                                     eval_step=train.make_eval_step(model), eval_batch_size=len(dataset.test.x),
                                     order_key=key, recorders={"effective_step": record},
                                     progress=False)
        for row, lr in enumerate(lrs):
            runs[f"{name} lr={lr:g}"] = {"optimizer": name, "lr": lr,
                                         **{k: history[k][row].tolist() for k in RECORDED}}
    summary = {
        **describe(args, dataset),
        "model": "MLP in-100-100-classes, ReLU, He init; batch 100",
        "epochs": epochs,
        "runs": runs,
        "final": {label: {k: run[k][-1] for k in RECORDED}
                  | {"effective_step_first_epoch": run["effective_step"][0]} for label, run in runs.items()},
    }
    plot(runs, args.out / "adaptive_lr.png")
    write_json(args.out / "adaptive_lr.json", summary)
    for label, row in summary["final"].items():
        print(f"{label:<18} train loss {row['loss']:.4f}  test acc {row['test_accuracy']:.3f}  effective step "
              f"{row['effective_step_first_epoch']:.2e} -> {row['effective_step']:.2e}")
    print(f"wrote {args.out / 'adaptive_lr.png'} and {args.out / 'adaptive_lr.json'}")
    return summary


if __name__ == "__main__":
    main()
