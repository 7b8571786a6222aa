"""The smallest hidden layer that separates a 2-class toy: 3 neurons for a disk inside a ring, 2 for XOR.

A network ``2 → h tanh units → 2 logits`` with h = 1, 2, 3, 5 trains full-batch (Adam, lr 0.05, 3,000 steps)
on two toys of 400 points: a disk (radius < 0.5) inside a ring (radius 0.7 to 1), and XOR-like clusters at
(±1, ±1) labelled by the sign of x·y. The lecture notes' claim: each hidden unit contributes one soft
half-plane, so a bounded class (the disk) needs at least 3 around it (a triangle), XOR needs 2 parallel lines,
and h = 1 gives a single line (at most 75% on XOR; what it measured: ``docs/gallery.md``). Training
can fail from a bad start, so each width trains 8 seeds as one vmapped program (one program per width,
reused for both toys) and the figure shows the best seed's decision regions. Writes ``min_neurons.png``
(rows: toys, columns: widths) and ``min_neurons.json`` (training accuracy per seed).

    python experiments/min_neurons.py --out results
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import parse_args, write_json
from experiments._ensemble import member_probabilities
from jaxnn import data, nn, optim, train

WIDTHS = (1, 2, 3, 5)
SEEDS = 8
POINTS = 400
STEPS, QUICK_STEPS = 3000, 300


def disk_and_ring(n: int = POINTS, seed: int = 0) -> data.Split:
    """``n`` points: half in the disk r < 0.5 (class 0), half in the ring 0.7 < r < 1 (class 1)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    r = np.where(y == 0, 0.5 * np.sqrt(rng.uniform(size=n)), rng.uniform(0.7, 1.0, size=n))
    angle = rng.uniform(0, 2 * np.pi, size=n)
    return data.Split(np.stack([r * np.cos(angle), r * np.sin(angle)], 1).astype(np.float32), y.astype(np.int32))


def xor(n: int = POINTS, seed: int = 0) -> data.Split:
    """``n`` points in four Gaussian clusters (std 0.3) at (±1, ±1); class 1 where x and y differ in sign."""
    rng = np.random.default_rng(seed)
    centres = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], np.float32)[np.arange(n) % 4]
    x = centres + 0.3 * rng.standard_normal((n, 2))
    return data.Split(x.astype(np.float32), (np.arange(n) % 4 >= 2).astype(np.int32))


TOYS = {"disk inside ring": disk_and_ring, "XOR": xor}


def build_model(width: int) -> nn.Layer:
    return nn.Sequential([nn.Dense(width), nn.tanh, nn.Dense(2)])


@functools.cache
def program(width: int) -> tuple[nn.Layer, optim.Optimizer, train.TrainStep]:
    """The model, optimizer and train step of one width, made once so both toys share its compilation."""
    model, opt = build_model(width), optim.adam(lr=0.05)
    return model, opt, train.make_train_step(model, opt)


def fit_seeds(width: int, toy: data.Split, steps: int) -> tuple[train.TrainState, np.ndarray]:
    """SEEDS runs of full-batch Adam trained together (``train.fit_stack``, one epoch per step); returns their
    states and training accuracies."""
    model, opt, step = program(width)
    states = train.stack([train.create(model, opt, jax.random.key(seed), (2,)) for seed in range(SEEDS)])
    # Each epoch is one full-batch step: the order key only permutes the sum over the points.
    states, _ = train.fit_stack(states, step, (toy.x, toy.y), steps, POINTS, order_key=jax.random.key(0),
                                progress=False)
    return states, np.mean(member_probabilities(model, states, toy.x).argmax(-1) == toy.y, axis=1)


def plot(results: dict, states: dict, out: Path) -> None:
    fig, axes = plt.subplots(len(TOYS), len(WIDTHS), figsize=(3.2 * len(WIDTHS), 3.2 * len(TOYS)))
    for row, (toy_name, make) in enumerate(TOYS.items()):
        toy = make()
        lim = 1.1 if toy_name != "XOR" else 2.0
        gx, gy = np.meshgrid(np.linspace(-lim, lim, 150), np.linspace(-lim, lim, 150))
        grid = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
        for ax, width in zip(axes[row], WIDTHS):
            best = int(np.argmax(results[toy_name][str(width)]))
            ts = jax.tree.map(lambda a, best=best: a[best], states[toy_name, width])
            logits, _ = build_model(width).apply(ts.params, ts.model_state, jnp.asarray(grid))
            regions = np.asarray(logits).argmax(-1).reshape(gx.shape)
            ax.contourf(gx, gy, regions, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"])
            ax.scatter(*toy.x.T, c=np.where(toy.y == 0, "C0", "C1"), s=4)
            accuracy = results[toy_name][str(width)][best]
            ax.set_title(f"{toy_name}, {width} unit{'s' if width > 1 else ''}: {accuracy:.0%}", fontsize=10)
            ax.set(xticks=[], yticks=[], aspect="equal", xlim=(-lim, lim), ylim=(-lim, lim))
    fig.tight_layout()
    fig.savefig(out, dpi=60)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = QUICK_STEPS if args.quick else STEPS
    results: dict[str, dict[str, list[float]]] = {}
    states = {}
    for toy_name, make in TOYS.items():
        results[toy_name] = {}
        for width in WIDTHS:
            states[toy_name, width], accuracy = fit_seeds(width, make(), steps)
            results[toy_name][str(width)] = accuracy.tolist()
    summary = {
        "model": "2 -> h tanh -> 2 logits; adam(lr=0.05), full batch",
        "steps": steps,
        "seeds": SEEDS,
        "train_accuracy_per_seed": results,
        "best_train_accuracy": {t: {w: max(a) for w, a in by_width.items()} for t, by_width in results.items()},
        "smallest_width_at_100_percent": {
            t: next((int(w) for w, a in by_width.items() if max(a) == 1.0), None) for t, by_width in results.items()},
    }
    plot(results, states, args.out / "min_neurons.png")
    write_json(args.out / "min_neurons.json", summary)
    for toy_name, by_width in summary["best_train_accuracy"].items():
        print(f"{toy_name:<17} best training accuracy by width: "
              + "  ".join(f"{w}: {a:.3f}" for w, a in by_width.items()))
    print(f"wrote {args.out / 'min_neurons.png'} and {args.out / 'min_neurons.json'}")
    return summary


if __name__ == "__main__":
    main()
