"""The dropout experiment runs end to end; dropout slows the fitting of the 300 training images."""

import json

import numpy as np

from experiments import dropout


def test_dropout_quick(tmp_path):
    dropout.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "dropout.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "dropout.json").read_text())
    config = summary["config"]
    assert config["rates"] == [0.0, 0.2] and config["train_examples"] == 300 and config["batch_size"] == 100
    history = {name: np.asarray(v) for name, v in summary["history"].items()}
    assert all(v.shape == (2, config["epochs"]) and np.isfinite(v).all() for v in history.values())
    final = summary["final"]
    without, with_dropout = final["dropout 0"], final["dropout 0.2"]
    assert with_dropout["train_accuracy"] < without["train_accuracy"] - 0.05, final
    gap = {name: f["train_accuracy"] - f["test_accuracy"] for name, f in final.items()}
    assert gap["dropout 0.2"] < gap["dropout 0"], gap
