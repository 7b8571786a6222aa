"""Throughput against the number of configs: jaxnn ``sweep.run``, hand-written ``jit(vmap)`` + optax, sequential
``fit`` and ``torch.func`` vmap.

For each N in 1, 4, 16, ... up to ``--max-configs`` (default 1,024), N Adam learning rates train the MLP
40-100-100-10 on MNIST-1D, batch 100, for ``--epochs`` epochs of 40 steps, with the variants of
``benchmarks/sweep.py`` built by its own builders (same weights, same minibatches, so the variants' final losses
agree config by config):

    (a) jaxnn sweep.run     all N configs in one ``jit(vmap)`` epoch per ``lax.scan``.
    (c) vmap + optax        the hand-written peer: one ``lax.scan`` over all steps of a vmapped optax step.
    (b) sequential fit      ``train.fit`` run after run: timed on ``--sequential-runs`` runs, its time scaled by
                            N / runs (the runs do identical work, so time is linear in N; its first call
                            counts compilation once).
    (d) torch.func vmap     ``functional_call`` + ``vmap`` + ``grad``, Adam by hand (skipped without torch).

Per N, each variant's first call (compilation included) is timed on its own, then ``--repeats`` calls interleaved
round-robin; the steady state is their median, and a ``LoadMeter`` records the share of the cores other processes
took over each phase. Throughput is configs x steps per second. Targets (issue 15): (a) at least (c)'s
throughput at every N up to 256, and (a) at 40% of the measured matmul peak or more at N = 64; each prints MET or
MISSED, or "inconclusive" when others used more than 15% of the cores during that N's repeats.

    python benchmarks/scaling.py --figure docs/figures/scaling.png --json docs/figures/scaling.json
    python benchmarks/scaling.py --quick              # N = 1, 4; one epoch; one repeat (a smoke run)
    python benchmarks/scaling.py --max-configs 256 --epochs 10
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jaxnn` and `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._machine import machine, time_interleaved, verdict
from benchmarks.sweep import (
    BATCH,
    SEQUENTIAL,
    STEP_FLOPS,
    TARGET_VS_PEER,
    build_variants,
    import_torch,
    make_problem,
    matmul_peak,
    versions,
)
from jaxnn import data

VARIANTS = ("(a) jaxnn sweep.run", "(c) vmap + optax", "(b) sequential fit", "(d) torch.func vmap")
PEER = "(c) vmap + optax"
TARGET_MAX_N = 256  # (a) >= (c)'s throughput is a target at every N up to this
TARGET_PEAK_N, TARGET_PEAK = 64, 0.4  # (a)'s achieved GFLOP/s over the matmul peak at this N


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: N = 1, 4; 1 epoch; 1 repeat; 1 fit run")
    parser.add_argument("--max-configs", type=int, default=None,
                        help="the largest N: N runs over the powers of 4 up to it, and it (default 1024; 4 quick)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of 40 steps per run (default 5; 1 with --quick)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="steady-state calls per variant and N, median reported (default 3; 1 with --quick)")
    parser.add_argument("--sequential-runs", type=int, default=None,
                        help="fit runs timed per N, scaled to N (default 2; 1 with --quick)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="PyTorch intra-op threads (default 1, as benchmarks/sweep.py explains)")
    parser.add_argument("--no-torch", action="store_true", help="skip the torch.func row even when torch is installed")
    parser.add_argument("--figure", type=Path, default=None, help="write the log-log figure here (PNG)")
    parser.add_argument("--json", type=Path, default=None, help="write every measurement here")
    args = parser.parse_args(argv)
    defaults = {"max_configs": (1024, 4), "epochs": (5, 1), "repeats": (3, 1), "sequential_runs": (2, 1)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    for name in (*defaults, "torch_threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def config_counts(max_configs: int) -> list[int]:
    """1, 4, 16, ... up to ``max_configs``, and ``max_configs`` itself."""
    counts = [1]
    while counts[-1] * 4 <= max_configs:
        counts.append(counts[-1] * 4)
    return counts if counts[-1] == max_configs else [*counts, max_configs]


def measure(ds: data.Dataset, n: int, names: tuple[str, ...], args: argparse.Namespace) -> dict:
    """Every variant's first call and steady state at ``n`` configs, with the load over each phase."""
    runs_timed, problem = min(n, args.sequential_runs), make_problem(ds, n, args.epochs)
    variants = build_variants(problem, names, runs_timed)
    timed = time_interleaved(variants, args.repeats, {name: n / runs_timed for name in SEQUENTIAL},
                             progress=lambda line: print(f"N={n}: {line}", flush=True))
    work = n * problem.batches.shape[0]  # configs x steps
    return {"n": n, "sequential_runs": runs_timed, "first_s": timed.first, "steady_s": timed.median,
            "times_s": timed.times, "throughput": {name: work / t for name, t in timed.median.items()},
            "load_first": timed.first_load.record(), "load": timed.load.record(),
            "final_loss": {name: v.tolist() for name, v in timed.results.items()}}


