"""Weight decay against overfitting: λ = 0 vs 0.1 on 300 training images (Deep Learning from Scratch, ch. 6).

The textbook's ``overfit_weight_decay``: only 300 training images, 6 hidden ReLU layers of 100 units (He init), SGD
lr 0.01, batch 100, 200 epochs, with the loss plus ½·λ·Σ‖W‖² over the weight matrices (biases are not decayed).
Training and test accuracy are measured after every epoch in evaluation mode. The textbook's claim: without weight
decay the training accuracy reaches ~100% while the test accuracy stays far lower (the net memorises the 300
images); with λ = 0.1 the training accuracy stays lower and the gap shrinks (what it measured:
``docs/gallery.md``). Both runs start from the same weights, see the same minibatches
and train in one vmapped program (λ is a traced value). On MNIST-1D the inputs are 40 wide, not 784, and 300
sequences are far too few to generalise, so the test accuracy stays low for both.

Writes ``weight_decay.png`` (training and test accuracy per epoch, one panel per λ) and ``weight_decay.json``.

    python experiments/weight_decay.py --out results
    python experiments/weight_decay.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax

from experiments._cli import DATA_OPTIONS, describe, history_lists, load, parse_args, write_json
from experiments._models import mlp
from experiments._overfitting import BATCH_SIZE, overfitting
from experiments._plots import plot_train_test
from jaxnn import nn, optim, train

L2 = [0.0, 0.1]  # the L2 coefficients λ
DEPTH = 6
LR = 0.01
TRAIN_SIZE = 300


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(__doc__.splitlines()[0], argv, **DATA_OPTIONS)
    epochs = 20 if args.quick else 200
    dataset = load(args, TRAIN_SIZE)
    classes = int(dataset.train.y.max()) + 1
    model = mlp(DEPTH, classes, nn.init.he_normal())
    opt = optim.sgd(LR)
    history = overfitting(model, opt, lambda hp: train.make_train_step(model, opt, l2=hp["l2"]), {"l2": L2}, dataset,
                          epochs, jax.random.key(args.seed))
    labels = [f"λ = {l2:g}" for l2 in L2]
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x 100 ReLU, He init",
                   "optimizer": f"sgd(lr={LR})", "epochs": epochs, "batch_size": BATCH_SIZE, "l2": L2},
        "final": {label: {"train_accuracy": float(history["train_accuracy"][i, -1]),
                          "test_accuracy": float(history["test_accuracy"][i, -1])} for i, label in enumerate(labels)},
        "history": history_lists(history),
    }
    plot_train_test(history, labels, f"Weight decay on {TRAIN_SIZE} {args.dataset} training examples",
                    args.out / "weight_decay.png")
    write_json(args.out / "weight_decay.json", summary)
    for label, final in summary["final"].items():
        print(f"{label:<8} train accuracy {final['train_accuracy']:.3f}  test accuracy {final['test_accuracy']:.3f}")
    print(f"wrote {args.out / 'weight_decay.png'} and {args.out / 'weight_decay.json'}")
    return summary


if __name__ == "__main__":
    main()
