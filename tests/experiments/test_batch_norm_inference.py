"""The BN-inference experiment runs end to end; batch-statistics evaluation matches a NumPy forward pass."""

import json

import jax
import numpy as np

from experiments import batch_norm_inference, mlp
from jaxnn import nn, optim, train


def test_batch_stats_eval_normalises_with_the_batch_itself():
    model = mlp.mlp(1, 3, nn.init.normal(0.7), batch_norm=True, hidden=4)
    ts = train.create(model, optim.sgd(0.1), jax.random.key(0), (5,))
    # Running statistics far from the batch's: a step that used them would give a different answer.
    ts = ts._replace(model_state={"1": {"mean": np.full(4, 3.0, np.float32), "var": np.full(4, 9.0, np.float32)}})
    x = np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32)
    y = np.arange(8, dtype=np.int32) % 3
    metrics = mlp.make_batch_stats_eval(model)(ts, (x, y))
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), ts.params)
    h = x @ p["0"]["w"] + p["0"]["b"]
    h = (h - h.mean(0)) / np.sqrt(h.var(0) + mlp.BN_EPS) * p["1"]["gamma"] + p["1"]["beta"]
    z = np.maximum(h, 0) @ p["3"]["w"] + p["3"]["b"]
    log_p = z - z.max(1, keepdims=True) - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
    np.testing.assert_allclose(metrics["loss"], -log_p[np.arange(8), y].mean(), rtol=1e-5)
    np.testing.assert_allclose(metrics["accuracy"], (z.argmax(1) == y).mean())


def test_batch_norm_inference_quick(tmp_path):
    batch_norm_inference.main(["--quick", "--out", str(tmp_path)])
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
