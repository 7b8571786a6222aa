"""Benchmark ``jaxnn.sweep.run`` against sequential runs, a hand-written vmap + optax program and PyTorch.

Every variant trains the same ``--configs`` Adam learning rates (log-uniform in [1e-4, 1e-2], from
``sweep.Space``) on the same MLP 40-100-100-10 (ReLU, He init) on MNIST-1D (4,000 training examples, softmax
cross-entropy), batch 100, for ``--steps`` steps (default 64 configs x 2,000 steps = 50 epochs of 40 steps).
Config ``i`` starts from the weights ``sweep.config_key(0, i)`` gives it, and all configs walk the same
per-epoch minibatches (``sweep.order_key(0)``, the sweep's default common order), so the variants compute the
same numbers and their final losses can be compared config by config:

    (a) sweep       ``jaxnn.sweep.run``: all configs in one ``jit(vmap)`` epoch, one ``lax.scan`` per epoch.
    (b) sequential  the configs one after another with ``jaxnn.train.fit`` and one compiled step (the learning
                    rate is a float32 leaf of the optimizer state, set with ``optim.set_hparams``).
    (c) vmap+optax  the best JAX peer, written by hand: a plain jax.numpy MLP, ``optax.adam`` with the learning
                    rate injected by ``optax.inject_hyperparams``, vmapped over configs inside one ``lax.scan``
                    over all steps: the whole sweep is one compiled call.
    (d) torch loop  ``torch.nn`` + ``torch.optim.Adam``, one config after another (skipped without torch).
    (d) torch.func  ``functional_call`` + ``vmap`` + ``grad`` over stacked params, Adam by hand, one Python
                    iteration per step for all configs at once (skipped without torch).

PyTorch runs with one intra-op thread by default (``--torch-threads``): these matmuls are 100 wide, too small
for two OpenMP threads to gain much, and on a shared machine their spin-waiting barriers collapse (measured on
the 2-core machine under load average 14: 3.8 ms per torch step with one thread, 128 ms with two). The two
sequential variants, (b) and the torch loop, can train only the first ``--sequential-configs`` configs and have
their times scaled up: they run configs one after another with identical work, so their time is linear in the
number of configs (their warm-up counts its compilation once: the first call plus the other configs at the
steady rate).

Evaluation: ``sweep.run`` evaluates every config on a validation set after each epoch. To keep that work out of
the comparison, (a) gets the smallest evaluation set the API allows (one example, ``eval_batch_size=1``), and
(b) evaluates the same example after each epoch; (c) and (d) do not evaluate. Every variant computes the loss
of every step and the last epoch's mean, as ``sweep.run`` does (it also computes the accuracy).

Timing: each variant's first run (compilation included) is timed on its own; then ``--repeats`` full runs,
interleaved round-robin across variants so that background load hits all alike, and the median is reported.
Throughput is configs x steps per second and achieved GFLOP/s, counted analytically (forward
``2 B (40*100 + 100*100 + 100*10)`` FLOPs per config and step, backward twice that), against the best float32
matmul rate this script measures on the same machine. Targets: (a) at least as fast as (c), at least 10x
faster than (d), and at least 50% of the measured matmul peak; each prints MET or MISSED, or "inconclusive"
when other processes used more than 15% of the cores during the repeats (see benchmarks/README.md).

    python benchmarks/sweep.py                          # 64 configs x 2,000 steps, 2 repeats
    python benchmarks/sweep.py --quick                  # 4 configs x 80 steps, 1 repeat (a smoke run)
    python benchmarks/sweep.py --configs 128 --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

if __package__ in (None, ""):  # run as a script: make `jaxnn` and `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._machine import machine, time_interleaved, verdict
from benchmarks.fit_loop import mlp
from jaxnn import data, nn, optim, sweep, train

BATCH = 100
KEY = 0  # the sweep's root key: init keys and the shared minibatch order
LR_RANGE = (1e-4, 1e-2)
LAYERS = (40, 100, 100, 10)
FORWARD_FLOPS = 2 * BATCH * sum(a * b for a, b in zip(LAYERS[:-1], LAYERS[1:]))  # per config and step
STEP_FLOPS = 3 * FORWARD_FLOPS  # backward ~ 2x forward
TARGET_VS_PEER = 1.0  # (c)'s time over (a)'s must be at least this
TARGET_VS_TORCH = 10.0  # (d)'s time over (a)'s must be at least this
TARGET_PEAK = 0.5  # (a)'s achieved GFLOP/s over the measured matmul peak


def matmul_peak(sizes: tuple[int, ...], seconds: float = 0.5) -> tuple[float, int]:
    """The best float32 GFLOP/s of jitted square matmuls of ``sizes`` on the default device, and its size.

    Each size runs back-to-back calls for about ``seconds`` after a warm-up call; the fastest call counts.
    """
    best, best_n = 0.0, sizes[0]
    for n in sizes:
        a, b = jax.random.normal(jax.random.key(n), (2, n, n), jnp.float32)
        matmul = jax.jit(jnp.matmul)
        matmul(a, b).block_until_ready()
        fastest, deadline = float("inf"), time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            matmul(a, b).block_until_ready()
            fastest = min(fastest, time.perf_counter() - start)
        if 2 * n**3 / fastest / 1e9 > best:
            best, best_n = 2 * n**3 / fastest / 1e9, n
    return best, best_n


def build_model() -> nn.Layer:
    he = nn.init.he_normal()
    return nn.Sequential([nn.Dense(100, w_init=he), nn.relu, nn.Dense(100, w_init=he), nn.relu, nn.Dense(10)])


MODEL = build_model()


def build(hp: dict) -> sweep.Trial:
    # Module-level and pure: sweep.run caches its compiled programs per build function.
    return sweep.Trial(MODEL, optim.adam(hp["lr"]))


def last_epoch_mean(losses: np.ndarray, per_epoch: int) -> np.ndarray:
    """``(configs, steps)`` per-step losses -> ``(configs,)`` means over the last epoch, as the sweep reports."""
    return losses[:, -per_epoch:].mean(axis=1)


# --------------------------------------------------------------------------------------------------------------
# Each builder returns run() -> (configs,) last-epoch mean training losses, with all work finished.


def build_sweep(configs: sweep.Configs, train_xy, eval_xy, epochs: int) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        result = sweep.run(build, configs, (train_xy, eval_xy), epochs=epochs, batch_size=BATCH, key=KEY,
                           eval_batch_size=1, progress=False)
        return result.history["loss"][:, 0, -1]  # numpy: the host already waited for the work

    return run


def initial_states(lrs: np.ndarray) -> list[train.TrainState]:
    """Config ``i``'s TrainState as the sweep builds it, its lr set, and ``key`` = the sweep's order key, so
    that ``fit`` draws the shared minibatches (fit shuffles with ``epoch_batches(ts.key, ...)``)."""
    states = []
    for i, lr in enumerate(lrs):
        ts = train.create(MODEL, optim.adam(1e-3), sweep.config_key(KEY, i), (LAYERS[0],))
        states.append(ts._replace(opt_state=optim.set_hparams(ts.opt_state, lr=float(lr)), key=sweep.order_key(KEY)))
    return states


def build_sequential(states: list[train.TrainState], train_xy, eval_xy, epochs: int) -> Callable[[], np.ndarray]:
    step, eval_step = train.make_train_step(MODEL, optim.adam(1e-3)), train.make_eval_step(MODEL)

    def run() -> np.ndarray:
        losses = []
        for ts in states:
            _, history = train.fit(ts, step, train_xy, epochs=epochs, batch_size=BATCH, eval_data=eval_xy,
                                   eval_step=eval_step, progress=False)
            losses.append(history["loss"][-1])
        return np.array(losses)

    return run


def plain_params(states: list[train.TrainState]) -> tuple:
    """The configs' initial weights as ``((w1, b1), (w2, b2), (w3, b3))`` stacked on a leading config axis."""
    layers = sorted(states[0].params, key=int)
    return tuple((jnp.stack([ts.params[k]["w"] for ts in states]), jnp.stack([ts.params[k]["b"] for ts in states]))
                 for k in layers)


