"""The PBT experiment runs end to end, and its comparison, best rows and discovered schedules agree with facts
re-derived from the curves, hyperparameters and lineage it stores."""

import json

import numpy as np
import pytest

from experiments import pbt as experiment


def test_quick_run(tmp_path):
    experiment.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    for name in ("pbt", "pbt_population"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name
    summary = json.loads((tmp_path / "pbt.json").read_text())
    assert (summary["population"], summary["epochs"], summary["interval"], summary["seeds"]) == (4, 4, 2, 1)
    (run,) = summary["runs"]
    random, pbt = run["random"], run["pbt"]
    # Equal compute from the same start: the same rows, epochs and initial settings.
    assert np.shape(random["val_accuracy_curves"]) == np.shape(pbt["val_accuracy_curves"]) == (4, 4)
    assert [c["lr"] for c in random["configs"]] == [h[0] for h in pbt["hparams"]["lr"]]
    assert pbt["val_accuracy_curves"][0][:2] == random["val_accuracy_curves"][0][:2]  # same first interval
    for search in (random, pbt):  # the best row is the best final validation accuracy
        finals = [curve[-1] for curve in search["val_accuracy_curves"]]
        assert search["val_accuracy"] == max(finals) == finals[search["index"]]
    assert pbt["test_accuracy"] == pbt["test_accuracy_curves"][pbt["index"]][-1]
    # The schedule is the hyperparameters of the rows the best row's weights descend from, epoch by epoch.
    ancestors = pbt["ancestors"]
    assert ancestors[-1] == pbt["index"]
    for name, (low, high) in summary["space"].items():
        values = pbt["hparams"][name]
        assert pbt["schedule"][name] == [values[a][e] for e, a in enumerate(ancestors)]
        assert low * (1 - 1e-6) <= min(min(v) for v in values) <= max(max(v) for v in values) <= high * (1 + 1e-6)
    events = [(row, at, source) for row, lineage in enumerate(pbt["lineage"]) for at, source in lineage]
    assert len(events) == 1 and events[0][1] == 2 and events[0][0] != events[0][2]  # k = 1 of 4, after epoch 2
    row, _, source = events[0]
    assert pbt["hparams"]["lr"][row][:2] != pbt["hparams"]["lr"][source][:2]  # before the copy: its own
    assert summary["pbt_mean_test_accuracy"] == pbt["test_accuracy"]
    assert summary["pbt_beats_random_on_test"] == (pbt["test_accuracy"] >= random["test_accuracy"])
    assert 0 < summary["explore_fraction_of_epoch"] == pbt["explore_fraction_of_epoch"]
    assert 0.2 < random["test_accuracy"] <= 1.0  # chance is 0.1


@pytest.mark.parametrize("option", ["--population", "--interval", "--seeds", "--epochs"])
def test_counts_below_their_minimum_are_refused_before_training(tmp_path, option):
    with pytest.raises(ValueError, match=f"{option}=0 is not allowed"):
        experiment.main(["--no-cache", option, "0", "--out", str(tmp_path)])
