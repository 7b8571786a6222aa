"""Sigmoid, tanh, ReLU, leaky ReLU, ELU and Maxout networks trained on the same task.

Every network is the MNIST-1D MLP shape (two hidden layers of 100 units, then 10 logits) with the same
initialisation rule (``nn.init.lecun_normal``, the Dense default, so that only the activation differs) and the
same optimizer (SGD with momentum 0.9, lr 0.05, batch 100). Maxout layers have 100 units of 2 pieces each
(twice the weights). Each activation trains 3 seeds as one vmapped program; the activations are different
functions and so different programs. The textbooks' claim it tests: sigmoid learns far more slowly than the
others (its derivative is at most ¼ and saturates), tanh is better, and the piecewise-linear units train
fastest (what it measured: ``docs/gallery.md``). Writes
``activations.png`` (training loss and test accuracy per epoch, mean over seeds with the range shaded) and
``activations.json``.

    python experiments/activations.py --out results
    python experiments/activations.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, load, parse_args, write_json
from jaxnn import nn, optim, train

HIDDEN = 100
SEEDS = 3
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array] | None] = {
    "sigmoid": nn.sigmoid,
    "tanh": nn.tanh,
    "ReLU": nn.relu,
    "leaky ReLU": nn.leaky_relu,
    "ELU": nn.elu,
    "Maxout (2 pieces)": None,  # a layer of its own rather than a function after Dense
}


def build_model(activation: str, classes: int) -> nn.Layer:
    """Two hidden layers of HIDDEN units with ``activation`` (a key of ACTIVATIONS), then the logits."""
    fn = ACTIVATIONS[activation]
    hidden = [nn.Maxout(HIDDEN, pieces=2)] if fn is None else [nn.Dense(HIDDEN), fn]
    return nn.Sequential([*hidden, *hidden, nn.Dense(classes)])


def plot(runs: dict[str, dict], out: Path) -> None:
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, (name, run) in enumerate(runs.items()):
        for ax, key in ((ax_loss, "loss"), (ax_acc, "test_accuracy")):
            values = np.asarray(run[key])
            epochs = np.arange(1, values.shape[1] + 1)
            ax.plot(epochs, values.mean(axis=0), color=f"C{i}", label=name)
            ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), color=f"C{i}", alpha=0.2)
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="cross-entropy", title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="test accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_loss.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(
        __doc__.splitlines()[0], argv, **DATA_OPTIONS,
        epochs=(60, 2),
    )
    epochs = args.epochs
    dataset = load(args)
    classes = int(dataset.train.y.max()) + 1
    opt = optim.momentum(lr=0.05, momentum=0.9)
    runs = {}
    for name in ACTIVATIONS:
        model = build_model(name, classes)
        states = train.stack([train.create(model, opt, jax.random.key(seed), dataset.train.x.shape[1:])
                              for seed in range(args.seed, args.seed + SEEDS)])
        _, history = train.fit_stack(states, train.make_train_step(model, opt), dataset.train, epochs, batch_size=100,
                                     eval_sets={"test": dataset.test}, eval_step=train.make_eval_step(model),
                                     eval_batch_size=len(dataset.test.x), order_key=jax.random.key(args.seed),
                                     progress=False)
        runs[name] = {"loss": history["loss"].tolist(), "test_accuracy": history["test_accuracy"].tolist()}
    final = {name: {"loss": float(np.mean(np.asarray(run["loss"])[:, -1])),
                    "test_accuracy": float(np.mean(np.asarray(run["test_accuracy"])[:, -1]))}
             for name, run in runs.items()}
    summary = {
        **describe(args, dataset),
        "model": f"MLP in-{HIDDEN}-{HIDDEN}-classes, lecun_normal init; momentum(lr=0.05, momentum=0.9), batch 100",
        "epochs": epochs,
        "seeds": SEEDS,
        "final_mean_over_seeds": final,
        "runs": runs,
    }
    plot(runs, args.out / "activations.png")
    write_json(args.out / "activations.json", summary)
    for name, row in final.items():
        print(f"{name:<18} train loss {row['loss']:.4f}  test accuracy {row['test_accuracy']:.3f}")
    print(f"wrote {args.out / 'activations.png'} and {args.out / 'activations.json'}")
    return summary


if __name__ == "__main__":
    main()
