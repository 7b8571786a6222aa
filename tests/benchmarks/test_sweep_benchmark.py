"""The sweep benchmark runs end to end, and jaxnn's sweep engine agrees with a hand-written optax program."""

import math

import numpy as np

from benchmarks import sweep as bench


def test_quick_run_matches_optax_per_learning_rate():
    summary = bench.main(["--quick"])
    losses = {name: np.asarray(v) for name, v in summary["final_loss"].items()}
    engine, optax_peer = losses["(a) jaxnn sweep.run"], losses["(c) vmap + optax"]
    assert engine.shape == optax_peer.shape == (summary["configs"],)
    # Both trained (below the ln 10 of a uniform guess) and the lrs matter, so equal losses are not a coincidence
    # of two runs that did nothing.
    assert np.all(optax_peer < math.log(10))
    assert np.ptp(optax_peer) > 0.05
    # The same lrs, initial weights and minibatches: optax's Adam must land on the engine's losses, config by config.
    np.testing.assert_allclose(engine, optax_peer, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(losses["(b) sequential fit"], optax_peer, rtol=1e-4, atol=1e-5)
    for name in ("(d) torch loop", "(d) torch.func vmap"):
        if name in losses:  # torch is optional; where present it is a third, independent implementation
            np.testing.assert_allclose(losses[name], optax_peer[: losses[name].size], rtol=1e-3, atol=1e-4)
    assert set(summary["steady_s"]) == set(losses)
    assert all(t > 0 for t in summary["steady_s"].values()) and summary["peak_gflops"] > 0
