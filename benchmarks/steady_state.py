"""Steady state of jaxnn's stacked epoch against a hand-written ``jit(vmap)`` + optax program, with HLO evidence.

Every variant trains the same N Adam learning rates (log-uniform in [1e-4, 1e-2]) on the same MLP 40-100-100-10
(ReLU, He init) on MNIST-1D (4,000 training examples), batch 100, for ``--epochs`` epochs of 40 steps, from the
same initial weights over the same shared minibatch order (the set-up of ``benchmarks/sweep.py``, whose model,
states and optax program this script reuses):

    (a) sweep.run      ``jaxnn.sweep.run`` as a user calls it, with the smallest evaluation set it allows (one
                       example): everything a sweep does per call and per epoch.
    (b) run_rows       the stacked trainer alone (``train.run_rows``, rows laid out as a sweep lays them out,
                       the per-row ``lr`` in ``Rows.hp`` and ``step_for(hp)`` as a sweep builds it), no evaluation.
    (c) epoch scans    only jaxnn's compiled epoch program (the permutation and the ``lax.scan`` that (a) and (b)
                       run), called once per epoch: (b) − (c) is what the host costs between epochs.
    (d) vmap + optax   the peer: a plain jax.numpy MLP and ``optax.adam`` (``inject_hyperparams``), vmapped over
                       the configs inside one ``lax.scan`` over all steps: the whole run is one compiled call, on
                       minibatch indices drawn before the clock starts.
    (e) ... shuffled   the same peer as a training loop is written: one compiled call per epoch that draws the
                       epoch's order with ``jax.random.permutation`` and scans it (the work (a)-(c) do too).
    (f) ... optax Adam (c) with ``optim.from_optax(optax.adam(lr))`` in place of ``optim.adam(lr)``: the same jaxnn
                       program around an Adam that has no weight-decay term (jaxnn's computes
                       ``g + weight_decay·p`` even at 0, since weight_decay is a state leaf a job may change), so
                       (f) against (c) is what that term costs.

Timing: one warm-up run per variant (compilation included, not reported), then ``--repeats`` runs interleaved
round-robin across the variants so that background load hits all alike; the median counts. Throughput is
configs x steps per second; the ratio is the peer's time over the variant's (>= 1.0: as fast as the peer). On a
shared machine these ratios are noisy, so the script also reports load-independent facts about the compiled
programs of one epoch of 40 steps, jaxnn's (c) against the peer's same scan: fusions and bytes accessed of the
whole program and of one step (the loop body), XLA's ``cost_analysis()`` flops of one step, and the number of
arrays the while loop carries (:func:`hlo_facts`). The load is measured with ``benchmarks._machine.LoadMeter``; with
others using more than 15% of the cores a target reads "inconclusive".

Targets (issue 15, part 1): (b) >= 1.0x the peer at every N, and >= 40% of the measured matmul peak at N = 64;
the ratios are printed against (d), the peer that never shuffles, and against (e).

    python benchmarks/steady_state.py                       # N = 64, 10 epochs, 3 repeats
    python benchmarks/steady_state.py --configs 1 16 64 256
    python benchmarks/steady_state.py --quick               # N = 4, 2 epochs, 1 repeat (a smoke run)
"""

from __future__ import annotations

import argparse
import math
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `jaxnn` and `benchmarks` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._machine import LoadMeter, cores, cpu_model, verdict
from benchmarks.sweep import (
    BATCH,
    KEY,
    LAYERS,
    LR_RANGE,
    MODEL,
    STEP_FLOPS,
    build_optax,
    build_sweep,
    initial_states,
    matmul_peak,
    optax_program,
    plain_params,
)
from jaxnn import data, optim, sweep, train
from jaxnn.train.epoch import _checked_program, _Epoch

TARGET_VS_PEER = 1.0
TARGET_PEAK = 0.4  # of the measured matmul peak, at N = 64
PEAK_AT = 64
PEER = "(d) vmap + optax"
SHUFFLED = "(e) ... shuffled"
OPTAX_ADAM = "(f) ... optax Adam"


def _step_for(hp: dict) -> train.TrainStep:
    # A row's step as a sweep builds it: the optimizer made from the row's traced lr (module level, so the
    # compiled epoch, cached per step_for, is reused).
    return train.make_train_step(MODEL, optim.adam(hp["lr"]))


def _optax_adam_step_for(hp: dict) -> train.TrainStep:
    return train.make_train_step(MODEL, optim.from_optax(optax.adam(hp["lr"])))


