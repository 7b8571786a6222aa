"""Weight init and learning: std 0.01 vs Xavier vs He on a 5-layer ReLU MLP (Deep Learning from Scratch, ch. 6).

The textbook's ``weight_init_compare``: 4 hidden ReLU layers of 100 units, SGD lr 0.01, batch 128, 2,000
iterations, with weights drawn from N(0, 0.01²), "Xavier" (the book's std √(1/n), ``nn.init.lecun_normal``) and He
(std √(2/n)). The textbook's claim: with std 0.01 the activations shrink by about 0.01·√(100/2) ≈ 0.07 per layer,
the gradients of the first layers vanish and nothing is learnt; Xavier learns, He learns fastest (what it measured:
``docs/gallery.md``). All three start from the same random normals (only the scale differs), see the same
minibatches and each trains as one compiled ``lax.scan`` of all its steps (``train.scan_epoch``). On MNIST-1D the
inputs are 40 wide, not 784.

Writes ``weight_init_compare.png`` (loss curves smoothed over 50 iterations) and ``weight_init_compare.json``.

    python experiments/weight_init_compare.py --out results
    python experiments/weight_init_compare.py --dataset mnist --data-dir ../shared/data/mnist-5k
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
from experiments._curves import loss_curves
from experiments._models import mlp
from experiments._plots import smooth
from jaxnn import nn, optim

INITS: dict[str, nn.init.Initializer] = {
    "std=0.01": nn.init.normal(0.01),
    "Xavier": nn.init.lecun_normal(),
    "He": nn.init.he_normal(),
}
DEPTH = 4  # hidden layers: with the output layer, the textbook's 5-layer net
LR = 0.01


def plot(curves: dict[str, np.ndarray], window: int, title: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        ax.plot(smooth(curve, window), label=name)
    ax.axhline(np.log(10), color="0.5", linestyle=":", label="log 10 (chance)")
    ax.set(xlabel="iteration", ylabel=f"training loss (mean of {window} iterations)", title=title)
    ax.set_ylim(0, None)
    ax.legend()
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
    setups = {name: (mlp(DEPTH, classes, w_init), optim.sgd(LR)) for name, w_init in INITS.items()}
    curves = loss_curves(setups, dataset.train, iterations, batch_size, jax.random.key(args.seed))
    tail = max(iterations // 10, 1)
    summary = {
        "config": {**describe(args, dataset), "model": f"MLP {DEPTH} x 100 ReLU", "optimizer": f"sgd(lr={LR})",
                   "iterations": iterations, "batch_size": batch_size, "smoothing_window": window,
                   "inits": list(INITS)},
        "final_loss": {name: float(c[-tail:].mean()) for name, c in curves.items()},
        "loss": {name: c.tolist() for name, c in curves.items()},
    }
    plot(curves, window, f"Weight init on {args.dataset} ({DEPTH} x 100 ReLU, SGD lr {LR})",
         args.out / "weight_init_compare.png")
    write_json(args.out / "weight_init_compare.json", summary)
    for name, loss in summary["final_loss"].items():
        print(f"{name:<9} mean loss over the last {tail} iterations: {loss:.4f}")
    print(f"wrote {args.out / 'weight_init_compare.png'} and {args.out / 'weight_init_compare.json'}")
    return summary


if __name__ == "__main__":
    main()