def check_targets(per_n: list[dict], peak: float) -> dict[str, dict]:
    """Issue 15's steady-state targets, each with its value, target and verdict under that N's load."""
    checks = {}
    for rec in per_n:
        others, thr = rec["load"]["others"], rec["throughput"]
        if rec["n"] <= TARGET_MAX_N:
            ratio = thr["(a) jaxnn sweep.run"] / thr[PEER]
            checks[f"(a) >= {TARGET_VS_PEER:g}x (c)'s throughput at N={rec['n']}"] = (ratio, TARGET_VS_PEER, others)
        if rec["n"] == TARGET_PEAK_N:
            share = thr["(a) jaxnn sweep.run"] * STEP_FLOPS / 1e9 / peak
            checks[f"(a) >= {TARGET_PEAK:.0%} of the matmul peak at N={rec['n']}"] = (share, TARGET_PEAK, others)
    return {label: {"value": value, "target": target, "met": value >= target, "verdict": verdict(value >= target, o)}
            for label, (value, target, o) in checks.items()}


def load_range(per_n: list[dict]) -> str:
    shares = [rec["load"]["others"] for rec in per_n if rec["load"]["others"] is not None]
    if not shares:
        return "other processes' share of the cores not measured"
    low, high = f"{min(shares):.0%}", f"{max(shares):.0%}"
    spread = low if low == high else f"{low}-{high}"
    return f"other processes used {spread} of the cores (steady state, per N)"


def plot(per_n: list[dict], title: str, path: Path) -> None:
    """Steady-state throughput (left) and first-call seconds (right) against N, log-log, one line per variant."""
    from matplotlib.figure import Figure  # lazily: only a run that writes a figure needs matplotlib
    from matplotlib.ticker import NullLocator

    fig = Figure(figsize=(11, 4.5))
    left, right = fig.subplots(1, 2)
    counts = [rec["n"] for rec in per_n]
    for name in per_n[0]["steady_s"]:
        left.plot(counts, [rec["throughput"][name] for rec in per_n], "o-", label=name)
        right.plot(counts, [rec["first_s"][name] for rec in per_n], "o-", label=name)
    left.set(xscale="log", yscale="log", xlabel="configs N", ylabel="configs x steps / s (steady state)")
    right.set(xscale="log", yscale="log", xlabel="configs N", ylabel="first call s (compilation included)")
    for ax in (left, right):
        ax.set_xticks(counts, [str(n) for n in counts])
        ax.xaxis.set_minor_locator(NullLocator())  # the N ticks only, no 2x10^0 between them
        ax.grid(alpha=0.3, which="both")
    left.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def report(per_n: list[dict], targets: dict[str, dict]) -> None:
    print()
    print(f"{'N':>5s} {'variant':22s} {'first s':>8s} {'steady s':>9s} {'cfg*steps/s':>12s} {'vs (c)':>7s} "
          f"{'others':>7s}")
    for rec in per_n:
        others = rec["load"]["others"]
        for name, t in rec["steady_s"].items():
            print(f"{rec['n']:5d} {name:22s} {rec['first_s'][name]:8.2f} {t:9.3f} {rec['throughput'][name]:12.0f} "
                  f"{rec['throughput'][name] / rec['throughput'][PEER]:6.2f}x "
                  f"{'-' if others is None else f'{others:.0%}':>7s}")
    print("(first = the first call, compilation included; steady = median of the repeats; (b) is timed on a few "
          "runs and scaled to N; others = other processes' share of the cores during that N's repeats)")
    print()
    for label, t in targets.items():
        print(f"target {label:46s} {t['value']:6.2f}  {t['verdict']}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch, torch_note = import_torch(args.no_torch, args.torch_threads)
    names = VARIANTS if torch else VARIANTS[:3]
    ds = data.load("mnist1d")
    per_epoch = ds.train.x.shape[0] // BATCH
    steps = args.epochs * per_epoch
    print(f"{machine()}; {versions(torch)}; Python {platform.python_version()}")
    print(f"MLP 40-100-100-10 on MNIST-1D, Adam, batch 100, {args.epochs} epoch(s) of {per_epoch} steps; "
          f"N = {', '.join(map(str, config_counts(args.max_configs)))}; median of {args.repeats} interleaved call(s)")
    notes = [torch_note] if torch_note else []
    for note in notes:
        print(f"note: {note}")
    peak, peak_n = matmul_peak((128, 256) if args.quick else (256, 512, 1024, 2048))
    print(f"measured float32 matmul peak: {peak:.1f} GFLOP/s (jitted {peak_n}x{peak_n} @ {peak_n}x{peak_n})")

    per_n = [measure(ds, n, names, args) for n in config_counts(args.max_configs)]
    targets = check_targets(per_n, peak)
    report(per_n, targets)
    summary = {"command": " ".join(["python benchmarks/scaling.py", *(sys.argv[1:] if argv is None else argv)]),
               "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "versions": versions(torch), "python": platform.python_version(),
               "epochs": args.epochs, "steps": steps, "repeats": args.repeats, "torch_threads": args.torch_threads,
               "peak_gflops": peak, "peak_matmul_n": peak_n, "step_flops": STEP_FLOPS, "notes": notes,
               "per_n": per_n, "targets": targets}
    if args.figure:
        plot(per_n, f"MLP 40-100-100-10, MNIST-1D, Adam, batch 100, {steps} steps: {machine()}\n"
                    f"{load_range(per_n)}", args.figure)
        print(f"figure: {args.figure}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))
        print(f"json: {args.json}")
    return summary


if __name__ == "__main__":
    main()