def optax_adam_rows(lrs: np.ndarray) -> train.Rows:
    """:func:`jaxnn_rows` with optax Adam states (the same params, keys and lrs)."""
    states = [ts._replace(opt_state=optim.from_optax(optax.adam(float(lr))).init(ts.params))
              for ts, lr in zip(initial_states(lrs), lrs)]
    return train.as_rows(train.stack(states), {"lr": jnp.asarray(lrs)})


def jaxnn_rows(lrs: np.ndarray) -> train.Rows:
    """Config ``i``'s initial state as the sweep builds it, its lr in the optimizer state and in ``Rows.hp``."""
    ts = train.stack(initial_states(lrs))
    return train.as_rows(ts, {"lr": jnp.asarray(lrs)})


def build_optax_shuffled(states: list[train.TrainState], lrs: np.ndarray, x, y, epochs: int
                         ) -> Callable[[], np.ndarray]:
    init, steps = optax_program()
    params, lrs_d, order = plain_params(states), jnp.asarray(lrs, jnp.float32), sweep.order_key(KEY)
    full = x.shape[0] // BATCH * BATCH

    @jax.jit
    def epoch(carry, x, y, e):
        perm = jax.random.permutation(jax.random.fold_in(order, e), x.shape[0])
        return steps(carry, x, y, perm[:full].reshape(-1, BATCH))

    def run() -> np.ndarray:
        carry = init(params, lrs_d)
        for e in range(epochs):
            carry, losses = epoch(carry, x, y, e)
        return np.asarray(losses).mean(axis=0)

    return run


def build_run_rows(rows: train.Rows, xy, epochs: int, placement) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        _, _, history = train.run_rows(rows, _step_for, xy, epochs, BATCH, order_key=sweep.order_key(KEY),
                                       placement=placement)
        return np.asarray(history["loss"][-1])

    return run


def jaxnn_epoch(placement, step_for: Callable = _step_for) -> Callable:
    """The compiled stacked epoch ``run_epoch`` calls for these rows, without evaluation (internal: its HLO is
    what is measured): ``(rows, x, y, order key, epoch, None) -> (rows, means, diverged)``."""
    return _checked_program(_Epoch(step_for, False, BATCH, True, placement, None))


def build_scans(rows: train.Rows, x, y, epochs: int, placement, step_for: Callable = _step_for
                ) -> Callable[[], np.ndarray]:
    epoch, order = jaxnn_epoch(placement, step_for), sweep.order_key(KEY)

    def run() -> np.ndarray:
        out = rows
        for e in range(epochs):
            out, means, _ = epoch(out, x, y, order, e, None)
        return np.asarray(means["loss"])

    return run


# --------------------------------------------------------------------------------------------------------------
# Load-independent facts about a compiled program.

_SHAPE = re.compile(r"\b(pred|[suf]\d+|bf16)\[([\d,]*)\]")
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?(\S+) = (.+?) ([\w-]+)\((.*?)\)")
_NO_DATA = {"parameter", "get-tuple-element", "tuple", "bitcast", "constant"}  # move no bytes of their own


def _bytes(shape: str) -> int:
    return sum(int(dtype[1:]) // 8 * math.prod(int(d) for d in dims.split(",") if d) if dtype[0] in "suf"
               else math.prod(int(d) for d in dims.split(",") if d) for dtype, dims in _SHAPE.findall(shape))


def _computations(text: str) -> dict[str, list[str]]:
    blocks, name = {}, None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line.endswith("{"):
            name = line.removeprefix("ENTRY ").split(" ", 1)[0].lstrip("%")
            blocks[name] = []
        elif name and line.startswith("  "):
            blocks[name].append(line)
    return blocks


