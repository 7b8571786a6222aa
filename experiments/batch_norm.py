"""Batch normalization vs weight scale: 16 init stds, with and without BN (Deep Learning from Scratch, ch. 6).

The textbook's ``batch_norm_test``: 1,000 training images, 5 hidden ReLU layers of 100 units, SGD lr 0.01,
batch 100, 20 epochs, weights drawn from N(0, w²) for 16 scales w in logspace(0, −4, 16), each trained with and
without a BatchNorm after every hidden Dense layer. Training accuracy is measured after every epoch on the
training images in batches of 100, BN normalising with each batch's statistics as in training. The textbook
evaluates with the running statistics instead; its BatchNorm starts them at var = 0, jaxnn's (like PyTorch's
and Flax's) at var = 1, which for w = 1e-4 (true variances ~1e-8) needs ~175 updates of momentum 0.9 to
forget, so evaluation mode would measure the running average's lag rather than learning
(``batch_norm_inference`` shows that effect). A run whose loss stops being finite is plotted as accuracy 0
from then on. The textbook's claim: without BN learning fails for large scales (the activations explode) and
for small ones (the signal vanishes); with BN the net learns fast over the whole range (what it measured, and
where it differs: ``docs/gallery.md``). BatchNorm uses the textbook's eps 1e-6 (see ``_models.mlp``).

The 16 scales are one vmapped program per setting (``train.fit_stack`` of 16 rows whose weights were drawn
with ``nn.init.normal`` of each std), and every run sees the same minibatches. On MNIST-1D the inputs are 40
wide, not 784, and the task is harder, so the accuracies are lower than the textbook's.

Writes ``batch_norm.png`` (the 4 × 4 grid of training-accuracy curves) and ``batch_norm.json``.

    python experiments/batch_norm.py --out results
    python experiments/batch_norm.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
import time
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

SCALES = np.logspace(0, -4, 16)
DEPTH = 5
LR = 0.01
BATCH_SIZE = 100


def plot(accuracy: dict[str, np.ndarray], title: str, path: Path) -> None:
    epochs = np.arange(1, accuracy["with BN"].shape[1] + 1)
    fig, axes = plt.subplots(4, 4, figsize=(11, 9), sharex=True, sharey=True)
    for i, ax in enumerate(axes.flat):
        ax.plot(epochs, accuracy["with BN"][i], label="with BN")
        ax.plot(epochs, accuracy["without BN"][i], linestyle="--", label="without BN")
        ax.set_title(f"w = {SCALES[i]:.2g}", fontsize=9)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("train accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(__doc__.splitlines()[0], argv, **DATA_OPTIONS)
    train_size, epochs = (1000, 4) if args.quick else (1000, 20)
    dataset = load(args, train_size)
    classes = int(dataset.train.y.max()) + 1
    start = time.perf_counter()
    accuracy, diverged = {}, {}
    opt, key = optim.sgd(LR), jax.random.key(args.seed)
    for name, bn in [("without BN", False), ("with BN", True)]:
        # The scale only draws the weights: every row starts from the same normals, scaled, and one model
        # (whose init is never called again) trains and evaluates them all.
        states = train.stack([train.create(mlp(DEPTH, classes, nn.init.normal(scale), batch_norm=bn), opt, key,
                                           dataset.train.x.shape[1:]) for scale in SCALES])
        model = mlp(DEPTH, classes, nn.init.normal(1.0), batch_norm=bn)
        _, history = train.fit_stack(states, train.make_train_step(model, opt), dataset.train, epochs, BATCH_SIZE,
                                     eval_sets={"train": dataset.train}, eval_step=make_batch_stats_eval(model),
                                     eval_batch_size=BATCH_SIZE, order_key=key, progress=False)
        diverged[name] = history["diverged_at"] >= 0
        # A diverged run (activations overflowed) counts as accuracy 0 from the epoch its loss stopped being finite.
        accuracy[name] = np.where(np.isfinite(history["train_loss"]), history["train_accuracy"], 0.0)
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x 100 ReLU, w ~ N(0, scale^2)",
                   "optimizer": f"sgd(lr={LR})", "epochs": epochs, "batch_size": BATCH_SIZE,
                   "scales": SCALES.tolist()},
        "final_train_accuracy": {name: acc[:, -1].tolist() for name, acc in accuracy.items()},
        "diverged": {name: d.tolist() for name, d in diverged.items()},
        "train_accuracy": {name: acc.tolist() for name, acc in accuracy.items()},
        "seconds": time.perf_counter() - start,
    }
    plot(accuracy, f"Training accuracy on {train_size} {args.dataset} examples, with and without BatchNorm",
         args.out / "batch_norm.png")
    write_json(args.out / "batch_norm.json", summary)
    print(f"{'scale':>8}  {'with BN':>8}  {'without':>8}")
    for i, scale in enumerate(SCALES):
        print(f"{scale:8.2g}  {accuracy['with BN'][i, -1]:8.3f}  {accuracy['without BN'][i, -1]:8.3f}")
    print(f"wrote {args.out / 'batch_norm.png'} and {args.out / 'batch_norm.json'}")
    return summary


if __name__ == "__main__":
    main()
