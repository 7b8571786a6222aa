"""Eight optimizers training the same 5-layer ReLU MLP: smoothed loss curves (Deep Learning from Scratch, ch. 6).

The network is the textbook's ``MultiLayerNet``: 4 hidden ReLU layers of 100 units with He initialisation, batch
128, 2,000 iterations of random minibatches, every optimizer at its jaxnn default (SGD lr 0.01; Momentum and
Nesterov lr 0.01, momentum 0.9; AdaGrad lr 0.01; RMSprop lr 0.01, decay 0.9; AdaDelta lr 1, rho 0.95; Adam and
AMSGrad lr 1e-3). All eight start from the same weights and see the same minibatches; each trains as one compiled
``lax.scan`` of all its steps (``train.scan_epoch``, every step's loss kept). The textbook's claim: plain SGD is
the slowest by far, momentum and the adaptive methods lower the loss much faster, AdaGrad fastest at first (what it
measured: ``docs/gallery.md``). On MNIST-1D the inputs are 40 wide, not 784.

Writes ``optimizer_compare.png`` (loss curves smoothed over 50 iterations, log scale) and ``optimizer_compare.json``.

    python experiments/optimizer_compare.py --out results
    python experiments/optimizer_compare.py --dataset mnist --data-dir ../shared/data/mnist-5k
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import DATA_OPTIONS, describe, load, parse_args, write_json
from experiments._curves import loss_curves
from experiments._models import mlp
from experiments._plots import smooth
from jaxnn import nn, optim

OPTIMIZERS: dict[str, Callable[[], optim.Optimizer]] = {
    "SGD": optim.sgd,
    "Momentum": optim.momentum,
    "Nesterov": optim.nesterov,
    "AdaGrad": optim.adagrad,
    "RMSprop": optim.rmsprop,
    "AdaDelta": optim.adadelta,
    "Adam": optim.adam,
    "AMSGrad": optim.amsgrad,
}
DEPTH = 4  # hidden layers: with the output layer, the textbook's 5-layer net


def plot(curves: dict[str, np.ndarray], window: int, title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        ax.plot(smooth(curve, window), label=name, linewidth=1.2)
    ax.set(xlabel="iteration", ylabel=f"training loss (mean of {window} iterations)", title=title)
    ax.set_yscale("log")  # the fast optimizers differ by orders of magnitude once they fit the training set
    ax.legend(ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(__doc__.splitlines()[0], argv, **DATA_OPTIONS)
    iterations, batch_size, window = (100, 128, 10) if args.quick else (2000, 128, 50)
    dataset = load(args)
    classes = int(dataset.train.y.max()) + 1
    model = mlp(DEPTH, classes, nn.init.he_normal())
    setups = {name: (model, make()) for name, make in OPTIMIZERS.items()}
    curves = loss_curves(setups, dataset.train, iterations, batch_size, jax.random.key(args.seed))
    tail = max(iterations // 10, 1)
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x 100 ReLU, He init",
                   "iterations": iterations, "batch_size": batch_size, "smoothing_window": window,
                   "optimizers": {name: {k: v.tolist() for k, v in optim.hparams(opt.init({})).items()}
                                  for name, (_, opt) in setups.items()}},
        "final_loss": {name: float(c[-tail:].mean()) for name, c in curves.items()},
        "loss": {name: c.tolist() for name, c in curves.items()},
    }
    plot(curves, window, f"Optimizers on {args.dataset} ({DEPTH} x 100 ReLU, He init, batch {batch_size})",
         args.out / "optimizer_compare.png")
    write_json(args.out / "optimizer_compare.json", summary)
    for name, loss in summary["final_loss"].items():
        print(f"{name:<9} mean loss over the last {tail} iterations: {loss:.4f}")
    print(f"wrote {args.out / 'optimizer_compare.png'} and {args.out / 'optimizer_compare.json'}")
    return summary


if __name__ == "__main__":
    main()
