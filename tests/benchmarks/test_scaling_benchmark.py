"""The scaling benchmark runs end to end; its JSON's numbers follow from its own timings, and its variants train
the same configs to the same losses."""

import json
import math

import numpy as np
import pytest

from benchmarks import scaling


def test_quick_run_writes_consistent_json_and_figure(tmp_path):
    figure, out = tmp_path / "scaling.png", tmp_path / "scaling.json"
    returned = scaling.main(["--quick", "--figure", str(figure), "--json", str(out)])
    summary = json.loads(out.read_text())
    assert summary == json.loads(json.dumps(returned))
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert [rec["n"] for rec in summary["per_n"]] == [1, 4]
    steps = summary["steps"]
    assert steps == 40  # --quick: one epoch of MNIST-1D's 40 minibatches
    for rec in summary["per_n"]:
        n = rec["n"]
        assert set(rec["steady_s"]) == set(rec["first_s"]) == set(rec["final_loss"])
        for name, t in rec["steady_s"].items():
            assert np.median(rec["times_s"][name]) == t
            assert math.isclose(rec["throughput"][name], n * steps / t)
        for phase in ("load", "load_first"):
            assert rec[phase]["others"] is None or 0.0 <= rec[phase]["others"] <= 1.0
        # Same lrs, weights and minibatches: sweep.run, fit and torch land on the hand-written optax losses.
        peer = np.asarray(rec["final_loss"]["(c) vmap + optax"])
        assert peer.shape == (n,) and np.all(np.isfinite(peer))
        assert n == 1 or np.ptp(peer) > 0.01  # the lrs matter: equal losses are not four runs that did nothing
        np.testing.assert_allclose(rec["final_loss"]["(a) jaxnn sweep.run"], peer, rtol=1e-4, atol=1e-5)
        fit_losses = np.asarray(rec["final_loss"]["(b) sequential fit"])
        assert fit_losses.shape == (rec["sequential_runs"],) == (1,)
        np.testing.assert_allclose(fit_losses, peer[:1], rtol=1e-4, atol=1e-5)
        if "(d) torch.func vmap" in rec["final_loss"]:  # torch is optional
            np.testing.assert_allclose(rec["final_loss"]["(d) torch.func vmap"], peer, rtol=1e-3, atol=1e-4)

    # One throughput target per N up to 256, judged under that N's load.
    assert set(summary["targets"]) == {f"(a) >= 1x (c)'s throughput at N={n}" for n in (1, 4)}
    for rec, target in zip(summary["per_n"], summary["targets"].values()):
        ratio = rec["throughput"]["(a) jaxnn sweep.run"] / rec["throughput"]["(c) vmap + optax"]
        assert math.isclose(target["value"], ratio) and target["met"] == (ratio >= 1.0)
        others = rec["load"]["others"]
        expected = ("MET" if target["met"] else "MISSED") if others is None or others <= 0.15 else "inconclusive"
        assert target["verdict"].startswith(expected)


def test_config_counts_are_powers_of_four_and_the_maximum():
    assert scaling.config_counts(1024) == [1, 4, 16, 64, 256, 1024]
    assert scaling.config_counts(100) == [1, 4, 16, 64, 100]
    assert scaling.config_counts(1) == [1]


def test_a_count_below_one_is_refused_naming_the_option(capsys):
    for option in ("--max-configs", "--epochs", "--repeats", "--sequential-runs"):
        with pytest.raises(SystemExit):
            scaling.parse_args([option, "0"])
        assert f"{option} must be >= 1, got 0" in capsys.readouterr().err
