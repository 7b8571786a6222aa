"""The weight-decay experiment runs end to end; its vmapped training matches NumPy SGD with an L2 term."""

import json

import jax
import numpy as np

from experiments import mlp, weight_decay
from jaxnn import nn, optim, train


def test_train_together_matches_numpy_sgd_with_weight_decay():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.integers(0, 2, 12).astype(np.int32)
    model, lr, key, lambdas, epochs, batch = nn.Dense(2, w_init=nn.init.normal(0.5)), 0.3, jax.random.key(4), \
        [0.0, 0.5], 3, 4
    history = mlp.train_together(lambda lam: (model, optim.sgd(lr), lam), lambdas, (x, y), epochs, batch, key,
                                 {"train": (train.make_eval_step, (x, y), 12)})
    params = train.create(model, optim.sgd(lr), key, (3,)).params  # the runs' common starting point
    for i, lam in enumerate(lambdas):
        w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
        for epoch in range(epochs):
            for idx in np.asarray(train.epoch_batches(key, epoch, 12, batch)[0]):
                z = x[idx] @ w + b
                p = np.exp(z - z.max(1, keepdims=True))
                dz = (p / p.sum(1, keepdims=True) - np.eye(2)[y[idx]]) / batch
                w, b = w - lr * (x[idx].T @ dz + lam * w), b - lr * dz.sum(0)  # the bias is not decayed
            z = x @ w + b
            log_p = z - z.max(1, keepdims=True)
            log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
            np.testing.assert_allclose(history["train_loss"][i, epoch], -log_p[np.arange(12), y].mean(), rtol=1e-5)


def test_weight_decay_quick(tmp_path):
    weight_decay.main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "weight_decay.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "weight_decay.json").read_text())
    config = summary["config"]
    assert config["lambdas"] == [0.0, 0.1] and config["train_examples"] == 300 and config["batch_size"] == 100
    history = {name: np.asarray(v) for name, v in summary["history"].items()}
    assert all(v.shape == (2, config["epochs"]) and np.isfinite(v).all() for v in history.values())
    assert ((history["train_accuracy"] >= 0) & (history["train_accuracy"] <= 1)).all()
    final = summary["final"]
    assert final["λ = 0.1"]["train_accuracy"] < final["λ = 0"]["train_accuracy"], final