def hlo_facts(compiled: jax.stages.Compiled) -> dict[str, float]:
    """Load-independent facts about a compiled program with one while loop (a scan over steps).

    ``fusions``, ``bytes`` and ``flops`` are XLA's (``cost_analysis()`` counts a loop body once, so its flops are
    one step's, but its bytes also count what runs once outside the loop); ``step_fusions`` and ``step_bytes`` are
    the loop body's alone (each instruction's operands plus its result, as XLA's cost analysis counts them);
    ``carried`` the arrays the while loop carries from step to step.
    """
    text = compiled.as_text()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    blocks = _computations(text)
    # The scan over steps is the loop with the largest body (the permutation's random bits may loop too).
    loops = [line for lines in blocks.values() for line in lines if " while(" in line]
    body_of = lambda line: blocks[re.search(r"body=%?([\w.-]+)", line).group(1)]  # noqa: E731
    loop = max(loops, key=lambda line: len(body_of(line)))
    body = body_of(loop)
    sizes, moved, fusions = {}, 0, 0
    for line in body:
        match = _INSTRUCTION.match(line)
        if match:
            name, shape, op, operands = match.groups()
            sizes[name] = _bytes(shape)
            if op not in _NO_DATA:
                fusions += op == "fusion"
                moved += sizes[name] + sum(sizes.get(a.strip().split(" ")[-1].lstrip("%"), 0)
                                           for a in operands.split(","))
    return {"fusions": text.count(" fusion("), "bytes": float(cost.get("bytes accessed", 0.0)),
            "flops": float(cost.get("flops", 0.0)), "step_fusions": fusions, "step_bytes": float(moved),
            "carried": len(_SHAPE.findall(loop.split(" while(", 1)[0]))}


def epoch_facts(rows: train.Rows, adam_rows: train.Rows, lrs: np.ndarray, x, y, batches: jax.Array, placement
                ) -> dict[str, dict]:
    """:func:`hlo_facts` of one epoch (40 steps) of jaxnn's compiled epoch (with both Adams) and of the peer's
    scan."""
    per_epoch, order = x.shape[0] // BATCH, sweep.order_key(KEY)
    init, steps = optax_program()
    carry = init(plain_params(initial_states(lrs)), jnp.asarray(lrs, jnp.float32))
    return {"(c) epoch scans": hlo_facts(jaxnn_epoch(placement).lower(rows, x, y, order, 0, None).compile()),
            OPTAX_ADAM: hlo_facts(jaxnn_epoch(placement, _optax_adam_step_for).lower(
                adam_rows, x, y, order, 0, None).compile()),
            PEER: hlo_facts(steps.lower(carry, x, y, batches[:per_epoch]).compile())}


# --------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, nargs="+", default=None,
                        help="numbers of configs N to measure (default 64; 4 with --quick)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of 40 steps per run (default 10; 2 quick)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per variant (default 3; 1 quick)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N = 4, 2 epochs, 1 repeat")
    args = parser.parse_args(argv)
    args.configs = args.configs or ([4] if args.quick else [64])
    args.epochs = args.epochs if args.epochs is not None else (2 if args.quick else 10)
    args.repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    for name, values in (("configs", args.configs), ("epochs", [args.epochs]), ("repeats", [args.repeats])):
        if min(values) < 1:
            parser.error(f"--{name} must be >= 1, got {values}")
    return args


def measure(n: int, epochs: int, repeats: int, ds) -> dict:
    """Times the four variants on ``n`` configs and compiles one epoch of (c) and (d) for their HLO facts."""
    x, y = jnp.asarray(ds.train.x), jnp.asarray(ds.train.y)
    eval_xy = (jnp.asarray(ds.test.x[:1]), jnp.asarray(ds.test.y[:1]))
    configs = sweep.Space(lr=sweep.log_uniform(*LR_RANGE)).sample(jax.random.key(1), n)
    lrs = np.array([c["lr"] for c in configs], np.float32)
    order = sweep.order_key(KEY)
    batches = jnp.concatenate([train.epoch_batches(order, e, x.shape[0], BATCH)[0] for e in range(epochs)])
    placement = train.RowSharded(jax.devices()[:1])
    rows = placement.put_rows(jaxnn_rows(lrs))
    adam_rows = placement.put_rows(optax_adam_rows(lrs))
    variants = {"(a) sweep.run": build_sweep(configs, (x, y), eval_xy, epochs),
                "(b) run_rows": build_run_rows(rows, (x, y), epochs, placement),
                "(c) epoch scans": build_scans(rows, x, y, epochs, placement),
                PEER: build_optax(initial_states(lrs), lrs, x, y, batches),
                SHUFFLED: build_optax_shuffled(initial_states(lrs), lrs, x, y, epochs),
                OPTAX_ADAM: build_scans(adam_rows, x, y, epochs, placement, _optax_adam_step_for)}
    losses = {name: run() for name, run in variants.items()}  # warm-up: compiles
    times = {name: [] for name in variants}
    meter = LoadMeter().start()
    for _ in range(repeats):
        for name, run in variants.items():
            start = time.perf_counter()
            losses[name] = run()
            times[name].append(time.perf_counter() - start)
    others = meter.stop()
    median = {name: statistics.median(t) for name, t in times.items()}
    work = n * epochs * x.shape[0] // BATCH
    return {"n": n, "median_s": median, "times_s": times, "throughput": {k: work / t for k, t in median.items()},
            "vs_peer": {k: median[PEER] / t for k, t in median.items()},
            "vs_shuffled": {k: median[SHUFFLED] / t for k, t in median.items()},
            "gflops": {k: work * STEP_FLOPS / t / 1e9 for k, t in median.items()},
            "host_ms_per_epoch": {k: (median[k] - median["(c) epoch scans"]) / epochs * 1e3
                                  for k in ("(a) sweep.run", "(b) run_rows")},
            "max_loss_gap": {k: float(np.max(np.abs(v - losses[PEER]))) for k, v in losses.items()
                             if k != SHUFFLED},  # (e) walks another order
            "hlo": epoch_facts(rows, adam_rows, lrs, x, y, batches, placement), "others": others, "load": meter.line()}


