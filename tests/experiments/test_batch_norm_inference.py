"""The BN-inference experiment runs end to end: momentum changes only the running statistics."""

import json

import numpy as np

from experiments import batch_norm_inference


def test_batch_norm_inference_quick(tmp_path):
    batch_norm_inference.main(["--no-cache", "--quick", "--out", str(tmp_path)])
    assert (tmp_path / "batch_norm_inference.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "batch_norm_inference.json").read_text())
    config = summary["config"]
    assert config["momenta"] == [0.0, 0.5, 0.9, 0.99, 0.999] and config["test_batches"] == [100, 10]
    history = {name: np.asarray(v) for name, v in summary["history"].items()}
    assert all(v.shape == (5, config["epochs"]) and np.isfinite(v).all() for v in history.values())
    # Training normalises with batch statistics only, so the momentum changes nothing but the running
    # statistics: every run learns the same weights and evaluates the same with batch statistics.
    for size in config["test_batches"]:
        loss = history[f"batch{size}_loss"]
        np.testing.assert_allclose(loss, np.broadcast_to(loss[0], loss.shape), rtol=1e-5)
    # m = 0.999 keeps ~96% of the initial mean 0 / variance 1 after 40 updates: its running statistics are
    # wrong and its test loss is the worst, clearly above m = 0.9's and the batch-statistics loss.
    final_loss = history["running_loss"][:, -1]
    assert final_loss[4] == final_loss.max()
    assert final_loss[4] > final_loss[2] + 0.05 and final_loss[4] > history["batch100_loss"][0, -1] + 0.05
