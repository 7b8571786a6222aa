"""The BatchNorm experiment runs end to end; with BN small weight scales learn, without BN they do not."""

import json

import numpy as np

from experiments import batch_norm
from jaxnn import data


def test_batch_norm_quick(tmp_path):
    batch_norm.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "batch_norm.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "batch_norm.json").read_text())
    config = summary["config"]
    scales = np.asarray(config["scales"])
    np.testing.assert_allclose(scales, [10 ** (-4 * i / 15) for i in range(16)], rtol=1e-12)
    assert config["train_examples"] == 1000 and config["batch_size"] == 100
    curves = {name: np.asarray(acc) for name, acc in summary["train_accuracy"].items()}
    assert all(c.shape == (16, config["epochs"]) for c in curves.values())
    assert all(((c >= 0) & (c <= 1)).all() for c in curves.values())
    # A net whose signal has vanished predicts one class for every input: its accuracy is at most the largest
    # class's share of the training images.
    y = data.load("mnist1d").train.y[:1000]
    largest_share = np.bincount(y).max() / len(y)
    small = scales < 0.05
    assert (curves["without BN"][small, -1] <= largest_share + 0.01).all()
    assert (curves["with BN"][small, -1] > largest_share + 0.05).all(), curves["with BN"][:, -1]
    # w = 1 without BN explodes; BN keeps every scale finite.
    assert summary["diverged"]["without BN"][0] and not any(summary["diverged"]["with BN"])
