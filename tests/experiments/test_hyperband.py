"""Hyperband, successive halving and random search at Hyperband's budget: facts re-derived from the JSON."""

import json

import numpy as np
import pytest

from experiments import hyperband


def test_quick_comparison_spends_equal_budgets_and_picks_the_best_finalist(tmp_path):
    hyperband.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "hyperband.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "hyperband.json").read_text())
    runs = {name: seeds[0] for name, seeds in summary["runs"].items()}
    R = summary["max_epochs"]
    # R = 3, eta = 3: brackets (3 configs at 1 epoch, 1 at 3) and (2 at 3): 3 + 2 + 6 = 11 config-epochs.
    assert [(r["bracket"], r["configs"], r["epochs"]) for r in runs["hyperband"]["rungs"]] == [
        (1, 3, 1), (1, 1, 3), (0, 2, 3)]
    budget = runs["hyperband"]["config_epochs"]
    assert budget == 11
    # Halving of 7 configs (7 x 1 + 2 x 2 = 11) and random search of 3 configs x 3 epochs: at most the budget.
    assert (runs["successive halving"]["configs"], runs["successive halving"]["config_epochs"]) == (7, 11)
    assert (runs["random search"]["configs"], runs["random search"]["config_epochs"]) == (3, 9)
    for run in runs.values():
        ranking = run["ranking"]
        assert sum(row["epochs"] for row in ranking) == run["config_epochs"]
        finalists = [row["val_accuracy"] for row in ranking if row["epochs"] == R]
        assert run["best_val_accuracy"] == max(finalists)
        seen = max(row["val_accuracy"] for row in ranking)  # a final value; the curve also saw earlier epochs
        curve = run["curve"]
        assert curve["config_epochs"][-1] == run["config_epochs"]
        assert np.all(np.diff(curve["val_accuracy"]) >= 0) and curve["val_accuracy"][-1] >= seen
        assert 0.1 < run["best_val_accuracy"] <= 1.0 and run["wall_s"] > run["compile_s"] >= 0


def test_bad_counts_are_refused(tmp_path):
    with pytest.raises(ValueError, match="--eta=1 is not allowed"):
        hyperband.main(["--no-cache", "--eta", "1", "--out", str(tmp_path)])
