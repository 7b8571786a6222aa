"""Benchmark jaxnn.train.fit against a hand-written lax.scan loop, a per-step Python loop and PyTorch.

All variants train the same MLP on MNIST-1D (4,000 x 40, 10 classes; 40-100-100-10, ReLU, He init) with Adam
(lr 1e-3) on softmax cross-entropy, batch 100, for ``--steps`` steps (default 2,000 = 50 epochs of 40 steps).
They start from the same initial weights and walk the same per-epoch permutations (without replacement), and
all of them compute the loss and accuracy of every step and average them per epoch, as ``fit`` does:

    (a) fit       ``jaxnn.train.fit`` with ``jaxnn.train.make_train_step``.
    (b) scan      the whole run as one jitted program written with plain jax.numpy (matmuls, Adam by hand):
                  a ``lax.scan`` over epochs, each drawing its permutation on device and scanning its batches.
    (c) per-step  the same hand-written step, jitted, called once per step from a Python loop.
    (d) torch     ``torch.nn`` MLP + ``torch.optim.Adam(fused=True)``, ``torch.set_num_threads(cores)``, indexing
                  a pre-made permutation tensor (skipped with a note when torch is not installed).

For each variant, one warm-up run (which includes compilation) is timed on its own; then ``--repeats`` timed
runs of the full step count follow, interleaved round-robin across the variants so that a change in background
load hits all of them alike, and the median is reported. Targets: fit within 1.2x of (b), and at least 3x
faster than (c) and (d); each prints MET or MISSED, or "inconclusive" when other processes used more than 15% of
the cores during the repeats (see benchmarks/README.md).

    python benchmarks/fit_loop.py                  # 2,000 steps, 5 repeats
    python benchmarks/fit_loop.py --quick          # 200 steps, 1 repeat (a smoke run)
    python benchmarks/fit_loop.py --steps 4000 --repeats 7
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jaxnn` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._machine import cores, machine, time_interleaved, verdict
from jaxnn import data, nn, optim, train

BATCH = 100
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-8
TARGET_VS_SCAN = 1.2  # fit's time may be at most this multiple of the hand-written scan's
TARGET_SPEEDUP = 3.0  # fit must be at least this many times faster than the per-step loop and PyTorch


# --------------------------------------------------------------------------------------------------------------
# The hand-written JAX model, loss and Adam: plain jax.numpy, no jaxnn. Params are ((w1, b1), (w2, b2), (w3, b3)).


def mlp(params, x):
    for w, b in params[:-1]:
        x = jnp.maximum(x @ w + b, 0.0)
    w, b = params[-1]
    return x @ w + b


def loss_and_logits(params, x, y):
    logits = mlp(params, x)
    log_p = logits - jax.scipy.special.logsumexp(logits, axis=-1, keepdims=True)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=-1)), logits


def hand_step(state, x, y, idx):
    """One step on the minibatch ``x[idx], y[idx]``: state is (params, m, v, t); returns (state, (loss, acc))."""
    params, m, v, t = state
    xb, yb = x[idx], y[idx]
    (loss, logits), grads = jax.value_and_grad(loss_and_logits, has_aux=True)(params, xb, yb)
    t = t + 1
    c1, c2 = 1.0 - B1 ** t.astype(jnp.float32), 1.0 - B2 ** t.astype(jnp.float32)
    m = jax.tree.map(lambda m, g: B1 * m + (1.0 - B1) * g, m, grads)
    v = jax.tree.map(lambda v, g: B2 * v + (1.0 - B2) * g * g, v, grads)
    params = jax.tree.map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + EPS), params, m, v)
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == yb)
    return (params, m, v, t), (loss, accuracy)


def epoch_batches(shuffle_key, epoch, n):
    """The epoch's full minibatches of a fresh permutation: the same draws as jaxnn.train.fit makes."""
    bits = jax.random.bits(jax.random.fold_in(shuffle_key, epoch), (2, n), jnp.uint32)
    perm = jax.lax.sort((bits[0], bits[1], jnp.arange(n, dtype=jnp.int32)), num_keys=2)[2]
    return perm[: n // BATCH * BATCH].reshape(n // BATCH, BATCH)


def make_scan_run(epochs: int):
    """(b): the whole run, every epoch and every step, in one compiled program."""

    @jax.jit
    def run(state, x, y, shuffle_key):
        def epoch(state, e):
            state, (loss, acc) = jax.lax.scan(lambda s, idx: hand_step(s, x, y, idx), state,
                                              epoch_batches(shuffle_key, e, x.shape[0]))
            return state, (jnp.mean(loss), jnp.mean(acc))

        return jax.lax.scan(epoch, state, jnp.arange(epochs))

    return run


def make_python_run(epochs: int):
    """(c): a Python loop over steps, each one call of a jitted step; the host syncs once per epoch."""
    step = jax.jit(hand_step)
    batches_of = jax.jit(epoch_batches, static_argnums=2)

    def run(state, x, y, shuffle_key):
        history = []
        for e in range(epochs):
            batches = np.asarray(batches_of(shuffle_key, e, x.shape[0]))  # one small copy per epoch
            losses, accs = [], []
            for idx in batches:
                state, (loss, acc) = step(state, x, y, idx)
                losses.append(loss)
                accs.append(acc)
            history.append((float(jnp.mean(jnp.stack(losses))), float(jnp.mean(jnp.stack(accs)))))
        return state, history

    return run


# --------------------------------------------------------------------------------------------------------------
# The four variants. Each builder returns run() -> final epoch's mean training loss, with all work finished.


def build_model() -> nn.Layer:
    he = nn.init.he_normal()
    return nn.Sequential([nn.Dense(100, w_init=he), nn.relu, nn.Dense(100, w_init=he), nn.relu, nn.Dense(10)])


def build_fit(x, y, epochs: int, ts0, model: nn.Layer, opt: optim.Optimizer) -> Callable[[], float]:
    step = train.make_train_step(model, opt)  # one step object: fit compiles on the first call, then reuses it

    def run() -> float:
        ts, history = train.fit(ts0, step, (x, y), epochs=epochs, batch_size=BATCH, progress=False)
        jax.block_until_ready(ts)
        return history["loss"][-1]

    return run


def plain_state(ts0):
    params = tuple((ts0.params[k]["w"], ts0.params[k]["b"]) for k in sorted(ts0.params, key=int))
    zeros = jax.tree.map(jnp.zeros_like, params)
    return params, zeros, zeros, jnp.zeros([], jnp.int32)


def build_scan(x, y, epochs: int, ts0, shuffle_key) -> Callable[[], float]:
    run_all, state0 = make_scan_run(epochs), plain_state(ts0)

    def run() -> float:
        state, (losses, _) = jax.block_until_ready(run_all(state0, x, y, shuffle_key))
        return float(losses[-1])

    return run


def build_python(x, y, epochs: int, ts0, shuffle_key) -> Callable[[], float]:
    run_all, state0 = make_python_run(epochs), plain_state(ts0)

    def run() -> float:
        state, history = run_all(state0, x, y, shuffle_key)
        jax.block_until_ready(state)
        return history[-1][0]

    return run


def build_torch(x, y, epochs: int, ts0, shuffle_key) -> Callable[[], float]:
    import torch

    torch.set_num_threads(cores())
    x_t = torch.from_numpy(np.array(x))
    y_t = torch.from_numpy(np.asarray(y).astype(np.int64))
    perms = torch.from_numpy(np.stack([np.asarray(epoch_batches(shuffle_key, e, x.shape[0]))
                                       for e in range(epochs)]).astype(np.int64))  # (epochs, 40, 100)
    initial = [(np.asarray(w).T.copy(), np.asarray(b).copy()) for w, b in plain_state(ts0)[0]]

    def run() -> float:
        model = torch.nn.Sequential(torch.nn.Linear(40, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
                                    torch.nn.ReLU(), torch.nn.Linear(100, 10))
        with torch.no_grad():
            for layer, (w, b) in zip(model[::2], initial):
                layer.weight.copy_(torch.from_numpy(w))
                layer.bias.copy_(torch.from_numpy(b))
        # fused=True: the fastest of torch's three Adam implementations here (about 20% faster per step than
        # the default for-loop one on the 2-core machine of docs/benchmarks.md); the same update rule.
        opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(B1, B2), eps=EPS, fused=True)
        history = []
        for e in range(epochs):
            loss_sum, acc_sum = torch.zeros(()), torch.zeros(())
            for idx in perms[e]:
                xb, yb = x_t[idx], y_t[idx]
                logits = model(xb)
                loss = torch.nn.functional.cross_entropy(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    loss_sum += loss
                    acc_sum += (logits.argmax(dim=-1) == yb).float().mean()
            history.append(((loss_sum / len(perms[e])).item(), (acc_sum / len(perms[e])).item()))
        return history[-1][0]

    return run


# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per run, a multiple of 40 (default 2000; 200 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steady-state runs per variant, median reported (default 5; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 200 steps, 1 repeat")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch row even when torch is installed")
    args = parser.parse_args(argv)
    args.steps = args.steps if args.steps is not None else (200 if args.quick else 2000)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    ds = data.load("mnist1d")
    x, y = jnp.asarray(ds.train.x), jnp.asarray(ds.train.y)
    per_epoch = x.shape[0] // BATCH
    if args.steps <= 0 or args.steps % per_epoch:
        raise SystemExit(f"--steps must be a positive multiple of {per_epoch} (steps per epoch), got {args.steps}")
    epochs = args.steps // per_epoch

    model, opt = build_model(), optim.adam(LR)
    ts0 = train.create(model, opt, jax.random.key(0), x.shape[1:])
    shuffle_key = jax.random.split(ts0.key)[1]  # the stream fit draws its per-epoch permutations from

    variants: dict[str, Callable[[], float]] = {
        "(a) jaxnn fit": build_fit(x, y, epochs, ts0, model, opt),
        "(b) hand-written scan": build_scan(x, y, epochs, ts0, shuffle_key),
        "(c) per-step jit loop": build_python(x, y, epochs, ts0, shuffle_key),
    }
    torch_note = None
    try:
        import torch
    except ImportError:
        torch = None
        torch_note = "torch is not installed"
    if args.no_torch:
        torch, torch_note = None, "--no-torch"
    if torch is not None:
        variants["(d) PyTorch"] = build_torch(x, y, epochs, ts0, shuffle_key)

    versions = f"jax {jax.__version__}" + (f", torch {torch.__version__}" if torch is not None else "")
    print(f"{machine()}; {versions}; Python {platform.python_version()}")
    print(f"MLP 40-100-100-10 on MNIST-1D, Adam lr {LR}, batch {BATCH}: {args.steps} steps ({epochs} epochs), "
          f"median of {args.repeats} timed run(s) after one warm-up run")
    if torch_note:
        print(f"note: the (d) PyTorch row is skipped ({torch_note})")

    timed = time_interleaved(variants, args.repeats)
    warmup, times, median, losses, meter = timed.first, timed.times, timed.median, timed.results, timed.load
    others = meter.others
    base = median["(b) hand-written scan"]
    fit_time = median["(a) jaxnn fit"]
    print()
    print(f"{'variant':24s} {'warm-up s':>10s} {'steady s':>9s} {'min s':>7s} {'us/step':>8s} {'steps/s':>8s} "
          f"{'vs (b)':>7s} {'vs fit':>7s} {'last-epoch loss':>16s}")
    for name in variants:
        t = median[name]
        print(f"{name:24s} {warmup[name]:10.3f} {t:9.3f} {min(times[name]):7.3f} {t / args.steps * 1e6:8.1f} "
              f"{args.steps / t:8.0f} {t / base:6.2f}x {t / fit_time:6.2f}x {losses[name]:16.5f}")
    print(f"(warm-up = the first run, compilation included; steady = median of {args.repeats}, min = fastest)")
    print(meter.line())

    print()
    spread = (max(losses.values()) - min(losses.values())) / min(losses.values())
    print(f"same work: the variants' last-epoch training losses agree within {spread:.2%}"
          + ("" if spread < 0.01 else " -- MORE THAN 1%: check that the variants still train the same model"))
    checks = {f"fit within {TARGET_VS_SCAN}x of (b)": (fit_time / base, fit_time / base <= TARGET_VS_SCAN)}
    for name in variants:
        if name.startswith(("(c)", "(d)")):
            speedup = median[name] / fit_time
            checks[f"fit >= {TARGET_SPEEDUP:g}x faster than {name[4:]}"] = (speedup, speedup >= TARGET_SPEEDUP)
    for label, (ratio, met) in checks.items():
        print(f"target {label:42s} {ratio:6.2f}x  {verdict(met, others)}")
    if torch is None:
        print(f"target fit >= {TARGET_SPEEDUP:g}x faster than PyTorch: not measured ({torch_note})")

    return {"steps": args.steps, "repeats": args.repeats, "warmup_s": warmup, "steady_s": median,
            "times_s": times, "last_epoch_loss": losses, "versions": versions, "machine": machine(),
            "other_load": others,
            "targets": {label: {"value": ratio, "met": met, "verdict": verdict(met, others)}
                        for label, (ratio, met) in checks.items()}}


if __name__ == "__main__":
    main()
