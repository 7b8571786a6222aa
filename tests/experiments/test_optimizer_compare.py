"""The optimizer comparison runs end to end and SGD is the slowest."""

import json

import numpy as np

from experiments import optimizer_compare


def test_optimizer_compare_quick(tmp_path):
    optimizer_compare.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "optimizer_compare.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "optimizer_compare.json").read_text())
    config = summary["config"]
    names = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "AdaDelta", "Adam", "AMSGrad"]
    assert list(summary["loss"]) == names and list(config["optimizers"]) == names
    assert config["batch_size"] == 128 and config["input_width"] == 40
    assert config["optimizers"]["Adam"]["lr"] == np.float32(1e-3)
    curves = {name: np.asarray(c) for name, c in summary["loss"].items()}
    assert all(c.shape == (config["iterations"],) and np.isfinite(c).all() for c in curves.values())
    # Same weights and same first batch: every optimizer's first loss is the same number, about log 10.
    first = [c[0] for c in curves.values()]
    np.testing.assert_allclose(first, first[0], rtol=1e-6)
    # SGD is the slowest: every other optimizer ends lower (by > 0.3 on MNIST-1D after 100 steps).
    final = summary["final_loss"]
    assert all(final[name] < final["SGD"] - 0.2 for name in names[1:]), final
