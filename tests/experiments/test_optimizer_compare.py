"""The optimizer comparison runs end to end, its loss-curve helpers match NumPy, and SGD is the slowest."""

import json

import jax
import numpy as np

from experiments import mlp, optimizer_compare
from jaxnn import nn, optim


def test_smooth_is_a_trailing_moving_average():
    curve = np.random.default_rng(0).normal(size=37)
    expected = [curve[max(0, i - 4): i + 1].mean() for i in range(len(curve))]
    np.testing.assert_allclose(mlp.smooth(curve, 5), expected, rtol=1e-12)


def test_loss_curves_match_numpy_sgd_on_softmax_regression():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 4, 20).astype(np.int32)
    model, key, lr, steps, batch = nn.Dense(4, w_init=nn.init.normal(0.5)), jax.random.key(3), 0.5, 6, 5
    curves = mlp.loss_curves({"sgd": (model, optim.sgd(lr))}, x, y, steps, batch, key)
    # The same weights and minibatches the helper draws; the training arithmetic is re-derived in NumPy.
    init_key, batch_key = jax.random.split(key)
    params, _ = model.init(init_key, (3,))
    w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
    expected = []
    for idx in np.asarray(jax.random.randint(batch_key, (steps, batch), 0, 20)):
        z = x[idx] @ w + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        expected.append(-np.log(p[np.arange(batch), y[idx]]).mean())
        dz = (p - np.eye(4)[y[idx]]) / batch
        w, b = w - lr * x[idx].T @ dz, b - lr * dz.sum(0)
    np.testing.assert_allclose(curves["sgd"], expected, rtol=1e-5)


def test_optimizer_compare_quick(tmp_path):
    optimizer_compare.main(["--quick", "--out", str(tmp_path)])
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
