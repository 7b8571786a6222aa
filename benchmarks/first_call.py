"""First calls: what a fresh process compiles for a sweep, against the hand-written ``jit(vmap)`` + optax program.

Both variants train the same ``--configs`` Adam learning rates (log-uniform in [1e-4, 1e-2]) on the MLP
40-100-100-10 (ReLU, He init) of ``benchmarks/sweep.py``, on MNIST-1D (4,000 training examples, batch 100) for
``--epochs`` epochs, and evaluate every config on the 1,000 test examples after every epoch (loss and accuracy),
keeping the epoch's mean training loss and accuracy:

    (a) sweep.run     ``jaxnn.sweep.run(build, configs, data, ...)``, as a user writes it.
    (b) vmap + optax  written by hand: a plain jax.numpy MLP, ``optax.inject_hyperparams(optax.adam)``; one jitted
                      init (keys, He weights and Adam state of every config, vmapped) and one jitted epoch (the
                      permutation, a ``lax.scan`` over the vmapped step, the vmapped evaluation), called per epoch.

Each variant runs in ``--repeats`` fresh Python processes (so JAX's in-memory caches are cold and its persistent
compilation cache is off), one after another, interleaved across the variants. Every process times the first
call (wall time, from the call to the metrics on the host), counts the XLA programs it compiles
(``jax.monitoring`` backend-compile events, each named by the function JAX compiled) with their seconds, adds the
tracing and lowering seconds, then makes the same call again (the warm second call). Setup (imports, loading the
data, the configs as plain floats) is not timed.

Targets: (a)'s first call compiles no more XLA programs than (b)'s, and spends no more seconds compiling
(backend compile, tracing and lowering) than (b)'s. A count does not depend on the load; seconds do, and read
"inconclusive" when other processes used more than 15% of the cores.

    python benchmarks/first_call.py                 # 32 configs, 3 epochs, 3 fresh processes per variant
    python benchmarks/first_call.py --quick         # 4 configs, 1 epoch, 1 process per variant (a smoke run)
    python benchmarks/first_call.py --configs 64 --repeats 5
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jaxnn` and `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._machine import LoadMeter, cores, cpu_model, verdict

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100
LR_RANGE = (1e-4, 1e-2)
LAYERS = (40, 100, 100, 10)
VARIANTS = {"sweep": "(a) sweep.run", "optax": "(b) vmap + optax"}
COMPILE = "/jax/core/compile/backend_compile_duration"
TRACE_LOWER = ("/jax/core/compile/jaxpr_trace_duration", "/jax/core/compile/jaxpr_to_mlir_module_duration")


def learning_rates(n: int) -> list[float]:
    """``n`` log-uniform learning rates, drawn with NumPy so that no JAX program runs before the timed call."""
    import numpy as np

    rng = np.random.default_rng(1)
    return [float(v) for v in np.exp(rng.uniform(np.log(LR_RANGE[0]), np.log(LR_RANGE[1]), n))]


def load_data() -> tuple:
    """MNIST-1D as NumPy arrays ``((x, y), (x_test, y_test))``."""
    from jaxnn import data

    ds = data.load("mnist1d")
    return (ds.train.x, ds.train.y), (ds.test.x, ds.test.y)


# --------------------------------------------------------------------------------------------------------------
# The two first calls; each returns a function that runs the whole job and returns the last epoch's val losses.


def sweep_job(lrs: list[float], splits: tuple, epochs: int):
    from jaxnn import nn, optim, sweep

    he = nn.init.he_normal()
    model = nn.Sequential([nn.Dense(100, w_init=he), nn.relu, nn.Dense(100, w_init=he), nn.relu, nn.Dense(10)])

    def build(hp: dict) -> sweep.Trial:
        return sweep.Trial(model, optim.adam(hp["lr"]))

    configs = [{"lr": lr} for lr in lrs]

    def run():
        result = sweep.run(build, configs, splits, epochs=epochs, batch_size=BATCH, key=0, progress=False)
        return result.history["val_loss"][:, 0, -1]

    return run


def optax_job(lrs: list[float], splits: tuple, epochs: int):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    (x, y), (ex, ey) = splits
    steps = x.shape[0] // BATCH
    adam = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)  # one program serves every lr

    def forward(params, x):
        for w, b in params[:-1]:
            x = jnp.maximum(x @ w + b, 0.0)
        w, b = params[-1]
        return x @ w + b

    def loss_acc(params, x, y):
        logits = forward(params, x)
        loss = jnp.mean(jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, y[:, None], axis=-1)[:, 0])
        return loss, jnp.mean(jnp.argmax(logits, axis=-1) == y)

    def init_one(key, lr):
        keys = jax.random.split(key, len(LAYERS) - 1)
        params = [(jax.random.normal(k, (a, b)) * jnp.sqrt(2.0 / a), jnp.zeros(b))
                  for k, a, b in zip(keys, LAYERS[:-1], LAYERS[1:])]
        opt_state = adam.init(params)
        return params, opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": lr})

    @jax.jit
    def init(lrs):
        keys = jax.random.split(jax.random.key(0), lrs.shape[0])
        return jax.vmap(init_one)(keys, lrs)

    def step_one(state, xb, yb):
        params, opt_state = state
        (loss, acc), grads = jax.value_and_grad(loss_acc, has_aux=True)(params, xb, yb)
        updates, opt_state = adam.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)

    @jax.jit
    def epoch(state, x, y, ex, ey, e):
        perm = jax.random.permutation(jax.random.fold_in(jax.random.key(1), e), x.shape[0])
        batches = perm[: steps * BATCH].reshape(steps, BATCH)

        def step(state, idx):
            return jax.vmap(step_one, in_axes=(0, None, None))(state, x[idx], y[idx])

        state, (loss, acc) = jax.lax.scan(step, state, batches)
        val_loss, val_acc = jax.vmap(loss_acc, in_axes=(0, None, None))(state[0], ex, ey)
        return state, (loss.mean(0), acc.mean(0), val_loss, val_acc)

    def run():
        state, history = init(np.asarray(lrs, np.float32)), []
        for e in range(epochs):
            state, metrics = epoch(state, x, y, ex, ey, e)
            history.append([np.asarray(m) for m in metrics])  # on the host per epoch, as the sweep records it
        return history[-1][2]

    return run


# --------------------------------------------------------------------------------------------------------------
# One fresh process per measurement.


def child(variant: str, configs: int, epochs: int) -> dict:
    """Runs ``variant``'s first and second call in this process and returns what they compiled and took."""
    import jax

    jax.config.update("jax_enable_compilation_cache", False)  # cold: nothing loaded from an earlier process
    splits, lrs = load_data(), learning_rates(configs)
    run = {"sweep": sweep_job, "optax": optax_job}[variant](lrs, splits, epochs)
    events: list[tuple[str, str, float]] = []

    def listen(event: str, duration: float, **kwargs) -> None:
        events.append((event, str(kwargs.get("fun_name", "?")), duration))

    jax.monitoring.register_event_duration_secs_listener(listen)
    calls = []
    for _ in range(2):
        start, first = time.perf_counter(), len(events)
        val_loss = run()
        wall = time.perf_counter() - start
        mine = events[first:]
        calls.append({"wall_s": wall,
                      "programs": [(name, s) for event, name, s in mine if event == COMPILE],
                      "compile_s": sum(s for event, _, s in mine if event == COMPILE),
                      "trace_lower_s": sum(s for event, _, s in mine if event in TRACE_LOWER),
                      "val_loss": [float(v) for v in val_loss]})
    return {"first": calls[0], "second": calls[1]}