def report(result: dict, peak: float) -> None:
    n, others = result["n"], result["others"]
    print(f"\nN = {n}: {result['load']}")
    print(f"{'variant':18s} {'median s':>9s} {'cfg*steps/s':>12s} {'GFLOP/s':>8s} {'% peak':>7s} {'(d)/it':>7s} "
          f"{'(e)/it':>7s} {'max |loss - (d)|':>17s}")
    for name, t in result["median_s"].items():
        gap = result["max_loss_gap"].get(name)
        print(f"{name:18s} {t:9.3f} {result['throughput'][name]:12.0f} {result['gflops'][name]:8.2f} "
              f"{result['gflops'][name] / peak:7.1%} {result['vs_peer'][name]:6.2f}x "
              f"{result['vs_shuffled'][name]:6.2f}x {'' if gap is None else f'{gap:17.2e}'}")
    for name, ms in result["host_ms_per_epoch"].items():
        print(f"{name} minus (c), per epoch (host work between epochs; for (a) also its per-call set-up and "
              f"evaluation): {ms:.2f} ms")
    print(f"{'one epoch compiled':18s} {'fusions':>8s} {'MB (XLA)':>9s} {'per step: fusions':>18s} {'MB':>7s} "
          f"{'MFLOP':>7s} {'loop-carried':>13s}")
    for name, facts in result["hlo"].items():
        print(f"{name:18s} {facts['fusions']:8d} {facts['bytes'] / 1e6:9.2f} {facts['step_fusions']:18d} "
              f"{facts['step_bytes'] / 1e6:7.2f} {facts['flops'] / 1e6:7.1f} {facts['carried']:13d}")
    for peer, key in (("(d)", "vs_peer"), ("(e)", "vs_shuffled")):
        ratio = result[key]["(b) run_rows"]
        print(f"target (b) >= {TARGET_VS_PEER:.1f}x the peer {peer} at N = {n}: {ratio:.2f}  "
              f"{verdict(ratio >= TARGET_VS_PEER, others)}")
    if n == PEAK_AT:
        share = result["gflops"]["(b) run_rows"] / peak
        print(f"target (b) >= {TARGET_PEAK:.0%} of the matmul peak at N = {n}: {share:.1%}  "
              f"{verdict(share >= TARGET_PEAK, others)}")


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    ds = data.load("mnist1d")
    print(f"{cpu_model()}, {cores()} cores; jax {jax.__version__}, optax {optax.__version__}; "
          f"Python {platform.python_version()}")
    print(f"Adam, lr log-uniform in [{LR_RANGE[0]:g}, {LR_RANGE[1]:g}], MLP {'-'.join(map(str, LAYERS))} on "
          f"MNIST-1D, batch {BATCH}, {args.epochs} epochs of 40 steps; median of {args.repeats} interleaved runs")
    peak, peak_n = matmul_peak((128, 256) if args.quick else (256, 512, 1024))
    print(f"measured float32 matmul peak: {peak:.1f} GFLOP/s (jitted {peak_n}x{peak_n} @ {peak_n}x{peak_n})")
    results = []
    for n in args.configs:
        results.append(measure(n, args.epochs, args.repeats, ds))
        report(results[-1], peak)
    return {"epochs": args.epochs, "repeats": args.repeats, "peak_gflops": peak, "results": results,
            "machine": f"{cpu_model()}, {cores()} cores",
            "versions": f"jax {jax.__version__}, optax {optax.__version__}"}


if __name__ == "__main__":
    main()
