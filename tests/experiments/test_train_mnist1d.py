"""The single-run baseline trains on the embedded MNIST-1D and reports what it measured."""

import json

import numpy as np

from experiments import train_mnist1d


def test_quick_run_learns_and_writes_its_summary(tmp_path):
    train_mnist1d.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    summary = json.loads((tmp_path / "train_mnist1d.json").read_text())
    assert (tmp_path / "train_mnist1d.png").stat().st_size > 10_000
    assert (summary["train_examples"], summary["test_examples"]) == (4000, 1000)
    assert summary["steps"] == 3 * (4000 // 100)  # 3 quick epochs of batch 100, last partial batch dropped
    history = summary["history"]
    assert history["epoch"] == [1, 2, 3]
    assert np.all(np.diff(history["loss"]) < 0)
    assert summary["final_test_accuracy"] == history["test_accuracy"][-1] > 0.3  # chance is 0.1