def measure(variant: str, configs: int, epochs: int) -> dict:
    """``child(variant, ...)`` in a fresh Python process."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--configs", str(configs),
               "--epochs", str(epochs)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode:
        raise RuntimeError(f"first_call: the {variant} process failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def program_table(programs: list[tuple[str, float]]) -> list[tuple[str, int, float]]:
    """``(name, times compiled, seconds)`` per compiled function name, the costliest first."""
    count, seconds = collections.Counter(), collections.Counter()
    for name, s in programs:
        count[name] += 1
        seconds[name] += s
    return sorted(((name, count[name], seconds[name]) for name in count), key=lambda row: -row[2])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=None, help="learning rates swept (default 32; 4 with --quick)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of 40 steps (default 3; 1 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="fresh processes per variant, medians reported (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run: 4 configs, 1 epoch, 1 process")
    parser.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.configs = args.configs if args.configs is not None else (4 if args.quick else 32)
    args.epochs = args.epochs if args.epochs is not None else (1 if args.quick else 3)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    for name in ("configs", "epochs", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.configs, args.epochs)))
        return {}
    import jax
    import optax

    load_data()  # generate and cache MNIST-1D once, outside the timed processes
    print(f"{cpu_model()}, {cores()} cores; jax {jax.__version__}, optax {optax.__version__}; "
          f"Python {platform.python_version()}")
    print(f"{args.configs} Adam configs, MLP 40-100-100-10 on MNIST-1D, batch {BATCH}, {args.epochs} epoch(s), "
          f"the 1,000 test examples evaluated after every epoch; {args.repeats} fresh process(es) per variant")
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    meter = LoadMeter().start()
    for _ in range(args.repeats):
        for variant in VARIANTS:
            runs[variant].append(measure(variant, args.configs, args.epochs))
    others = meter.stop()

    summary = {}
    for variant, results in runs.items():
        first = [r["first"] for r in results]
        summary[variant] = {
            "programs": [len(f["programs"]) for f in first],
            "compile_s": statistics.median(f["compile_s"] for f in first),
            "trace_lower_s": statistics.median(f["trace_lower_s"] for f in first),
            "wall_s": statistics.median(f["wall_s"] for f in first),
            "second_programs": [len(r["second"]["programs"]) for r in results],
            "second_wall_s": statistics.median(r["second"]["wall_s"] for r in results),
            "compile_without_init_s": statistics.median(
                f["compile_s"] - sum(sec for name, sec in f["programs"] if name == "jit(init)") for f in first),
            "program_table": program_table(first[0]["programs"]),
            "val_loss": first[0]["val_loss"],
        }
    print()
    print(f"{'first call':18s} {'programs':>8s} {'compile s':>10s} {'trace+lower s':>14s} {'wall s':>7s}   "
          f"{'2nd call: programs':>18s} {'wall s':>7s}")
    for variant, s in summary.items():
        print(f"{VARIANTS[variant]:18s} {max(s['programs']):8d} {s['compile_s']:10.2f} {s['trace_lower_s']:14.2f} "
              f"{s['wall_s']:7.2f}   {max(s['second_programs']):18d} {s['second_wall_s']:7.2f}")
    print("(medians over the processes; programs = XLA compilations, the most any process needed)")
    print(meter.line())
    for variant, s in summary.items():
        print(f"\nprograms {VARIANTS[variant]} compiled in its first process (name: times, seconds):")
        for name, n, seconds in s["program_table"]:
            print(f"  {name:60s} {n:3d} {seconds:7.3f}")

    sweep_s, peer_s = summary["sweep"], summary["optax"]
    total = {v: s["compile_s"] + s["trace_lower_s"] for v, s in summary.items()}
    fewer = max(sweep_s["programs"]) <= max(peer_s["programs"])
    print()
    print(f"target (a) compiles no more programs than (b):   {max(sweep_s['programs'])} vs "
          f"{max(peer_s['programs'])}  {'MET' if fewer else 'MISSED'}")
    print(f"target (a) compiles no longer than (b):          {total['sweep']:.2f} s vs {total['optax']:.2f} s  "
          f"{verdict(total['sweep'] <= total['optax'], others)}")
    print(f"(for reference: (b)'s programs without its init, as if the weights were given: "
          f"{peer_s['compile_without_init_s']:.2f} s of backend compile against (a)'s {sweep_s['compile_s']:.2f} s)")
    return {"configs": args.configs, "epochs": args.epochs, "repeats": args.repeats, "variants": summary,
            "runs": runs, "machine": f"{cpu_model()}, {cores()} cores", "other_load": others}


if __name__ == "__main__":
    main()
