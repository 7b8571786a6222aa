"""The weight-init comparison runs end to end: std 0.01 stays at the chance loss log 10, He learns fastest."""

import json

import numpy as np

from experiments import weight_init_compare


def test_weight_init_compare_quick(tmp_path):
    weight_init_compare.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "weight_init_compare.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "weight_init_compare.json").read_text())
    assert summary["config"]["inits"] == ["std=0.01", "Xavier", "He"]
    assert summary["config"]["optimizer"] == "sgd(lr=0.01)"
    curves = {name: np.asarray(c) for name, c in summary["loss"].items()}
    assert all(c.shape == (summary["config"]["iterations"],) and np.isfinite(c).all() for c in curves.values())
    # std 0.01: logits ~ 0, so the softmax is uniform over 10 classes and the loss is log 10 all along.
    np.testing.assert_allclose(curves["std=0.01"], np.log(10), atol=2e-3)
    final = summary["final_loss"]
    assert final["He"] < final["Xavier"] < np.log(10) - 0.02, final
