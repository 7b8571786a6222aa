"""Optimizer paths on f(x, y) = x²/20 + y², the classic figure of the optimizer chapters.

The function is 20 times steeper along y than along x, so plain SGD zig-zags across the valley while momentum
and the adaptive methods head for the minimum at (0, 0). Every optimizer starts at (−7, 2) with the textbook's
learning rate (SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3; the others are chosen to be comparable) and all
of them run inside one jitted program. AdaDelta uses eps=1e-2: with its default 1e-6 its first steps are about
√eps = 1e-3 long (AdaDelta's known slow start, not what this picture is about). Writes
``optimizer_paths.png`` (the first 30 steps of each, on the contour plot) and ``optimizer_paths.json`` (the
steps each needs to bring f below 1e-3 within 1000 steps).

    python experiments/optimizer_paths.py --out results
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import parse_args, write_json
from jaxnn import optim

START = (-7.0, 2.0)
SHOWN_STEPS = 30
MAX_STEPS = 1000
THRESHOLD = 1e-3

OPTIMIZERS: dict[str, tuple[Callable[[], optim.Optimizer], str]] = {
    "SGD": (lambda: optim.sgd(lr=0.95), "lr=0.95"),
    "Momentum": (lambda: optim.momentum(lr=0.1, momentum=0.9), "lr=0.1, momentum=0.9"),
    "Nesterov": (lambda: optim.nesterov(lr=0.1, momentum=0.9), "lr=0.1, momentum=0.9"),
    "AdaGrad": (lambda: optim.adagrad(lr=1.5), "lr=1.5"),
    "RMSprop": (lambda: optim.rmsprop(lr=0.15, decay=0.9), "lr=0.15, decay=0.9"),
    "AdaDelta": (lambda: optim.adadelta(lr=1.0, rho=0.95, eps=1e-2), "lr=1.0, rho=0.95, eps=1e-2"),
    "Adam": (lambda: optim.adam(lr=0.3), "lr=0.3"),
    "AMSGrad": (lambda: optim.amsgrad(lr=0.3), "lr=0.3"),
}


def f(p: jax.Array) -> jax.Array:
    """The textbook's elongated bowl, x²/20 + y²."""
    return p[0] ** 2 / 20.0 + p[1] ** 2


@jax.jit
def run_all(start: jax.Array) -> dict[str, jax.Array]:
    """All optimizers in one compiled program: each is a ``lax.scan`` of MAX_STEPS updates from ``start``."""
    paths = {}
    for name, (make, _) in OPTIMIZERS.items():
        opt = make()

        def step(carry: tuple, _: None, opt: optim.Optimizer = opt) -> tuple[tuple, jax.Array]:
            p, state = carry
            updates, state = opt.update(jax.grad(f)(p), state, p)
            p = optim.apply_updates(p, updates)
            return (p, state), p

        _, path = jax.lax.scan(step, (start, opt.init(start)), None, length=MAX_STEPS)
        paths[name] = jnp.concatenate([start[None], path])
    return paths


def steps_to_threshold(path: np.ndarray) -> int | None:
    """The first step at which f drops below THRESHOLD, or None if it never does within MAX_STEPS."""
    below = np.flatnonzero(path[:, 0] ** 2 / 20.0 + path[:, 1] ** 2 < THRESHOLD)
    return int(below[0]) if below.size else None


def plot(paths: dict[str, np.ndarray], out: Path, dpi: int) -> None:
    x, y = np.meshgrid(np.linspace(-10, 10, 200), np.linspace(-5, 5, 200))
    z = x**2 / 20.0 + y**2
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True, sharey=True)
    for ax, (name, path) in zip(axes.flat, paths.items()):
        shown = path[: SHOWN_STEPS + 1]
        ax.contour(x, y, z, levels=np.linspace(0.5, 7.0, 12), colors="0.6", linewidths=0.8)
        ax.plot(shown[:, 0], shown[:, 1], "o-", color="red", markersize=3, linewidth=1)
        ax.plot(0, 0, "+", color="black", markersize=10)
        ax.set_title(f"{name} ({OPTIMIZERS[name][1]})", fontsize=10)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xticks([-10, -5, 0, 5, 10])
    for ax in axes[-1]:
        ax.set_xlabel("x")
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    fig.suptitle(f"First {SHOWN_STEPS} steps on f(x, y) = x²/20 + y² from {START}")
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], argv)
    computed = run_all(jnp.asarray(START, jnp.float32))
    paths = {name: np.asarray(computed[name]) for name in OPTIMIZERS}  # jit returns dicts sorted by key
    summary = {
        "function": "x**2/20 + y**2",
        "start": START,
        "threshold": THRESHOLD,
        "max_steps": MAX_STEPS,
        "optimizers": {
            name: {
                "hyperparameters": OPTIMIZERS[name][1],
                "steps_to_threshold": steps_to_threshold(path),
                f"f_after_{SHOWN_STEPS}_steps": float(f(path[SHOWN_STEPS])),
                "final_f": float(f(path[-1])),
            }
            for name, path in paths.items()
        },
    }
    plot(paths, args.out / "optimizer_paths.png", dpi=60 if args.quick else 110)
    write_json(args.out / "optimizer_paths.json", summary)
    print(f"{'optimizer':<10} {'hyperparameters':<28} steps to f < {THRESHOLD:g}")
    for name, row in summary["optimizers"].items():
        steps = row["steps_to_threshold"]
        print(f"{name:<10} {row['hyperparameters']:<28} {steps if steps is not None else f'not within {MAX_STEPS}'}")
    print(f"wrote {args.out / 'optimizer_paths.png'} and {args.out / 'optimizer_paths.json'}")
    return summary


if __name__ == "__main__":
    main()
