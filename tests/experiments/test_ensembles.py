"""The ensembles experiment: different members, and an ensemble of one is its member."""

import json

import numpy as np

from experiments import ensembles


def test_quick_run(tmp_path):
    ensembles.main(["--no-cache", "--quick", "--members", "3", "--out", str(tmp_path)])
    assert (tmp_path / "ensembles.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "ensembles.json").read_text())
    members = summary["member_test_accuracy"]
    assert len(members) == 3 and len(set(members)) > 1, "different seeds must give different members"
    assert summary["ensemble_test_accuracy_by_size"][0] == members[0], "an ensemble of one is its member"
    np.testing.assert_allclose(members, np.asarray(summary["history"]["test_accuracy"])[:, -1], atol=1e-6)
