"""The search-vs-Optuna benchmark runs end to end on a tiny setting, and its summary follows from its events."""

import json

import pytest

from benchmarks import search_vs_optuna as bench

pytest.importorskip("optuna")


def test_best_so_far_time_to_target_and_best_within_budget():
    events = [(3.0, 0.5), (1.0, 0.4), (2.0, float("nan")), (4.0, 0.45), (5.0, 0.7)]
    assert bench.curve(events) == [(1.0, 0.4), (3.0, 0.5), (5.0, 0.7)]  # NaN (a diverged trial) never counts
    assert bench.time_to(events, 0.5) == 3.0 and bench.time_to(events, 0.8) is None
    assert bench.best_within(events, 4.5) == 0.5 and bench.best_within(events, 0.5) is None


def test_quick_run_reports_every_search_cold_and_warm(tmp_path):
    figure = tmp_path / "search_vs_optuna.png"
    # A budget far above these runs' seconds: the bridge's timeout must not end it before its 4 trials.
    summary = bench.main(["--quick", "--epochs", "1", "--configs", "4", "--bridge-trials", "4", "--batch", "2",
                          "--budget", "1000", "--searches", "jaxnn random,jaxnn + optuna", "--figure", str(figure),
                          "--json", str(tmp_path / "summary.json")])
    assert set(summary["searches"]) == {f"{s} ({m})" for s in ("jaxnn random", "jaxnn + optuna")
                                        for m in ("cold", "warm")}
    for row in summary["searches"].values():
        for steps, seconds in zip(row["curves"], row["time_to_target_s"]):
            accuracies = [a for _, a in steps]
            assert accuracies == sorted(accuracies) and all(0.0 < a <= 1.0 for a in accuracies)
            assert seconds == next((t for t, a in steps if a >= summary["target"]), None)
    # The default target is one point under the random search's own best, so that search reaches it.
    assert None not in summary["searches"]["jaxnn random (cold)"]["time_to_target_s"]
    assert summary["searches"]["jaxnn + optuna (cold)"]["trials"] == [4] and summary["budget_s"] == 1000
    assert figure.stat().st_size > 0
    assert json.loads((tmp_path / "summary.json").read_text())["target"] == summary["target"]