def mlp_loss(params: tuple, x: jax.Array, y: jax.Array) -> jax.Array:
    logits = mlp(params, x)
    return jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, y[:, None], axis=-1)[:, 0])


def optax_program() -> tuple[Callable, Callable]:
    """The peer's ``(init(params, lrs) -> carry, steps(carry, x, y, batches) -> (carry, losses))``, both jitted:
    the configs vmapped inside one ``lax.scan`` over all steps."""
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)  # one program serves every lr

    def init_one(params, lr):
        opt_state = adam.init(params)
        return params, opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": lr})

    def step_one(carry, xb, yb):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(mlp_loss)(params, xb, yb)
        updates, opt_state = adam.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def steps(carry, x, y, batches):
        return jax.lax.scan(lambda c, idx: jax.vmap(step_one, in_axes=(0, None, None))(c, x[idx], y[idx]), carry,
                            batches)

    return jax.jit(jax.vmap(init_one)), jax.jit(steps)


def build_optax(states: list[train.TrainState], lrs: np.ndarray, x, y, batches: jax.Array
                ) -> Callable[[], np.ndarray]:
    init, steps = optax_program()
    params, lrs_d = plain_params(states), jnp.asarray(lrs, jnp.float32)
    per_epoch = x.shape[0] // BATCH

    def run() -> np.ndarray:
        _, losses = steps(init(params, lrs_d), x, y, batches)
        return last_epoch_mean(np.asarray(losses).T, per_epoch)  # losses: (steps, configs)

    return run


