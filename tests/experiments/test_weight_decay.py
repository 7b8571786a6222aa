"""The weight-decay experiment runs end to end and the decay lowers the training accuracy."""

import json

import numpy as np

from experiments import weight_decay


def test_weight_decay_quick(tmp_path):
    weight_decay.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "weight_decay.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "weight_decay.json").read_text())
    config = summary["config"]
    assert config["l2"] == [0.0, 0.1] and config["train_examples"] == 300 and config["batch_size"] == 100
    history = {name: np.asarray(v) for name, v in summary["history"].items()}
    assert all(v.shape == (2, config["epochs"]) and np.isfinite(v).all() for v in history.values())
    assert ((history["train_accuracy"] >= 0) & (history["train_accuracy"] <= 1)).all()
    final = summary["final"]
    assert final["λ = 0.1"]["train_accuracy"] < final["λ = 0"]["train_accuracy"], final
