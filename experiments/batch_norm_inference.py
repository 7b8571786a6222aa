"""BatchNorm at test time: running statistics vs batch statistics, and the running average's momentum.

A BatchNorm net (5 hidden ReLU layers of 100 units, He init, BN after every hidden Dense) trains as in
``batch_norm``: 1,000 training images, SGD lr 0.01, batch 100, 20 epochs. BN's running mean and variance are
updated with momentum m ∈ {0, 0.5, 0.9, 0.99, 0.999} (running ← m·running + (1 − m)·batch; the default is
0.9). Training normalises with batch statistics only, so the five runs learn exactly the same weights and
differ only in their running statistics; they train together in one vmapped program (m is traced).

After every epoch the test set is classified three ways: in evaluation mode (running statistics: each
prediction depends on its own example only), and with statistics of the test batch itself, in batches of 100
and of 10 (a prediction then also depends on which other examples share its batch). The claim it tests:
batch statistics of 100 do about as well as well-tuned running statistics, batches of 10 are noisy, and
m = 0.999 lags far behind (after 200 updates it still holds 0.999²⁰⁰ ≈ 82% of the initial mean 0 and variance
1); what it measured is in ``docs/gallery.md``.

Writes ``batch_norm_inference.png`` and ``batch_norm_inference.json``.

    python experiments/batch_norm_inference.py --out results
    python experiments/batch_norm_inference.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, load, parse_args, write_json
from experiments._models import make_batch_stats_eval, mlp
from jaxnn import nn, optim, train

MOMENTA = [0.0, 0.5, 0.9, 0.99, 0.999]
TEST_BATCHES = [100, 10]  # test batch sizes for the batch-statistics evaluation
DEPTH = 5
LR = 0.01
BATCH_SIZE = 100
EVAL_BATCH = 1000  # a multiple of every test batch: each batch-statistics group is a test batch


def plot(history: dict[str, np.ndarray], title: str, path: Path) -> None:
    fig, (ax_curves, ax_final) = plt.subplots(1, 2, figsize=(12, 4.5))
    epochs = np.arange(1, history["running_accuracy"].shape[1] + 1)
    for i, m in enumerate(MOMENTA):
        ax_curves.plot(epochs, history["running_accuracy"][i], label=f"running stats, m = {m:g}")
    for size, style in zip(TEST_BATCHES, ["--", ":"]):
        # Training never reads the running statistics, so every m gives the same batch-statistics curve.
        ax_curves.plot(epochs, history[f"batch{size}_accuracy"][0], "k" + style, label=f"batch stats, {size} per batch")
    ax_curves.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy during training", ylim=(0, 1))
    ax_curves.legend(fontsize=8)
    names = [f"{m:g}" for m in MOMENTA]
    ax_final.bar(names, history["running_accuracy"][:, -1], color=[f"C{i}" for i in range(len(MOMENTA))])
    for size, style in zip(TEST_BATCHES, ["--", ":"]):
        ax_final.axhline(history[f"batch{size}_accuracy"][0, -1], color="k", linestyle=style,
                         label=f"batch stats, {size} per batch")
    ax_final.set(xlabel="running-average momentum m", ylabel="final test accuracy", ylim=(0, 1),
                 title="after the last epoch, running statistics")
    ax_final.legend(fontsize=8, loc="lower left")
    for ax in (ax_curves, ax_final):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(__doc__.splitlines()[0], argv, **DATA_OPTIONS)
    train_size, epochs = (1000, 4) if args.quick else (1000, 20)
    dataset = load(args, train_size)
    classes = int(dataset.train.y.max()) + 1

    opt, key = optim.sgd(LR), jax.random.key(args.seed)

    def model(momentum: jax.Array | float) -> nn.Layer:
        return mlp(DEPTH, classes, nn.init.he_normal(), batch_norm=True, bn_momentum=momentum)

    # The momentum is a per-row (traced) value of the training step only: evaluation never updates the running
    # statistics, so one model evaluates every row. fit_stack takes one eval step and one eval batch size, so
    # the three evaluations are one step over the test set, in batches of EVAL_BATCH split into test batches.
    evals = {"running": train.make_eval_step(model(0.9)),
             **{f"batch{size}": make_batch_stats_eval(model(0.9), size) for size in TEST_BATCHES}}

    def eval_step(ts: train.TrainState, batch: train.Batch) -> dict[str, jax.Array]:
        return {f"{name}_{k}": v for name, step in evals.items() for k, v in step(ts, batch).items()}

    states = train.create_stacked(model(0.9), [opt] * len(MOMENTA), key, dataset.train.x.shape[1:])
    _, history = train.fit_stack(states, lambda hp: train.make_train_step(model(hp["momentum"]), opt),
                                 dataset.train, epochs, BATCH_SIZE, hp={"momentum": MOMENTA},
                                 eval_sets={"test": dataset.test}, eval_step=lambda hp: eval_step,
                                 eval_batch_size=EVAL_BATCH, order_key=key, progress=False)
    history = {name.removeprefix("test_"): values for name, values in history.items() if np.ndim(values) == 2}
    accuracies = {name: values for name, values in history.items() if name.endswith("accuracy")}
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x (100 Dense, BatchNorm(m), ReLU), He init",
                   "optimizer": f"sgd(lr={LR})", "epochs": epochs, "batch_size": BATCH_SIZE, "momenta": MOMENTA,
                   "test_batches": TEST_BATCHES},
        "final_test_accuracy": {
            "running": dict(zip(map(str, MOMENTA), accuracies["running_accuracy"][:, -1].tolist())),
            **{f"batch{size}": float(accuracies[f"batch{size}_accuracy"][0, -1]) for size in TEST_BATCHES}},
        "history": {name: values.tolist() for name, values in history.items()},
    }
    plot(history, f"BatchNorm at test time ({train_size} {args.dataset} training examples, {epochs} epochs)",
         args.out / "batch_norm_inference.png")
    write_json(args.out / "batch_norm_inference.json", summary)
    for m, acc in summary["final_test_accuracy"]["running"].items():
        print(f"running statistics, momentum {m:<6} test accuracy {acc:.3f}")
    for size in TEST_BATCHES:
        accuracy = summary["final_test_accuracy"][f"batch{size}"]
        print(f"batch statistics, {size:3d} per batch   test accuracy {accuracy:.3f}")
    print(f"wrote {args.out / 'batch_norm_inference.png'} and {args.out / 'batch_norm_inference.json'}")
    return summary


if __name__ == "__main__":
    main()
