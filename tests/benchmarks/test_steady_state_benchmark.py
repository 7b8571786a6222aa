"""The steady-state benchmark runs end to end: every variant trains the peer's numbers, and the HLO facts add up."""

import numpy as np

from benchmarks import steady_state as bench
from benchmarks.sweep import STEP_FLOPS


def test_quick_run_matches_the_peer_and_counts_one_step_of_the_compiled_loop():
    summary = bench.main(["--quick"])
    (result,) = summary["results"]
    n = result["n"]
    # The same lrs, initial weights and minibatches: every jaxnn variant lands on optax's losses, config by config
    # ((e) shuffles with jax.random.permutation, so it walks other minibatches and is left out).
    assert set(result["max_loss_gap"]) == {"(a) sweep.run", "(b) run_rows", "(c) epoch scans", bench.PEER,
                                           bench.OPTAX_ADAM}
    assert max(result["max_loss_gap"].values()) < 1e-4
    for name, facts in result["hlo"].items():
        # XLA counts the loop body once: one step's matmuls, within what the analytic count allows (no gradient
        # for the inputs' layer makes it a little smaller).
        assert 0.85 * n * STEP_FLOPS < facts["flops"] < 1.05 * n * STEP_FLOPS, name
        assert 0 < facts["step_fusions"] <= facts["fusions"] and 0 < facts["step_bytes"]
        assert facts["carried"] >= 6 * 3  # params, and Adam's two moments of each of the six leaves
    assert all(np.isfinite(list(result["vs_peer"].values()))) and summary["peak_gflops"] > 0
