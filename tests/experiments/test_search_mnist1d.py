"""The main job: a search on the embedded MNIST-1D, its winner retrained, and the test accuracy in the JSON."""

import json

import numpy as np
import pytest

from experiments import search_mnist1d


def test_quick_search_selects_on_validation_and_reports_test_accuracy(tmp_path):
    search_mnist1d.main(["--no-cache", "--quick", "--configs", "3", "--members", "2", "--out", str(tmp_path)])
    assert (tmp_path / "search_mnist1d.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "search_mnist1d.json").read_text())
    ranking = summary["ranking"]
    assert summary["configs"] == len(ranking) == 3 and all(row["epochs"] == 2 for row in ranking)
    # selection on the validation split (800 of the 4,000 training examples), the winner retrained on all of them
    assert summary["best"]["val_accuracy"] == max(row["val_accuracy"] for row in ranking)
    assert summary["best"]["lr"] == ranking[0]["lr"] and 1e-3 <= summary["best"]["lr"] <= 3e-2
    assert 0.0 <= summary["best"]["dropout"] <= 0.5
    assert (summary["train_examples"], summary["test_examples"]) == (4000, 1000)
    members = summary["member_test_accuracy"]
    assert len(members) == 2 and members[0] != members[1], "different seeds must give different members"
    assert 0.25 < summary["test_accuracy"] <= 1.0  # chance is 0.1; two quick epochs already learn
    assert np.all(np.isfinite([row["val_loss"] for row in ranking]))


@pytest.mark.parametrize("option", ["--configs", "--members", "--epochs"])
def test_counts_below_one_are_refused_before_training(tmp_path, option):
    with pytest.raises(ValueError, match=f"{option}=0 is not allowed"):
        search_mnist1d.main(["--no-cache", option, "0", "--out", str(tmp_path)])
