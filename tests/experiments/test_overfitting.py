"""The overfitting setup: rows that differ by a per-row L2 coefficient train as NumPy SGD with weight decay."""

import jax
import numpy as np

from experiments._overfitting import BATCH_SIZE, overfitting
from jaxnn import data, nn, optim, train


def test_rows_train_as_numpy_sgd_with_their_own_l2():
    rng = np.random.default_rng(0)
    n = 2 * BATCH_SIZE + 7  # two minibatches per epoch, a remainder dropped
    split = lambda m: data.Split(rng.normal(size=(m, 3)).astype(np.float32),  # noqa: E731
                                 rng.integers(0, 2, m).astype(np.int32))
    dataset = data.Dataset(split(n), split(9))
    model, lr, key, l2s, epochs = nn.Dense(2, w_init=nn.init.normal(0.5)), 0.3, jax.random.key(4), [0.0, 0.5], 3
    opt = optim.sgd(lr)
    history = overfitting(model, opt, lambda hp: train.make_train_step(model, opt, l2=hp["l2"]), {"l2": l2s},
                          dataset, epochs, key)
    params = train.create(model, opt, key, (3,)).params  # every row's starting point
    for i, l2 in enumerate(l2s):
        w, b = np.asarray(params["w"], np.float64), np.asarray(params["b"], np.float64)
        for epoch in range(epochs):
            for idx in np.asarray(train.epoch_batches(key, epoch, n, BATCH_SIZE)[0]):  # the rows' common order
                x, y = dataset.train.x[idx], dataset.train.y[idx]
                z = x @ w + b
                p = np.exp(z - z.max(1, keepdims=True))
                dz = (p / p.sum(1, keepdims=True) - np.eye(2)[y]) / BATCH_SIZE
                w, b = w - lr * (x.T @ dz + l2 * w), b - lr * dz.sum(0)  # the bias is not decayed
            for name, split_ in (("train", dataset.train), ("test", dataset.test)):
                z = split_.x @ w + b
                log_p = z - z.max(1, keepdims=True)
                log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
                np.testing.assert_allclose(history[f"{name}_loss"][i, epoch],
                                           -log_p[np.arange(len(split_.y)), split_.y].mean(), rtol=1e-5)
                np.testing.assert_allclose(history[f"{name}_accuracy"][i, epoch], (z.argmax(1) == split_.y).mean())
