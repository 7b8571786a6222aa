"""Adam fails to converge on the online problem of Reddi, Kale and Kumar (2018); AMSGrad converges.

The losses are linear on the feasible set [−1, 1]: ``f_t(x) = 1010·x`` when ``t mod 101 = 1`` and ``−10·x``
otherwise (t = 1, 2, ...). Over each period of 101 steps they sum to ``10·x``, so the best fixed point is
x = −1. Adam (β1 = 0.9, β2 = 0.99) sees the rare large gradient +1010 only briefly in its second moment, which
then decays; the frequent −10 gradients, each divided by a small √v̂, push x up more than the rare one pushes
it down, and x drifts to +1: its average regret R_T / T stays near a positive constant. AMSGrad keeps the
largest v it has seen, so the −10 steps stay small and x reaches −1 with R_T / T → 0.

Both use ``jaxnn.optim.adam`` / ``jaxnn.optim.amsgrad`` (with bias correction, eps = 1e-8) at ``lr = 1`` and
the decaying step size ``α/√t`` (α = 0.5) applied by hand (the update is multiplied by α/√t): jaxnn's schedules
offer 1/t decay but not 1/√t. Each step ends with the projection onto [−1, 1], which for one coordinate is a
clip. Both optimizers run in one jitted program. Writes ``amsgrad_counterexample.png`` (x_t and R_t / t) and
``amsgrad_counterexample.json``.

    python experiments/amsgrad_counterexample.py --out results
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `experiments` and `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from experiments._cli import parse_args, write_json
from jaxnn import optim

PERIOD = 101
BIG, SMALL = 1010.0, -10.0
B1, B2, EPS = 0.9, 0.99, 1e-8
ALPHA = 0.5  # the paper leaves α open; with 0.1 AMSGrad is still at x ≈ −0.4 after 10⁶ steps
STEPS, QUICK_STEPS = 1_000_000, 100_000
OPTIMIZERS = {"Adam": optim.adam, "AMSGrad": optim.amsgrad}


def gradient(t: jax.Array) -> jax.Array:
    """∇f_t, the slope of the linear loss at step ``t`` (counted from 1)."""
    return jnp.where(t % PERIOD == 1, BIG, SMALL)


def run(name: str, steps: int, alpha: float = ALPHA, x0: float = 0.0) -> jax.Array:
    """``x_1 ... x_{steps+1}`` of optimizer ``name`` (a key of OPTIMIZERS): the point played at each step."""
    opt = OPTIMIZERS[name](lr=1.0, b1=B1, b2=B2, eps=EPS)

    def step(carry: tuple, t: jax.Array) -> tuple[tuple, jax.Array]:
        x, state = carry
        updates, state = opt.update(gradient(t), state)
        x = jnp.clip(x + alpha / jnp.sqrt(t.astype(jnp.float32)) * updates, -1.0, 1.0)
        return (x, state), x

    x = jnp.asarray(x0, jnp.float32)
    _, xs = jax.lax.scan(step, (x, opt.init(x)), jnp.arange(1, steps + 1))
    return jnp.concatenate([x[None], xs])


@jax.jit(static_argnames="steps")
def run_all(steps: int) -> dict[str, jax.Array]:
    """Both optimizers' trajectories in one compiled program."""
    return {name: run(name, steps) for name in OPTIMIZERS}


def average_regret(xs: np.ndarray) -> np.ndarray:
    """``R_t / t`` for t = 1..T from the points played ``xs[:T]``, against the best fixed point x* = −1."""
    t = np.arange(1, xs.size + 1)
    slopes = np.where(t % PERIOD == 1, BIG, SMALL)
    regret = np.cumsum(slopes * (xs.astype(np.float64) + 1.0))  # f_t(x_t) − f_t(−1) = slope·(x_t + 1)
    return regret / t


def plot(paths: dict[str, np.ndarray], regrets: dict[str, np.ndarray], out: Path) -> None:
    fig, (ax_x, ax_r) = plt.subplots(1, 2, figsize=(11, 4))
    for name, xs in paths.items():
        t = np.unique(np.geomspace(1, xs.size - 1, 2000).astype(int))  # log-spaced samples keep the PNG small
        ax_x.plot(t, xs[t - 1], label=name)
        ax_r.plot(t, regrets[name][t - 1], label=name)
    ax_x.axhline(-1, color="0.5", linestyle=":", label="optimum x* = −1")
    ax_x.set(xscale="log", xlabel="step t", ylabel="x_t", title="the point played", ylim=(-1.1, 1.1))
    ax_r.set(xscale="log", yscale="log", xlabel="step t", ylabel="R_t / t", title="average regret")
    for ax in (ax_x, ax_r):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"f_t(x) = {BIG:g}x if t mod {PERIOD} = 1 else {SMALL:g}x on [−1, 1]; "
                 f"β1={B1}, β2={B2}, lr = {ALPHA}/√t")
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(__doc__.splitlines()[0], argv)
    steps = QUICK_STEPS if args.quick else STEPS
    computed = run_all(steps)
    paths = {name: np.asarray(computed[name]) for name in OPTIMIZERS}  # jit returns dicts sorted by key
    regrets = {name: average_regret(xs[:-1]) for name, xs in paths.items()}
    summary = {
        "problem": f"f_t(x) = {BIG:g}*x if t % {PERIOD} == 1 else {SMALL:g}*x, x in [-1, 1]",
        "b1": B1, "b2": B2, "eps": EPS, "alpha": ALPHA, "lr": "alpha / sqrt(t), applied by hand", "steps": steps,
        "optimizers": {
            name: {"final_x": float(xs[-1]), "mean_x_last_10_percent": float(xs[-steps // 10:].mean()),
                   "final_average_regret": float(regrets[name][-1])}
            for name, xs in paths.items()
        },
    }
    plot(paths, regrets, args.out / "amsgrad_counterexample.png")
    write_json(args.out / "amsgrad_counterexample.json", summary)
    for name, row in summary["optimizers"].items():
        print(f"{name:<8} final x {row['final_x']:+.4f}  R_T/T {row['final_average_regret']:.4f}")
    print(f"wrote {args.out / 'amsgrad_counterexample.png'} and {args.out / 'amsgrad_counterexample.json'}")
    return summary


if __name__ == "__main__":
    main()
