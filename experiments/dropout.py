"""Dropout against overfitting: rate 0.2 vs none on 300 training images (Deep Learning from Scratch, ch. 6).

The textbook's ``overfit_dropout``: the weight-decay setting (300 training images, 6 hidden ReLU layers of 100 units
with He init, SGD lr 0.01, batch 100) trained for 300 epochs, with Dropout(0.2) after every hidden ReLU and without
(rate 0, the baseline). Training and test accuracy are measured after every epoch in evaluation mode (no dropout).
The textbook's claim: without dropout the training accuracy reaches ~100%, far above the test accuracy; with
dropout both rise more slowly and the gap shrinks (what it measured: ``docs/gallery.md``). The JSON's
``history`` holds the per-epoch curves. Both runs start from the same weights, see the same minibatches and train in
one vmapped program (the rate is a traced value; jaxnn's dropout is the inverted kind, which differs from the
textbook's by a constant factor the next layer absorbs). On MNIST-1D the inputs are 40 wide, not 784, and 300
sequences are far too few to generalise, so the test accuracy stays low for both.

Writes ``dropout.png`` (training and test accuracy per epoch, one panel per rate) and ``dropout.json``.

    python experiments/dropout.py --out results
    python experiments/dropout.py --dataset mnist --data-dir ../shared/data/mnist-5k
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

RATES = [0.0, 0.2]
DEPTH = 6
LR = 0.01
TRAIN_SIZE = 300


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(__doc__.splitlines()[0], argv, **DATA_OPTIONS)
    epochs = 20 if args.quick else 300
    dataset = load(args, TRAIN_SIZE)
    classes = int(dataset.train.y.max()) + 1

    opt = optim.sgd(LR)

    def step_for(hp: dict[str, jax.Array]) -> train.TrainStep:
        return train.make_train_step(mlp(DEPTH, classes, nn.init.he_normal(), dropout=hp["rate"]), opt)

    # Dropout has no params and evaluation mode skips it, so the rate-0 model creates and evaluates every row.
    model = mlp(DEPTH, classes, nn.init.he_normal(), dropout=0.0)
    history = overfitting(model, opt, step_for, {"rate": RATES}, dataset, epochs, jax.random.key(args.seed))
    labels = [f"dropout {rate:g}" for rate in RATES]
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x 100 ReLU + Dropout, He init",
                   "optimizer": f"sgd(lr={LR})", "epochs": epochs, "batch_size": BATCH_SIZE, "rates": RATES},
        "final": {label: {"train_accuracy": float(history["train_accuracy"][i, -1]),
                          "test_accuracy": float(history["test_accuracy"][i, -1])} for i, label in enumerate(labels)},
        "history": history_lists(history),
    }
    plot_train_test(history, labels, f"Dropout on {TRAIN_SIZE} {args.dataset} training examples",
                    args.out / "dropout.png")
    write_json(args.out / "dropout.json", summary)
    for label, final in summary["final"].items():
        print(f"{label:<12} train accuracy {final['train_accuracy']:.3f}  test accuracy {final['test_accuracy']:.3f}")
    print(f"wrote {args.out / 'dropout.png'} and {args.out / 'dropout.json'}")
    return summary


if __name__ == "__main__":
    main()
