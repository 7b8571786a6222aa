"""Benchmark a fresh process's ``sweep.successive_halving`` against ``sweep.run`` training every config in full.

Both train the same ``--configs`` Adam learning rates (log-uniform in [1e-4, 1e-2]) on the MLP 40-100-100-10
(ReLU, He init) on MNIST-1D (4,000 training examples, 1,000 evaluated after every epoch), batch 100:

    run       ``sweep.run`` of every config for ``eta**k`` epochs (k = floor(log_eta configs)).
    halving   ``sweep.successive_halving`` with ``min_epochs=1`` and ``eta``: rungs of 1, eta, ..., eta**k epochs.

Each runs in a fresh Python process (one after the other, ``--repeats`` times, median reported), so that every
first call compiles as a user's first call would; each child reports its wall time, its compile time
(``jaxnn._compile_time``) and the number of XLA programs it compiled (backend-compile events). Target: the
halving takes at most 0.4x the run's wall time. The load other processes put on the machine is measured over
the children and reported; above 15% of the cores the verdict is "inconclusive".

    python benchmarks/halving.py                  # 27 configs, eta 3 (1 -> 27 epochs), 1 repeat
    python benchmarks/halving.py --quick          # 9 configs, eta 3 (1 -> 9 epochs): a smoke run
    python benchmarks/halving.py --repeats 3
    python benchmarks/halving.py --warm           # also both again, each reading a compilation cache written by
                                                  # an earlier process of the same kind (jaxnn.compilation_cache)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jaxnn` and `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._machine import LoadMeter, cores, cpu_model, verdict

TARGET = 0.4  # the halving's wall time over the run's must be at most this
BATCH = 100
LR_RANGE = (1e-4, 1e-2)


def child(kind: str, configs: int, eta: int, cache: str | None = None) -> dict:
    """One measured call in this (fresh) process: its wall time, compile seconds and compiled programs; with
    ``cache``, JAX's persistent compilation cache on in that folder (programs read from it still count)."""
    import jax

    if cache:
        import jaxnn

        jaxnn.compilation_cache(cache)

    compiled: list[str] = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: compiled.append(kw.get("fun_name", ""))
        if event == "/jax/core/compile/backend_compile_duration" else None)
    from jaxnn import data, nn, optim, sweep
    from jaxnn._compile_time import compile_seconds

    he = nn.init.he_normal()
    model = nn.Sequential([nn.Dense(100, w_init=he), nn.relu, nn.Dense(100, w_init=he), nn.relu, nn.Dense(10)])

    def build(hp: dict) -> sweep.Trial:
        return sweep.Trial(model, optim.adam(hp["lr"]))

    ds = data.load("mnist1d")
    space = sweep.Space(lr=sweep.log_uniform(*LR_RANGE))
    sampled = space.sample(jax.random.key(0), configs)
    epochs = 1
    while epochs * eta <= configs:  # the halving's last rung: eta**k epochs, k = floor(log_eta configs)
        epochs *= eta
    compile_seconds()  # starts the count
    start = time.perf_counter()
    if kind == "run":
        result = sweep.run(build, sampled, ds, epochs=epochs, batch_size=BATCH, progress=False)
    else:
        result = sweep.successive_halving(build, sampled, ds, batch_size=BATCH, min_epochs=1, eta=eta,
                                          progress=False)
    wall = time.perf_counter() - start
    return {"kind": kind, "wall_s": wall, "compile_s": compile_seconds(), "programs": len(compiled),
            "config_epochs": int(result.epochs.sum()), "best_val_accuracy": result.best(1, "val_accuracy")[0][
                "val_accuracy"]}


def fresh(kind: str, configs: int, eta: int, cache: str | None = None) -> dict:
    """``child(kind, ...)`` in a new Python process."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind, "--configs",
                          str(configs), "--eta", str(eta)] + (["--cache", cache] if cache else []),
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=None, help="configs (default 27; 9 with --quick)")
    parser.add_argument("--eta", type=int, default=3, help="the halving's reduction factor (3)")
    parser.add_argument("--repeats", type=int, default=1, help="fresh-process pairs; the median is reported (1)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 9 configs")
    parser.add_argument("--warm", action="store_true",
                        help="also time both with a warm persistent compilation cache")
    parser.add_argument("--child", choices=["run", "halving"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cache", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.configs = (9 if args.quick else 27) if args.configs is None else args.configs
    for name in ("configs", "repeats"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}={getattr(args, name)} is not allowed: it must be an int >= 1.")
    if args.eta < 2:
        raise ValueError(f"--eta={args.eta} is not allowed: it must be an int >= 2.")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Runs the benchmark (or, with ``--child``, one measured call); returns the summary it prints."""
    args = parse_args(argv)
    if args.child:
        summary = child(args.child, args.configs, args.eta, args.cache)
        print(json.dumps(summary))
        return summary
    with tempfile.TemporaryDirectory() as caches:
        meter = LoadMeter().start()
        kinds = ("run", "halving")
        runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for _ in range(args.repeats):
            for kind in kinds:
                runs[kind].append(fresh(kind, args.configs, args.eta))
        if args.warm:
            for kind in kinds:  # a first process writes the kind's cache; the timed ones read it
                fresh(kind, args.configs, args.eta, f"{caches}/{kind}")
            for _ in range(args.repeats):
                for kind in kinds:
                    runs.setdefault(f"{kind} warm", []).append(fresh(kind, args.configs, args.eta,
                                                                     f"{caches}/{kind}"))
        others = meter.stop()
    print(f"{cpu_model()}, {cores()} cores; Python {platform.python_version()}")
    print(f"{args.configs} Adam configs, MLP 40-100-100-10 on MNIST-1D, batch 100, eta {args.eta}; fresh process "
          f"each, median of {args.repeats}")
    print(f"{'':13s} {'wall s':>7s} {'compile s':>10s} {'programs':>9s} {'config-epochs':>14s} {'best val acc':>13s}")
    summary: dict = {"configs": args.configs, "eta": args.eta, "repeats": args.repeats, "runs": runs,
                     "others": others}
    for kind, measured in runs.items():
        median = {k: statistics.median(m[k] for m in measured) for k in ("wall_s", "compile_s", "programs")}
        summary[kind] = median
        print(f"{kind:13s} {median['wall_s']:7.2f} {median['compile_s']:10.2f} {median['programs']:9.0f} "
              f"{measured[0]['config_epochs']:14d} {measured[0]['best_val_accuracy']:13.3f}")
    print(meter.line())
    for cache in ("",) + ((" warm",) if args.warm else ()):
        ratio = summary[f"halving{cache}"]["wall_s"] / summary[f"run{cache}"]["wall_s"]
        summary[f"ratio{cache}"], summary[f"verdict{cache}"] = ratio, verdict(ratio <= TARGET, others)
        print(f"target halving / run wall time <= {TARGET}{' (warm cache)' if cache else ''}: {ratio:.2f}  "
              f"{summary[f'verdict{cache}']}")
    return summary


if __name__ == "__main__":
    main()
