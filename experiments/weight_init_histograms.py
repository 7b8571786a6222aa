"""Activation histograms per layer under four weight initialisations (Deep Learning from Scratch, ch. 6).

1,000 random inputs of width 100 pass through 5 bias-free Dense layers of 100 units, for sigmoid, tanh and
ReLU, with weights drawn from N(0, 1), N(0, 0.01²), "Xavier" (the book's std √(1/n): ``nn.init.lecun_normal``)
and He (std √(2/n): ``nn.init.he_normal``). The textbook's claims (what it measured: ``docs/gallery.md``):

- std 1 with sigmoid: pre-activations are huge, so activations pile up at 0 and 1, where σ' ≈ 0 (vanishing
  gradients);
- std 0.01 with sigmoid: activations collapse onto 0.5, every unit computes the same thing (lost
  expressiveness);
- Xavier keeps sigmoid and tanh activations away from both extremes in every layer (tanh's narrow slowly);
  with ReLU it halves the variance at each layer, which He's factor 2 repairs: He keeps ReLU layers spread.

Every configuration draws its weights from the same key, so only the scale and the activation differ.

Writes ``weight_init_histograms.png`` (rows: activation × init, columns: layers) and
``weight_init_histograms.json`` (per layer: mean, std, fraction of exact zeros, histogram) to ``--out``.

    python experiments/weight_init_histograms.py --out results
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

from experiments._cli import parse_args, write_json
from jaxnn import nn

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": nn.sigmoid,
    "tanh": nn.tanh,
    "relu": nn.relu,
}
INITS: dict[str, nn.init.Initializer] = {
    "std=1": nn.init.normal(1.0),
    "std=0.01": nn.init.normal(0.01),
    "xavier": nn.init.lecun_normal(),
    "he": nn.init.he_normal(),
}
# Histogram ranges: the activation's image; ReLU's mass at exactly 0 is reported apart (frac_zero), and its
# histogram covers the positive values, which He keeps around 1 in every layer. Values beyond the range are
# counted in the edge bins, so exploding ReLU activations show as a spike at the right edge.
HIST_RANGE = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, 4.0)}
BINS = 30


def layer_activations(
    x: jax.Array,
    activation: Callable[[jax.Array], jax.Array],
    w_init: nn.init.Initializer,
    depth: int,
    key: jax.Array,
) -> list[np.ndarray]:
    """The activations after each of ``depth`` layers ``activation(h W)``, W of width ``x.shape[-1]``."""
    layer = nn.Sequential([nn.Dense(x.shape[-1], use_bias=False, w_init=w_init), activation])
    activations = []
    for layer_key in jax.random.split(key, depth):
        params, state = layer.init(layer_key, x.shape[1:])
        x, _ = layer.apply(params, state, x)
        activations.append(np.asarray(x))
    return activations


def layer_stats(a: np.ndarray, activation: str) -> dict[str, Any]:
    """Mean, std, fraction of exact zeros and a histogram over ``HIST_RANGE[activation]``."""
    lo, hi = HIST_RANGE[activation]
    values = (a[a > 0] if activation == "relu" else a.ravel()).astype(np.float64)
    counts, edges = np.histogram(np.clip(values, lo, hi), bins=BINS, range=(lo, hi))
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "frac_zero": float((a == 0).mean()),
        "hist_of": "a > 0" if activation == "relu" else "all",
        "hist_edges": edges.tolist(),
        "hist_counts": counts.tolist(),
    }


def plot(results: dict[str, dict[str, list[dict[str, Any]]]], path: Path, dpi: int) -> None:
    rows = [(act, init) for act in results for init in results[act]]
    depth = len(results["sigmoid"]["std=1"])
    fig, axes = plt.subplots(len(rows), depth, figsize=(2.4 * depth, 1.5 * len(rows)), squeeze=False)
    # Fixed margins: tight_layout would lay out (draw) all 60 axes twice.
    fig.subplots_adjust(left=0.06, right=0.99, bottom=0.02, top=0.95, hspace=0.6, wspace=0.12)
    for r, (act, init) in enumerate(rows):
        for i, stats in enumerate(results[act][init]):
            ax = axes[r, i]
            ax.stairs(stats["hist_counts"], stats["hist_edges"], fill=True, color=f"C{r // len(INITS)}")
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
            ax.set_title(f"layer {i + 1}: std {stats['std']:.2g}", fontsize=7)
        label = f"{act}\n{init}" + ("\n(a > 0)" if act == "relu" else "")
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(f"Activation histograms per layer ({depth} x 100 units, no bias)", fontsize=11)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Runs the experiment; returns what it writes to the JSON file."""
    args = parse_args(
        __doc__.splitlines()[0], argv, seed={"type": int, "default": 0, "help": "PRNG seed (0)"}
    )

    n_inputs, width, depth = (300 if args.quick else 1000), 100, 5
    data_key, weight_key = jax.random.split(jax.random.key(args.seed))
    x = jax.random.normal(data_key, (n_inputs, width))
    results = {
        act: {
            init: [layer_stats(a, act) for a in layer_activations(x, fn, w_init, depth, weight_key)]
            for init, w_init in INITS.items()
        }
        for act, fn in ACTIVATIONS.items()
    }
    summary = {
        "config": {"n_inputs": n_inputs, "width": width, "depth": depth, "seed": args.seed, "bins": BINS},
        "results": results,
    }

    plot(results, args.out / "weight_init_histograms.png", dpi=50 if args.quick else 110)
    write_json(args.out / "weight_init_histograms.json", summary)
    print(f"{'activation':<10} {'init':<9} per-layer mean / std")
    for act in results:
        for init, layers in results[act].items():
            print(f"{act:<10} {init:<9} " + "  ".join(f"{s['mean']:.3g}/{s['std']:.3g}" for s in layers))
    print(f"wrote {args.out / 'weight_init_histograms.png'} and {args.out / 'weight_init_histograms.json'}")
    return summary


if __name__ == "__main__":
    main()
