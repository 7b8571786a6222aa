"""Per-step loss curves: the library's compiled epoch with every step's loss kept, against NumPy SGD."""

import jax
import numpy as np

from experiments._curves import loss_curves
from jaxnn import nn, optim, train


def test_loss_curves_match_numpy_sgd_on_softmax_regression():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 4, 20).astype(np.int32)
    model, key, lr, steps, batch = nn.Dense(4, w_init=nn.init.normal(0.5)), jax.random.key(3), 0.5, 6, 5
    curves = loss_curves({"sgd": (model, optim.sgd(lr)), "sgd/10": (model, optim.sgd(lr / 10))}, (x, y), steps,
                         batch, key)
    assert list(curves) == ["sgd", "sgd/10"]
    # The same weights and minibatches the helper draws; the training arithmetic is re-derived in NumPy.
    params = train.create(model, optim.sgd(lr), key, (3,)).params
    batch_key = jax.random.split(key)[1]
    for name, rate in (("sgd", lr), ("sgd/10", lr / 10)):
        w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
        expected = []
        for idx in np.asarray(jax.random.randint(batch_key, (steps, batch), 0, 20)):
            z = x[idx] @ w + b
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            expected.append(-np.log(p[np.arange(batch), y[idx]]).mean())
            dz = (p - np.eye(4)[y[idx]]) / batch
            w, b = w - rate * x[idx].T @ dz, b - rate * dz.sum(0)
        np.testing.assert_allclose(curves[name], expected, rtol=1e-5, err_msg=name)