def torch_mlp():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(40, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
                               torch.nn.ReLU(), torch.nn.Linear(100, 10))


def torch_inputs(states: list[train.TrainState], x, y, batches: jax.Array):
    """Torch copies of the data, the shared minibatch indices and each config's initial weights (transposed to
    torch's (out, in) layout), in torch_mlp's parameter order."""
    import torch

    weights = [[torch.from_numpy(np.array(a)) for w, b in plain for a in (w.T, b)]
               for plain in (tuple((ts.params[k]["w"], ts.params[k]["b"]) for k in sorted(ts.params, key=int))
                             for ts in states)]
    return (torch.from_numpy(np.array(x)), torch.from_numpy(np.asarray(y).astype(np.int64)),
            torch.from_numpy(np.asarray(batches).astype(np.int64)), weights)


def build_torch_loop(states, lrs, x, y, batches) -> Callable[[], np.ndarray]:
    import torch

    x_t, y_t, idx_t, weights = torch_inputs(states, x, y, batches)
    per_epoch = x.shape[0] // BATCH

    def run() -> np.ndarray:
        losses = []
        for lr, initial in zip(lrs, weights):
            model = torch_mlp()
            with torch.no_grad():
                for p, value in zip(model.parameters(), initial):
                    p.copy_(value)
            opt = torch.optim.Adam(model.parameters(), lr=float(lr))
            total = torch.zeros(())
            for s, idx in enumerate(idx_t):
                loss = torch.nn.functional.cross_entropy(model(x_t[idx]), y_t[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if s >= len(idx_t) - per_epoch:
                    total += loss.detach()
            losses.append(float(total) / per_epoch)
        return np.array(losses)

    return run


def build_torch_func(states, lrs, x, y, batches) -> Callable[[], np.ndarray]:
    import torch
    from torch.func import functional_call, grad_and_value, vmap

    x_t, y_t, idx_t, weights = torch_inputs(states, x, y, batches)
    base = torch_mlp()
    names = [name for name, _ in base.named_parameters()]
    initial = [torch.stack(leaves) for leaves in zip(*weights)]  # each (configs, ...)
    lr_t = torch.tensor(lrs, dtype=torch.float32)
    b1, b2, eps = 0.9, 0.999, 1e-8
    per_epoch = x.shape[0] // BATCH

    def loss_fn(params, xb, yb):
        return torch.nn.functional.cross_entropy(functional_call(base, dict(zip(names, params)), (xb,)), yb)

    grads_of = vmap(grad_and_value(loss_fn), in_dims=(0, None, None))

    def run() -> np.ndarray:
        params = [p.clone() for p in initial]
        m, v = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
        lr = [lr_t.view(-1, *[1] * (p.ndim - 1)) for p in params]
        total = torch.zeros(len(lrs))
        with torch.no_grad():
            for s, idx in enumerate(idx_t):
                grads, loss = grads_of(params, x_t[idx], y_t[idx])
                c1, c2 = 1 - b1 ** (s + 1), 1 - b2 ** (s + 1)
                for p, g, m_, v_, lr_ in zip(params, grads, m, v, lr):
                    m_.mul_(b1).add_(g, alpha=1 - b1)
                    v_.mul_(b2).addcmul_(g, g, value=1 - b2)
                    p.sub_(lr_ * (m_ / c1) / ((v_ / c2).sqrt() + eps))
                if s >= len(idx_t) - per_epoch:
                    total += loss
        return (total / per_epoch).numpy()

    return run


# The problem every variant trains, and the variants by name: benchmarks/scaling.py builds the same ones per N.

VARIANTS = ("(a) jaxnn sweep.run", "(b) sequential fit", "(c) vmap + optax", "(d) torch loop", "(d) torch.func vmap")
SEQUENTIAL = ("(b) sequential fit", "(d) torch loop")  # configs one after another: time linear in configs


class Problem(NamedTuple):
    """The data, the configs and what every variant starts from, for one number of configs."""

    x: jax.Array  # training inputs
    y: jax.Array
    eval_xy: tuple[jax.Array, jax.Array]  # the smallest evaluation set sweep.run allows: one example
    configs: sweep.Configs
    lrs: np.ndarray  # the configs' learning rates, float32
    states: list[train.TrainState]  # config i's TrainState as the sweep builds it
    batches: jax.Array  # (steps, BATCH): the shared minibatch indices of every step
    epochs: int


def make_problem(ds: data.Dataset, n_configs: int, epochs: int) -> Problem:
    """``n_configs`` Adam learning rates (the first ``k`` are the same for every ``n_configs >= k``) on ``ds``."""
    x, y = jnp.asarray(ds.train.x), jnp.asarray(ds.train.y)
    configs = sweep.Space(lr=sweep.log_uniform(*LR_RANGE)).sample(jax.random.key(1), n_configs)
    lrs = np.array([c["lr"] for c in configs], np.float32)
    order = sweep.order_key(KEY)
    batches = jnp.concatenate([train.epoch_batches(order, e, x.shape[0], BATCH)[0] for e in range(epochs)])
    return Problem(x, y, (jnp.asarray(ds.test.x[:1]), jnp.asarray(ds.test.y[:1])), configs, lrs,
                   initial_states(lrs), batches, epochs)


def build_variants(p: Problem, names: tuple[str, ...], sequential_configs: int) -> dict[str, Callable[[], np.ndarray]]:
    """The variants ``names`` (from :data:`VARIANTS`) on ``p``; those in :data:`SEQUENTIAL` train only the first
    ``sequential_configs`` configs."""
    k, train_xy = sequential_configs, (p.x, p.y)
    builders = {
        "(a) jaxnn sweep.run": lambda: build_sweep(p.configs, train_xy, p.eval_xy, p.epochs),
        "(b) sequential fit": lambda: build_sequential(p.states[:k], train_xy, p.eval_xy, p.epochs),
        "(c) vmap + optax": lambda: build_optax(p.states, p.lrs, p.x, p.y, p.batches),
        "(d) torch loop": lambda: build_torch_loop(p.states[:k], p.lrs[:k], p.x, p.y, p.batches),
        "(d) torch.func vmap": lambda: build_torch_func(p.states, p.lrs, p.x, p.y, p.batches),
    }
    return {name: builders[name]() for name in names}


def import_torch(skip: bool, threads: int) -> tuple[Any, str | None]:
    """(torch with ``threads`` intra-op threads, None), or (None, why the torch rows are skipped)."""
    if skip:
        return None, "the (d) rows are skipped (--no-torch)"
    try:
        import torch
    except ImportError:
        return None, "torch is not installed: the (d) rows are skipped (pip install torch==2.13.0)"
    torch.set_num_threads(threads)
    return torch, None


def versions(torch: Any) -> str:
    return f"jax {jax.__version__}, optax {optax.__version__}" + (f", torch {torch.__version__}" if torch else "")


# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=None, help="learning rates swept (default 64; 4 with --quick)")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps per config, a multiple of 40 (default 2000; 80 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed steady-state runs per variant, median reported (default 2; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 4 configs, 80 steps, 1 repeat")
    parser.add_argument("--sequential-configs", type=int, default=None,
                        help="(b) and the torch loop train only the first K configs and their times are scaled by "
                             "configs / K (they run configs one after another, so time is linear in configs; "
                             "default: all)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="PyTorch intra-op threads (default 1: faster for these 100-wide matmuls on a shared "
                             "machine, see the module docstring)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch rows even when torch is installed")
    args = parser.parse_args(argv)
    args.configs = args.configs if args.configs is not None else (4 if args.quick else 64)
    args.steps = args.steps if args.steps is not None else (80 if args.quick else 2000)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 2)
    if args.sequential_configs is None:
        args.sequential_configs = args.configs
    for name in ("configs", "repeats", "sequential_configs", "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    args.sequential_configs = min(args.sequential_configs, args.configs)
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    ds = data.load("mnist1d")
    per_epoch = ds.train.x.shape[0] // BATCH
    if args.steps <= 0 or args.steps % per_epoch:
        raise SystemExit(f"--steps must be a positive multiple of {per_epoch} (steps per epoch), got {args.steps}")
    epochs = args.steps // per_epoch
    problem = make_problem(ds, args.configs, epochs)
    torch, torch_note = import_torch(args.no_torch, args.torch_threads)
    k = args.sequential_configs
    variants = build_variants(problem, VARIANTS if torch else VARIANTS[:3], k)

    print(f"{machine()}; {versions(torch)}; Python {platform.python_version()}")
    print(f"{args.configs} Adam configs (lr log-uniform in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}]), MLP 40-100-100-10 "
          f"on MNIST-1D, batch {BATCH}: {args.steps} steps ({epochs} epochs) each; median of {args.repeats} timed "
          f"run(s) after one warm-up run")
    if torch_note:
        print(f"note: {torch_note}")
    if k < args.configs:
        print(f"note: (b) and the torch loop train the first {k} configs; times scaled by {args.configs / k:g}")
    if torch is not None:
        print(f"note: PyTorch runs with {args.torch_threads} intra-op thread(s)")
    peak, peak_n = matmul_peak((128, 256) if args.quick else (256, 512, 1024, 2048))
    print(f"measured float32 matmul peak: {peak:.1f} GFLOP/s (jitted {peak_n}x{peak_n} @ {peak_n}x{peak_n})")

    timed = time_interleaved(variants, args.repeats, {name: args.configs / k for name in SEQUENTIAL},
                             progress=lambda line: print(line, flush=True))
    warmup, median, times, losses = timed.first, timed.median, timed.times, timed.results
    others = timed.load.others

    work = args.configs * args.steps
    gflops = {name: work * STEP_FLOPS / t / 1e9 for name, t in median.items()}
    sweep_time = median["(a) jaxnn sweep.run"]
    reference = losses["(c) vmap + optax"]
    print()
    print(f"{'variant':22s} {'warm-up s':>10s} {'steady s':>9s} {'min s':>7s} {'cfg*steps/s':>12s} {'GFLOP/s':>8s} "
          f"{'% peak':>7s} {'vs (a)':>7s} {'max |loss - (c)|':>17s}")
    for name in variants:
        t = median[name]
        print(f"{name:22s} {warmup[name]:10.2f} {t:9.2f} {min(times[name]):7.2f} {work / t:12.0f} "
              f"{gflops[name]:8.2f} {gflops[name] / peak:7.1%} {t / sweep_time:6.2f}x "
              f"{np.max(np.abs(losses[name] - reference[: losses[name].size])):17.2e}")
    print(f"(warm-up = the first run, compilation included; steady = median of {args.repeats}, min = fastest; "
          f"vs (a) = time / (a)'s time; FLOPs per config and step = {STEP_FLOPS:,})")
    print(timed.load.line())

    print()
    checks = {"(a) >= 1.0x as fast as (c) vmap + optax": (median["(c) vmap + optax"] / sweep_time, TARGET_VS_PEER)}
    for name in variants:
        if name.startswith("(d)"):
            checks[f"(a) >= 10x as fast as {name}"] = (median[name] / sweep_time, TARGET_VS_TORCH)
    checks["(a) >= 50% of the matmul peak"] = (gflops["(a) jaxnn sweep.run"] / peak, TARGET_PEAK)
    for label, (value, target) in checks.items():
        print(f"target {label:44s} {value:6.2f}  {verdict(value >= target, others)}")
    if torch is None:
        print(f"targets against (d): not measured ({torch_note})")

    return {"configs": args.configs, "steps": args.steps, "repeats": args.repeats, "lrs": problem.lrs.tolist(),
            "warmup_s": warmup, "steady_s": median, "times_s": times, "gflops": gflops, "peak_gflops": peak,
            "final_loss": {name: v.tolist() for name, v in losses.items()},
            "targets": {label: {"value": v, "target": t, "met": v >= t, "verdict": verdict(v >= t, others)}
                        for label, (v, t) in checks.items()},
            "versions": versions(torch), "machine": machine(), "other_load": others}


if __name__ == "__main__":
    main()
